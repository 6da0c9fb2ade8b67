// Core issue() throughput next to the raw Signer.sign rate of the same key, measured in the same
// run (issue #2). Prints ratios so the figures hold on a noisy machine. Loopback only, bounded.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { rate as measureRate } from './lib/rate.mjs';

const dist = new URL('../../dist/', import.meta.url);
const { SqliteStore } = await import(new URL('store/index.js', dist));
const { AuditLog } = await import(new URL('audit/index.js', dist));
const core = await import(new URL('core/index.js', dist));
const keys = await import(new URL('keys/index.js', dist));
const { loadProfiles } = await import(new URL('profiles/index.js', dist));
const { parseCsr } = await import(new URL('pki/index.js', dist));

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const tmp = mkdtempSync(join(tmpdir(), 'flintca-bench-'));
const silent = pino({ level: 'silent' });
const profiles = loadProfiles(new URL('../../profiles/', import.meta.url).pathname);

function csrFor(name) {
  const key = join(tmp, `${name}.key`);
  const csr = join(tmp, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-outform', 'DER', '-out', csr], { stdio: 'ignore' });
  return readFileSync(csr);
}

/** Runs `fn` with `inFlight` concurrent loops for `seconds`; returns operations per second. */
const rate = (fn, inFlight, seconds = SECONDS) => measureRate(fn, inFlight, seconds);

async function setup(name, keyStore, keyType) {
  const store = SqliteStore.open(join(tmp, `${name}.db`));
  const audit = new AuditLog(store.audit, silent);
  const deps = { store, keys: keyStore, audit, clock: () => new Date(), random: (n) => randomBytes(n) };
  const urls = core.publicUrls('http://localhost:8080');
  await core.createRootCa(deps, { id: 'root', keyLabel: `${name}-root`, keyType, subject: [{ type: 'CN', value: 'Bench Root' }], validityDays: 3650, actor: 'bench' });
  let issuers = await core.IssuerRegistry.load(store.cas, keyStore);
  await core.createSubordinateCa(deps, issuers, urls, 'root', { id: 'issuing', keyLabel: `${name}-issuing`, keyType, subject: [{ type: 'CN', value: 'Bench Issuing' }], validityDays: 1825, actor: 'bench' });
  issuers = await core.IssuerRegistry.load(store.cas, keyStore);
  const authority = new core.Authority({ store, audit, issuers, profiles, defaultIssuer: 'issuing', urls, clock: () => new Date(), random: (n) => randomBytes(n) });
  return { store, authority, signer: issuers.get('issuing').signer };
}

const fmt = (n) => n.toFixed(0).padStart(7);
const rows = [];
async function measure(label, keyStore, keyType) {
  const { store, authority, signer } = await setup(label.replace(/\W+/g, '-'), keyStore, keyType);
  const csr = csrFor('bench.test.internal');
  const tbs = randomBytes(700); // about the size of a leaf TBS
  await authority.issue({ csr, profile: 'tls-server', protocol: 'cli', requester: 'bench' }); // warm-up
  for (const inFlight of [1, 8]) {
    const sign = await rate(() => signer.sign(tbs), inFlight);
    const issue = await rate(() => authority.issue({ csr, profile: 'tls-server', protocol: 'cli', requester: 'bench' }), inFlight);
    // The same pipeline from an already parsed and proven CSR (what the CSR parse + PoP check cost).
    const parsedCsr = parseCsr(csr);
    const issueParsed = await rate(() => authority.issue({ csr: parsedCsr, trustedKey: true, profile: 'tls-server', protocol: 'cli', requester: 'bench' }), inFlight);
    rows.push({ label, inFlight, sign, issue, ratio: issue / sign });
    console.log(`${label.padEnd(18)} in flight ${inFlight}: raw sign ${fmt(sign)}/s  issue() ${fmt(issue)}/s (${(100 * issue / sign).toFixed(0)}%)  issue() w/o CSR parse+PoP ${fmt(issueParsed)}/s (${(100 * issueParsed / sign).toFixed(0)}%)`);
  }
  await store.close();
  return { authority, csr };
}

console.log(`# core issue() vs raw Signer.sign (${SECONDS}s per figure, SQLite store, tls-server profile)`);
const token = await keys.createSoftHsmToken({ dir: join(tmp, 'hsm'), label: 'bench', pin: '1234', soPin: '5678' });
process.env.SOFTHSM2_CONF = token.confPath;
const hsm = await keys.Pkcs11KeyStore.open({ tokenLabel: 'bench', pin: '1234' });
await measure('SoftHSM P-256', hsm, 'P-256');
await measure('SoftHSM RSA-2048', hsm, 'RSA-2048');
const soft = await keys.SoftwareKeyStore.open({ dir: join(tmp, 'soft'), passphrase: 'bench-passphrase' });
await measure('software P-256', soft, 'P-256');

// Memory after 10k issuances (software P-256, 8 in flight).
{
  const { store, authority } = await setup('rss', soft, 'P-256');
  const csr = csrFor('rss.test.internal');
  let left = 10_000;
  const loop = async () => {
    while (left-- > 0) await authority.issue({ csr, profile: 'tls-server', protocol: 'cli', requester: 'bench' });
  };
  await Promise.all(Array.from({ length: 8 }, loop));
  globalThis.gc?.();
  const rss = process.memoryUsage().rss / 1048576;
  console.log(`RSS after 10k issuances: ${rss.toFixed(0)} MB (target < 200 MB)`);
  await store.close();
}
await hsm.close();
await soft.close();
rmSync(tmp, { recursive: true, force: true });
