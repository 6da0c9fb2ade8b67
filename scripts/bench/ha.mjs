// High availability (issue 7): core issue() per second on PostgreSQL next to SQLite in the same run
// (one node), then two node processes against one PostgreSQL database next to one. On a 2-core
// machine the second figure measures contention (two processes share the CPUs with PostgreSQL
// and SoftHSM), not scale: README "Running highly available" says what to expect on a cluster.
//
// PostgreSQL here is a throwaway cluster started by this script with default durability
// (fsync on, synchronous_commit on) — unlike the test helper, which turns fsync off. Loopback only.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { rate } from './lib/rate.mjs';

const dist = new URL('../../dist/', import.meta.url);
const { openStore } = await import(new URL('cli/runtime.js', dist));
const { AuditLog } = await import(new URL('audit/index.js', dist));
const core = await import(new URL('core/index.js', dist));
const keys = await import(new URL('keys/index.js', dist));
const { loadProfiles } = await import(new URL('profiles/index.js', dist));

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const IN_FLIGHT = 8;
const silent = pino({ level: 'silent' });
const profiles = loadProfiles(new URL('../../profiles/', import.meta.url).pathname);
const PIN = '1234';

/** `openStore` takes a Config; these two fields are all it reads. */
const storeAt = (databaseUrl, dir) => openStore({ databaseUrl, path: (p) => join(dir, p) });

async function authorityOn(store, keyStore) {
  const audit = new AuditLog(store.audit, silent);
  const issuers = await core.IssuerRegistry.load(store.cas, keyStore);
  const authority = new core.Authority({ store, audit, issuers, profiles, defaultIssuer: 'issuing', urls: core.publicUrls('http://localhost:8080'), clock: () => new Date(), random: (n) => randomBytes(n) });
  return { authority, audit };
}

const issueOnce = (authority, csr) => () => authority.issue({ csr, profile: 'tls-server', protocol: 'cli', requester: 'bench' });

// ── worker mode: one "node" process issuing against a shared PostgreSQL database ─────────────
if (process.argv[2] === '--node') {
  const [, , , url, softhsmConf, csrFile, startAt, seconds] = process.argv;
  process.env.SOFTHSM2_CONF = softhsmConf;
  const store = await storeAt(url, tmpdir());
  const keyStore = await keys.Pkcs11KeyStore.open({ tokenLabel: 'bench', pin: PIN });
  const { authority } = await authorityOn(store, keyStore);
  const csr = readFileSync(csrFile);
  await rate(issueOnce(authority, csr), IN_FLIGHT, 1); // warm-up (JIT, pool, sessions)
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
  const perSecond = await rate(issueOnce(authority, csr), IN_FLIGHT, Number(seconds));
  process.stdout.write(JSON.stringify({ perSecond }) + '\n');
  await store.close();
  await keyStore.close();
  process.exit(0);
}

// ── a throwaway PostgreSQL cluster with default durability ─────────────────────────────────
function pgBin() {
  const base = '/usr/lib/postgresql';
  const v = existsSync(base) ? readdirSync(base).filter((d) => existsSync(join(base, d, 'bin/initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (!v.length) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  return join(base, v[0], 'bin');
}
const asPg = (cmd, args) => {
  const root = userInfo().uid === 0; // initdb refuses root: run as Debian's postgres user
  const r = root ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8', timeout: 60_000 }) : spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
};
const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });

async function startCluster(dir) {
  const bin = pgBin();
  chmodSync(dir, 0o700);
  if (userInfo().uid === 0) {
    const id = (f) => Number(execFileSync('id', [f, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  asPg(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'flint', '-E', 'UTF8']);
  asPg(join(bin, 'pg_ctl'), ['-D', data, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
  return { url: `postgres://flint@127.0.0.1:${port}/postgres`, stop: () => asPg(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']) };
}

// ── main ────────────────────────────────────────────────────────────────────────────────────
const tmp = mkdtempSync(join(tmpdir(), 'flintca-bench-ha-'));
const pgDir = mkdtempSync(join(tmpdir(), 'flintca-bench-pg-'));
let cluster;
try {
  const token = await keys.createSoftHsmToken({ dir: join(tmp, 'hsm'), label: 'bench', pin: PIN, soPin: '5678' });
  process.env.SOFTHSM2_CONF = token.confPath;
  const hsm = await keys.Pkcs11KeyStore.open({ tokenLabel: 'bench', pin: PIN });
  cluster = await startCluster(pgDir);
  const csrFile = join(tmp, 'bench.csr');
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tmp, 'bench.key'), '-subj', '/CN=bench.test.internal', '-addext', 'subjectAltName=DNS:bench.test.internal', '-outform', 'DER', '-out', csrFile], { stdio: 'ignore' });
  const csr = readFileSync(csrFile);

  // One CA hierarchy per store, keys in the same SoftHSM token.
  const stores = {};
  for (const [name, url] of [['SQLite', 'sqlite:bench.db'], ['PostgreSQL', cluster.url]]) {
    const store = await storeAt(url, tmp);
    const audit = new AuditLog(store.audit, silent);
    const deps = { store, keys: hsm, audit, clock: () => new Date(), random: (n) => randomBytes(n) };
    const tag = name.toLowerCase();
    await core.createRootCa(deps, { id: 'root', keyLabel: `${tag}-root`, keyType: 'P-256', subject: [{ type: 'CN', value: 'Bench Root' }], validityDays: 3650, actor: 'bench' });
    const reg = await core.IssuerRegistry.load(store.cas, hsm);
    await core.createSubordinateCa(deps, reg, core.publicUrls('http://localhost:8080'), 'root', { id: 'issuing', keyLabel: `${tag}-issuing`, keyType: 'P-256', subject: [{ type: 'CN', value: 'Bench Issuing' }], validityDays: 1825, actor: 'bench' });
    await audit.close();
    const { authority } = await authorityOn(store, hsm);
    await issueOnce(authority, csr)(); // warm-up
    stores[name] = { store, authority };
  }

  console.log(`# core issue() on PostgreSQL vs SQLite, one node (${SECONDS}s per figure, SoftHSM P-256, tls-server profile; PostgreSQL ${cluster.url.replace(/\/\/[^@]*@/, '//')} with fsync on)`);
  for (const inFlight of [1, IN_FLIGHT]) {
    // Interleaved twice (S P S P), best of each: the machine is shared and noisy.
    const best = { SQLite: 0, PostgreSQL: 0 };
    for (let round = 0; round < 2; round++) {
      for (const name of ['SQLite', 'PostgreSQL']) best[name] = Math.max(best[name], await rate(issueOnce(stores[name].authority, csr), inFlight, SECONDS));
    }
    console.log(`in flight ${String(inFlight).padStart(2)}: SQLite ${best.SQLite.toFixed(0).padStart(6)}/s  PostgreSQL ${best.PostgreSQL.toFixed(0).padStart(6)}/s  PostgreSQL/SQLite ${(best.PostgreSQL / best.SQLite).toFixed(2)}`);
  }
  for (const s of Object.values(stores)) await s.store.close();
  await hsm.close();

  // Separate node processes on the PostgreSQL database, started on a common clock.
  const nodes = async (n) => {
    const startAt = Date.now() + 5000; // time for every process to open the store and the token, and warm up
    const runs = Array.from({ length: n }, () => new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [new URL(import.meta.url).pathname, '--node', cluster.url, token.confPath, csrFile, String(startAt), String(SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out).perSecond) : reject(new Error(`node process exited ${code}`))));
    }));
    const rates = await Promise.all(runs);
    return rates.reduce((a, b) => a + b, 0);
  };
  // Interleaved (1 2 1 2), best of each.
  let one = 0;
  let two = 0;
  for (let round = 0; round < 2; round++) {
    one = Math.max(one, await nodes(1));
    two = Math.max(two, await nodes(2));
  }
  console.log(`# ${IN_FLIGHT} in flight per node process, one PostgreSQL database (interleaved, best of 2 each)`);
  console.log(`1 node : ${one.toFixed(0).padStart(6)}/s`);
  console.log(`2 nodes: ${two.toFixed(0).padStart(6)}/s  2 nodes/1 node ${(two / one).toFixed(2)}  — ${availableParallelism()} CPU cores shared by both nodes, PostgreSQL and SoftHSM: contention, not scale`);
} finally {
  try {
    cluster?.stop();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(pgDir, { recursive: true, force: true });
  }
}
