// SCEP PKIOperation enrollments/s at 8 concurrent over HTTP keep-alive (issue #5), with the RSA-2048
// RA key in SoftHSM (P-256 issuing CA → RA path), next to the limit implied by raw RSA-2048
// private-key operations of the same RA key measured in the same run: an enrollment costs one RSA
// decrypt (key transport) and one RSA sign (CertRep) with the RA key, plus the certificate's
// P-256 signature by the issuing CA. Requests are built in-process beforehand (pki writers from
// dist/, node:crypto device key), each with a fresh transactionID and senderNonce.
import { execFileSync, spawn } from 'node:child_process';
import { constants, generateKeyPairSync, publicEncrypt, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 8);
const dist = (p) => new URL(`../../dist/${p}`, import.meta.url);
const BIN = dist('cli/main.js').pathname;
const { openRuntime } = await import(dist('cli/runtime.js'));
const { buildEnvelope, buildSignedMessage, octetsAttr, printableAttr } = await import(dist('pki/cms-write.js'));
const tmp = mkdtempSync(join(tmpdir(), 'flintca-bench-scep-'));
const data = join(tmp, 'data');
const PW = 'bench-scep-challenge';
const freePort = () => new Promise((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });

async function rate(fn, inFlight, seconds = SECONDS) {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => { while (performance.now() < end) { await fn(); n++; } }));
  return n / ((performance.now() - t0) / 1000);
}

execFileSync(process.execPath, [BIN, 'init', '--data', data, '--hsm', 'softhsm', '--scep-challenge', PW], { stdio: 'ignore' });

// Raw RSA-2048 private-key operations of the RA key, through the same key store, 8 in flight.
const rt = await openRuntime(data, { logger: pino({ level: 'silent' }) });
const ra = await rt.keys.find('scep-ra');
const dec = await rt.keys.decrypter(ra.keyUri);
const tbs = randomBytes(300);
const ct = publicEncrypt({ key: ra.publicKeyObject, padding: constants.RSA_PKCS1_PADDING }, randomBytes(32));
const rawSign = await rate(() => ra.sign(tbs, 'rsa-pkcs1-sha256'), INFLIGHT);
const rawDecrypt = await rate(() => dec.decrypt(ct), INFLIGHT);
await rt.close();
const raCertDer = Buffer.from(readFileSync(join(data, 'ca/scep-ra.crt'), 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');

// The device: RSA key, self-signed signer certificate and CSR with the challenge (openssl).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
writeFileSync(join(tmp, 'dev.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(join(tmp, 'req.cnf'), `[req]\nprompt=no\ndistinguished_name=dn\nattributes=attr\n[dn]\nCN=bench-device\n[attr]\nchallengePassword=${PW}\n`);
execFileSync('openssl', ['req', '-new', '-config', join(tmp, 'req.cnf'), '-key', join(tmp, 'dev.key'), '-outform', 'DER', '-out', join(tmp, 'dev.csr')], { stdio: 'ignore' });
execFileSync('openssl', ['req', '-x509', '-key', join(tmp, 'dev.key'), '-subj', '/CN=bench-device signer', '-days', '1', '-outform', 'DER', '-out', join(tmp, 'self.der')], { stdio: 'ignore' });
const csr = readFileSync(join(tmp, 'dev.csr'));
const self = readFileSync(join(tmp, 'self.der'));

let txn = 0;
async function message() {
  return buildSignedMessage({
    content: buildEnvelope(csr, raCertDer, 'aes-256-cbc'),
    certificates: [self],
    signerCertDer: self,
    digest: 'sha256',
    attributes: [printableAttr('2.16.840.1.113733.1.9.2', '19'), printableAttr('2.16.840.1.113733.1.9.7', `bench-${process.pid}-${++txn}`), octetsAttr('2.16.840.1.113733.1.9.5', randomBytes(16))],
    signingTime: new Date(),
    sign: async (attrs) => sign('sha256', attrs, { key: privateKey, padding: constants.RSA_PKCS1_PADDING }),
  });
}
const expected = Math.ceil(Math.min(rawSign, rawDecrypt) / 2 * SECONDS * 1.5) + 50;
const messages = [];
for (let i = 0; i < expected; i++) messages.push(await message());

const [httpPort, httpsPort] = [await freePort(), await freePort()];
const srv = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), BIN, 'serve', '--data', data, '--host', '127.0.0.1', '--http-port', String(httpPort), '--https-port', String(httpsPort)], { stdio: 'ignore', env: { ...process.env, FLINTCA_LOG_LEVEL: 'warn' } });
for (let i = 0; i < 150; i++) { try { if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }

const agent = new Agent({ keepAlive: true, maxSockets: INFLIGHT });
// pkiStatus without parsing the CertRep (keeps the load generator's CPU out of the measurement):
// Attribute { OID 2.16.840.1.113733.1.9.3, SET { PrintableString "0" } } → the byte after 31 03 13 01.
const PKI_STATUS_OID = Buffer.from('060a6086480186f84501090331031301', 'hex');
const pkiStatus = (der) => { const i = der.indexOf(PKI_STATUS_OID); return i < 0 ? -1 : der[i + PKI_STATUS_OID.length]; };
let next = 0;
let failures = 0;
function enroll() {
  const body = messages[next++ % messages.length];
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: httpPort, path: '/scep?operation=PKIOperation', method: 'POST', agent, headers: { 'Content-Type': 'application/x-pki-message', 'Content-Length': body.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        if (pkiStatus(Buffer.concat(chunks)) !== 0x30) failures++;
        resolve();
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
try {
  await enroll();
  next = 1;
  const enrollRate = await rate(enroll, INFLIGHT);
  const rsaOps = Math.min(rawSign, rawDecrypt);
  const limit2 = rsaOps / 2;
  console.log(`# SCEP PKCSReq over HTTP keep-alive, ${INFLIGHT} concurrent (${SECONDS}s each); RA key RSA-2048 in SoftHSM, issuing CA P-256`);
  console.log(`raw RA key ops:   sign ${rawSign.toFixed(0)}/s, decrypt ${rawDecrypt.toFixed(0)}/s (${INFLIGHT} in flight)`);
  console.log(`enrollments:      ${enrollRate.toFixed(0)}/s${failures ? ` (${failures} non-SUCCESS answers!)` : ''}`);
  console.log(`limit (1 decrypt + 1 CertRep sign per enrollment): ${limit2.toFixed(0)}/s → ${((100 * enrollRate) / limit2).toFixed(0)}% (target >= 50%)`);
  console.log(`limit counting the certificate signature as a 3rd op: ${(rsaOps / 3).toFixed(0)}/s → ${((100 * enrollRate) / (rsaOps / 3)).toFixed(0)}%`);
} finally {
  srv.kill('SIGTERM');
  await new Promise((r) => srv.once('exit', r));
  rmSync(tmp, { recursive: true, force: true });
}
