// EST simpleenroll/s over HTTPS with keep-alive, 8 concurrent, with TLS client-cert auth and with
// HTTP Basic, each next to core issue() measured in the same run on the same data dir (issue #4).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const BIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const { openRuntime } = await import(new URL('../../dist/cli/runtime.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'flintca-bench-est-'));
const data = join(tmp, 'data');
const PW = 'bench-est-password';
const freePort = () => new Promise((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });

execFileSync(process.execPath, [BIN, 'init', '--data', data, '--hsm', process.env.BENCH_HSM ?? 'softhsm', '--est-password', PW], { stdio: 'ignore' });
execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tmp, 'dev.key'), '-subj', '/CN=bench-device', '-outform', 'DER', '-out', join(tmp, 'dev.der')], { stdio: 'ignore' });
const csrDer = readFileSync(join(tmp, 'dev.der'));
const body = csrDer.toString('base64');

async function rate(fn, inFlight) {
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => { while (performance.now() < end) { await fn(); n++; } }));
  return n / ((performance.now() - t0) / 1000);
}

// Core baseline: issue() in this process against the same key store and profile.
const rt = await openRuntime(data, { logger: pino({ level: 'silent' }) });
const core = await rate(() => rt.authority.issue({ csr: csrDer, profile: 'device', protocol: 'est', requester: 'bench' }), 8);
const clientCert = (await rt.authority.issue({ csr: csrDer, profile: 'device', protocol: 'cli', requester: 'bench' })).pem;
await rt.close();

const [httpPort, httpsPort] = [await freePort(), await freePort()];
const srv = spawn(process.execPath, [BIN, 'serve', '--data', data, '--host', '127.0.0.1', '--http-port', String(httpPort), '--https-port', String(httpsPort)], { stdio: 'ignore', env: { ...process.env, FLINTCA_LOG_LEVEL: 'warn' } });
for (let i = 0; i < 100; i++) { try { if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }

const ca = readFileSync(join(data, 'ca/root.crt'));
function enroll(agent, headers) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port: httpsPort, path: '/.well-known/est/simpleenroll', method: 'POST', agent, headers: { 'Content-Type': 'application/pkcs10', 'Content-Length': Buffer.byteLength(body), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
try {
  const certAgent = new Agent({ keepAlive: true, maxSockets: 8, ca, cert: clientCert, key: readFileSync(join(tmp, 'dev.key')) });
  const basicAgent = new Agent({ keepAlive: true, maxSockets: 8, ca });
  const basic = { Authorization: 'Basic ' + Buffer.from(`est:${PW}`).toString('base64') };
  await enroll(certAgent, {});
  await enroll(basicAgent, basic);
  const withCert = await rate(() => enroll(certAgent, {}), 8);
  const withBasic = await rate(() => enroll(basicAgent, basic), 8);
  const pct = (x) => `${((100 * x) / core).toFixed(0)}%`;
  console.log(`# EST simpleenroll over HTTPS keep-alive, 8 concurrent (${SECONDS}s each); core issue() baseline ${core.toFixed(0)}/s`);
  console.log(`client-cert auth: ${withCert.toFixed(0)}/s (${pct(withCert)} of core issue(); target >= 40%)`);
  console.log(`HTTP Basic:       ${withBasic.toFixed(0)}/s (${pct(withBasic)} of core issue(); verified credentials cached, no scrypt per request)`);
} finally {
  srv.kill('SIGTERM');
  await new Promise((r) => srv.once('exit', r));
  rmSync(tmp, { recursive: true, force: true });
}
