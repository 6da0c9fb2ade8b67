// Load from `wrk` (Debian package) on loopback: a small Lua script cycles through fixed requests
// (bodies read from files, so binary DER goes over the wire unchanged) and `--latency` gives p99.
// Returns { rps, p50, p99 (ms), requests, non2xx, errors }.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasWrk = () => spawnSync('sh', ['-c', 'command -v wrk']).status === 0;

const luaString = (s) => JSON.stringify(s); // a JSON string literal is a valid Lua string literal for ASCII paths

/** requests: [{ method, path, bodyFile? }]; closeEach: send `Connection: close` (a new TCP connection per request). */
function luaScript(requests, contentType, closeEach) {
  const lines = [
    // wrk's default resolve() opens and closes a probe connection without a request; OpenSSL 3.0's
    // `ocsp -port` responder then spins on that EOF forever. Resolve without probing.
    'wrk.resolve = function(host, service) wrk.addrs = wrk.lookup(host, service) end',
    'local reqs = {}',
    'local i = 0',
    'local function slurp(p) local f = assert(io.open(p, "rb")); local s = f:read("*a"); f:close(); return s end',
    'init = function(args)',
    `  local h = { ["Content-Type"] = ${luaString(contentType)} }`,
    closeEach ? '  h["Connection"] = "close"' : '',
  ];
  for (const r of requests) {
    const body = r.bodyFile ? `slurp(${luaString(r.bodyFile)})` : 'nil';
    lines.push(`  reqs[#reqs + 1] = wrk.format(${luaString(r.method)}, ${luaString(r.path)}, h, ${body})`);
  }
  lines.push('end', 'request = function() i = i % #reqs + 1; return reqs[i] end', '');
  return lines.join('\n');
}

const toMs = (v, unit) => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);

export function parseWrk(out) {
  const num = (re) => Number(re.exec(out)?.[1] ?? 0);
  const lat = (q) => {
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    p50: lat(50),
    p99: lat(99),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** Runs wrk for `seconds` against base (http://127.0.0.1:PORT); resolves to the parsed figures. */
export function wrk({ base, requests, seconds, connections = 32, threads = 1, closeEach = false, contentType = 'application/ocsp-request' }) {
  const dir = mkdtempSync(join(tmpdir(), 'flintca-wrk-'));
  const script = join(dir, 'req.lua');
  writeFileSync(script, luaScript(requests, contentType, closeEach));
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '2s', '--latency', '-s', script, base];
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const kill = setTimeout(() => p.kill('SIGKILL'), (seconds + 15) * 1000);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(kill);
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${out.slice(-500)}`));
      resolve(parseWrk(out));
    });
  });
}
