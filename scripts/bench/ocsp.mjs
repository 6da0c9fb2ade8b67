// OCSP responder throughput through a real `flintca serve` (file keys, loopback, bounded time):
// nonce-less POST (pre-signed cache, RFC 5019), GET form, and nonce POST (signed live per request),
// all keep-alive. Baseline: `openssl ocsp -index ... -port` for the same CA and serial with its own
// P-256 responder key (openssl has no cache: every response is signed), single process. openssl
// answers HTTP/1.0 without keep-alive, so Flint is also measured without keep-alive for a like ratio.
// Issue 6. BENCH_SECONDS (default 5) per scenario. Uses autocannon (dev dependency).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'flintca-bench-ocsp-'));
const data = join(tmp, 'data');
const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

let server;
let baseline;
const stop = async (p) => { if (p && p.exitCode === null && p.signalCode === null) { p.kill('SIGTERM'); await new Promise((r) => p.once('exit', r)); } };
const waitPort = async (port) => {
  for (let i = 0; ; i++) {
    const ok = await new Promise((res) => { const s = createConnection(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); res(true); }); s.once('error', () => res(false)); });
    if (ok) return;
    if (i > 100) throw new Error(`nothing listening on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};
const bench = async (base, req) => {
  const r = await autocannon({ url: base, connections: 32, duration: SECONDS, requests: [{ ...req, headers: { 'content-type': 'application/ocsp-request' } }] });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
};
// openssl's responder answers HTTP/1.0 and closes every connection (no keep-alive), which autocannon
// does not measure: a plain loop with one connection per request, 32 in flight, bounded time.
const closeBench = async (port, req) => {
  const lat = [];
  let non2xx = 0;
  let errors = 0;
  const until = performance.now() + SECONDS * 1000;
  const one = () => new Promise((res) => {
    const t = performance.now();
    const r = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.path, agent: false, headers: { 'content-type': 'application/ocsp-request', ...(req.body ? { 'content-length': req.body.length } : {}) } }, (resp) => {
      resp.resume();
      resp.on('end', () => { if (resp.statusCode !== 200) non2xx++; lat.push(performance.now() - t); res(); });
    });
    r.setTimeout(2000, () => r.destroy(new Error('timeout')));
    r.on('error', () => { errors++; res(); });
    r.end(req.body);
  });
  await Promise.all(Array.from({ length: 32 }, async () => { while (performance.now() < until) await one(); }));
  lat.sort((a, b) => a - b);
  const q = (x) => Math.round(lat[Math.min(lat.length - 1, Math.floor(x * lat.length))] ?? 0);
  return { rps: lat.length / SECONDS, p50: q(0.5), p99: q(0.99), non2xx, errors };
};
const line = (name, r) => console.log(`${name.padEnd(40)} ${Math.round(r.rps).toString().padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors}`);
try {
  sh(process.execPath, [BIN, 'init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1']);
  sh('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tmp, 'l.key'), '-subj', '/CN=bench.test.internal', '-addext', 'subjectAltName=DNS:bench.test.internal', '-out', join(tmp, 'l.csr')]);
  sh(process.execPath, [BIN, 'issue', '--data', data, '--csr', join(tmp, 'l.csr'), '--profile', 'tls-server', '--out', join(tmp, 'leaf.pem')]);
  const issuing = join(data, 'ca/issuing.crt');
  sh('openssl', ['ocsp', '-issuer', issuing, '-cert', join(tmp, 'leaf.pem'), '-no_nonce', '-reqout', join(tmp, 'plain.der')]);
  sh('openssl', ['ocsp', '-issuer', issuing, '-cert', join(tmp, 'leaf.pem'), '-nonce', '-reqout', join(tmp, 'nonce.der')]);
  const port = await freePort();
  server = spawn(process.execPath, [BIN, 'serve', '--data', data, '--host', '127.0.0.1', '--http-port', String(port), '--https-port', String(await freePort())], { stdio: 'ignore', env: { ...process.env, FLINTCA_LOG_LEVEL: 'warn' } });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { /* not yet */ }
    if (i > 300) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const plain = readFileSync(join(tmp, 'plain.der'));
  const scenarios = [
    ['POST, no nonce (cached)', { method: 'POST', path: '/ocsp', body: plain }],
    ['GET (cached)', { method: 'GET', path: `/ocsp/${encodeURIComponent(plain.toString('base64'))}` }],
    ['POST with nonce (signed live)', { method: 'POST', path: '/ocsp', body: readFileSync(join(tmp, 'nonce.der')) }],
  ];
  const flint = {};
  for (const [name, req] of scenarios) line(`flint: ${name}`, (flint[name] = await bench(base, req)));
  await stop(server);

  // For the ratio also Flint without keep-alive (same client as the openssl runs).
  server = spawn(process.execPath, [BIN, 'serve', '--data', data, '--host', '127.0.0.1', '--http-port', String(port), '--https-port', String(await freePort())], { stdio: 'ignore', env: { ...process.env, FLINTCA_LOG_LEVEL: 'warn' } });
  await waitPort(port);
  const flintClose = {};
  for (const [name, req] of scenarios) line(`flint, no keep-alive: ${name}`, (flintClose[name] = await closeBench(port, req)));
  await stop(server);

  // Baseline: openssl's responder, same CA certificate and serial, its own P-256 responder key.
  const leafText = sh('openssl', ['x509', '-in', join(tmp, 'leaf.pem'), '-noout', '-serial', '-enddate', '-subject', '-nameopt', 'compat']).toString();
  const serial = /serial=([0-9A-F]+)/.exec(leafText)[1];
  const end = new Date(/notAfter=(.*)/.exec(leafText)[1]);
  const yy = (d) => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  writeFileSync(join(tmp, 'index.txt'), `V\t${yy(end)}\t\t${serial}\tunknown\t/CN=bench.test.internal\n`);
  sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tmp, 'r.key'), '-subj', '/CN=openssl baseline responder', '-days', '1', '-addext', 'extendedKeyUsage=OCSPSigning', '-out', join(tmp, 'r.pem')]);
  // (openssl -multi 2 did not come up reliably here; single process only.)
  for (const multi of [1]) {
    const oport = await freePort();
    baseline = spawn('openssl', ['ocsp', '-index', join(tmp, 'index.txt'), '-CA', issuing, '-rsigner', join(tmp, 'r.pem'), '-rkey', join(tmp, 'r.key'), '-port', String(oport), '-ignore_err', '-nmin', '60', ...(multi > 1 ? ['-multi', String(multi)] : [])], { stdio: 'ignore', detached: true });
    await new Promise((r) => setTimeout(r, 1500)); // no connect probe: the single-threaded responder would block on it
    for (const [name, req] of scenarios) {
      // openssl's GET form takes the base64 right after the first slash.
      const o = await closeBench(oport, req.method === 'GET' ? { ...req, path: req.path.replace('/ocsp/', '/') } : req);
      line(`openssl (-multi ${multi}): ${name}`, o);
      console.log(`${''.padEnd(40)} flint/openssl = ${(flint[name].rps / o.rps).toFixed(2)} (flint keep-alive), ${(flintClose[name].rps / o.rps).toFixed(2)} (both without keep-alive)`);
    }
    const exited = new Promise((r) => (baseline.exitCode !== null || baseline.signalCode !== null ? r() : baseline.once('exit', r)));
    try { process.kill(-baseline.pid, 'SIGTERM'); } catch { /* already gone */ } // the group we created (detached)
    await exited;
    baseline = undefined;
  }
} finally {
  await stop(server);
  if (baseline) { try { process.kill(-baseline.pid, 'SIGTERM'); } catch { /* gone */ } }
  rmSync(tmp, { recursive: true, force: true });
}
