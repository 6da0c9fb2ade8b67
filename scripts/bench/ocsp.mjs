// OCSP responder throughput through a real `flintca serve` (file keys, loopback, bounded time):
// nonce-less POST (pre-signed cache, RFC 5019), GET form, and nonce POST (signed live per request).
// Issue 6. BENCH_SECONDS (default 5) per scenario. Uses autocannon (dev dependency).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'flintca-bench-ocsp-'));
const data = join(tmp, 'data');
const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

let server;
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
  for (const [name, req] of scenarios) {
    const r = await autocannon({ url: base, connections: 32, duration: SECONDS, requests: [{ ...req, headers: { 'content-type': 'application/ocsp-request' } }] });
    console.log(`${name.padEnd(32)} ${Math.round(r.requests.average).toString().padStart(7)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors}`);
  }
} finally {
  if (server) { server.kill('SIGTERM'); await new Promise((r) => server.once('exit', r)); }
  rmSync(tmp, { recursive: true, force: true });
}
