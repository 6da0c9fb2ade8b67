// CRL part of the revocation benchmark (issue 6): for 100k revoked entries, Flint's CRL generation
// (CrlService: store read, build, sign, save — lib/crl-child.mjs) next to `openssl ca -gencrl` for
// the same CA key (P-256), entries and reasons in the same run (best of 2 each, target: Flint's time
// ≤ openssl's); then the big CRL (1M entries) once each, with the peak RSS of both processes.
// Flint's CRLs are checked with `openssl crl -verify` (and their entry count for 100k).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const CHILD = new URL('crl-child.mjs', import.meta.url).pathname;
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28, ...opts }).toString();
const hasTime = spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0;
const mb = (b) => `${(b / 1048576).toFixed(0)} MB`;

function makeCa(dir) {
  mkdirSync(dir, { recursive: true });
  sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-subj', '/CN=CRL Bench CA', '-days', '30', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', join(dir, 'ca.pem')]);
  writeFileSync(
    join(dir, 'openssl.cnf'),
    `[ ca ]\ndefault_ca = bench\n[ bench ]\ndatabase = ${dir}/index.txt\ncrlnumber = ${dir}/crlnumber\ncertificate = ${dir}/ca.pem\n` +
      `private_key = ${dir}/ca.key\ndefault_md = sha256\ndefault_crl_days = 1\ncrl_extensions = crl_ext\n[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n`,
  );
  writeFileSync(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
}

/** openssl ca -gencrl: wall time (process included), DER size, peak RSS (when /usr/bin/time is there). */
function opensslCrl(dir) {
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  const args = ['ca', '-config', join(dir, 'openssl.cnf'), '-gencrl', '-out', join(dir, 'openssl.crl.pem')];
  const t0 = performance.now();
  const r = hasTime ? spawnSync('/usr/bin/time', ['-f', 'maxrss=%M', 'openssl', ...args], { encoding: 'utf8' }) : spawnSync('openssl', args, { encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`openssl ca -gencrl failed: ${r.stderr.slice(-500)}`);
  const pem = readFileSync(join(dir, 'openssl.crl.pem'), 'utf8');
  const size = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64').length;
  const rss = /maxrss=(\d+)/.exec(r.stderr);
  return { ms, size, peakRss: rss ? Number(rss[1]) * 1024 : undefined };
}

function flintCrl(dir) {
  const out = sh(process.execPath, ['--expose-gc', CHILD, 'gen', dir]);
  return JSON.parse(out.trim().split('\n').pop());
}

function verify(dir, count) {
  const file = join(dir, 'flint.crl');
  const v = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', file, '-CAfile', join(dir, 'ca.pem'), '-verify', '-noout'], { encoding: 'utf8' });
  let text = /verify OK/.test(v.stdout + v.stderr) ? 'openssl crl -verify OK' : `openssl crl -verify FAILED: ${(v.stdout + v.stderr).trim()}`;
  if (count) {
    const n = Number(sh('sh', ['-c', `openssl crl -inform DER -in '${file}' -noout -text | grep -c 'Serial Number:'`]).trim());
    text += n === count ? `, ${n} entries` : `, ${n} entries (expected ${count})`;
  }
  return text;
}

export async function crlBench({ tmp, big }) {
  console.log('\n# CRL generation, same CA key (P-256 via Flint\'s software key store / openssl), same entries and reasons');
  for (const n of [100_000, big]) {
    const dir = join(tmp, `crl-${n}`);
    makeCa(dir);
    const t0 = performance.now();
    sh(process.execPath, [CHILD, 'fill', dir, String(n)]);
    console.log(`${n} revoked certificates stored (SQLite, through the store API) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const runs = n <= 100_000 ? 2 : 1;
    const best = (fn) => Array.from({ length: runs }, fn).reduce((a, b) => (b.ms < a.ms ? b : a));
    const o = best(() => opensslCrl(dir));
    const fl = best(() => flintCrl(dir));
    const rss = (x) => (x.peakRss ? `peak RSS ${mb(x.peakRss)}` : '');
    console.log(`${String(n).padStart(8)} entries  openssl ca -gencrl ${(o.ms / 1000).toFixed(2)} s  ${mb(o.size)}  ${rss(o)}`);
    console.log(`${String(n).padStart(8)} entries  flint CrlService   ${(fl.ms / 1000).toFixed(2)} s  ${mb(fl.size)}  ${rss(fl)} (${mb(fl.rssBefore)} before generating)`);
    console.log(`${''.padStart(8)}          flint/openssl time ${(fl.ms / o.ms).toFixed(2)} (target <= 1${runs > 1 ? `, best of ${runs}` : ''}); ${verify(dir, n <= 100_000 ? n : 0)}`);
  }
}
