// Child process of the CRL benchmark (lib/crl.mjs), so each step's memory is its own:
//   fill DIR N  — a real SQLite store DIR/crl.db with the CA record and N revoked certificates
//                 (through the store API), and the same entries as openssl's DIR/index.txt;
//   gen DIR     — one full CRL through Flint's CrlService (store read, build, sign with the CA key
//                 in a software key store, save, audit); prints JSON with time, size and RSS.
import { createPrivateKey, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';

const ROOT = new URL('../../../', import.meta.url).pathname;
const dist = (p) => import(new URL(`dist/${p}`, `file://${ROOT}`));
const [{ SqliteStore }, { SoftwareKeyStore }, { IssuerRegistry }, { parseCertificate }, { CrlService }, { AuditLog }] = await Promise.all([
  dist('store/index.js'),
  dist('keys/index.js'),
  dist('core/issuers.js'),
  dist('pki/certificate.js'),
  dist('revocation/crl/service.js'),
  dist('audit/log.js'),
]);

const KEY_PASS = 'bench-only-throwaway-passphrase'; // the key file lives in the bench's temp dir only
const CA = 'issuing';
const [mode, dir, n] = process.argv.slice(2);
const REASONS = [null, 1, 4, 5, 3]; // unspecified (no extension), keyCompromise, superseded, cessationOfOperation, affiliationChanged
const REASON_NAMES = { 1: 'keyCompromise', 3: 'affiliationChanged', 4: 'superseded', 5: 'cessationOfOperation' };
const yy = (d) => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
const stamps = new Map();
const stamp = (d) => stamps.get(d.getTime()) ?? (stamps.set(d.getTime(), yy(d)), stamps.get(d.getTime()));

async function fill(count) {
  const store = SqliteStore.open(join(dir, 'crl.db'));
  // openssl's CA key, stored the way Flint's software key store keeps keys (encrypted PKCS#8).
  mkdirSync(join(dir, 'keys'), { recursive: true });
  const pem = createPrivateKey(readFileSync(join(dir, 'ca.key'))).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: KEY_PASS });
  writeFileSync(join(dir, 'keys', `${CA}.key.pem`), pem, { mode: 0o600 });
  const keys = await SoftwareKeyStore.open({ dir: join(dir, 'keys'), passphrase: KEY_PASS });
  const signer = await keys.find(CA);
  const cert = parseCertificate(readFileSync(join(dir, 'ca.pem'), 'utf8'));
  await store.cas.upsert({ id: CA, parentId: null, keyUri: signer.keyUri, certDer: cert.der, subject: 'CN=CRL Bench CA', ski: cert.subjectKeyId.toString('hex'), notBefore: cert.notBefore, notAfter: cert.notAfter, status: 'active', createdAt: new Date() });
  const index = createWriteStream(join(dir, 'index.txt'));
  const now = Math.floor(Date.now() / 1000) * 1000;
  const notAfter = new Date(now + 365 * 86_400_000);
  const end = yy(notAfter);
  const der = randomBytes(64); // a stand-in: CRL generation reads only the covering index certificates_revoked, never the row
  const CHUNK = 10_000; // one group commit per chunk
  for (let done = 0; done < count; done += CHUNK) {
    const size = Math.min(CHUNK, count - done);
    const serials = randomBytes(16 * size);
    const batch = [];
    let lines = '';
    for (let j = 0; j < size; j++) {
      const i = done + j;
      // Positive, no leading zero octet, increasing (B-tree appends: a random order makes SQLite spill
      // its page cache on every insert and the fill alone take minutes); random below the counter.
      serials[16 * j] = 0x10;
      serials.writeUInt32BE(i, 16 * j + 1);
      const serial = serials.toString('hex', 16 * j, 16 * j + 16);
      const revokedAt = new Date(now - (i % 3600) * 1000);
      const reason = REASONS[i % REASONS.length];
      batch.push(store.certificates.insert({ serial, issuerId: CA, subject: `CN=r${i}`, sans: [], notBefore: new Date(now - 86_400_000), notAfter, profile: 'bench', requester: 'bench', protocol: 'cli', status: 'revoked', revokedAt, revocationReason: reason, der, createdAt: revokedAt, replaces: null }));
      lines += `R\t${end}\t${stamp(revokedAt)}${reason ? ',' + REASON_NAMES[reason] : ''}\t${serial.toUpperCase()}\tunknown\t/CN=r${i}\n`;
    }
    await Promise.all(batch);
    if (!index.write(lines)) await new Promise((r) => index.once('drain', r));
  }
  await new Promise((r) => index.end(r));
  await store.close();
}

async function gen() {
  const store = SqliteStore.open(join(dir, 'crl.db'));
  const keys = await SoftwareKeyStore.open({ dir: join(dir, 'keys'), passphrase: KEY_PASS });
  const issuers = await IssuerRegistry.load(store.cas, keys);
  const logger = pino({ level: 'silent' });
  const crl = new CrlService({ issuers, store, audit: new AuditLog(store.audit, logger), clock: () => new Date(), logger });
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const out = await crl.generate(CA);
  const ms = performance.now() - t0;
  const peakRss = process.resourceUsage().maxRSS * 1024;
  writeFileSync(join(dir, 'flint.crl'), out.der);
  await crl.close();
  await store.close();
  console.log(JSON.stringify({ ms, size: out.der.length, rssBefore, peakRss }));
}

if (mode === 'fill') await fill(Number(n));
else if (mode === 'gen') await gen();
else throw new Error(`usage: crl-child.mjs fill DIR N | gen DIR`);
