/**
 * Real-client calls against one chosen `flintca serve` node, for the cross-node tests: scepclient
 * (micromdm) with a fresh RSA key, EST over curl (RFC 7030 §4.2.1 / §4.2.2), and readers for the
 * certs-only answers and for `flintca list --json`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeSerial } from '../../src/core/serial.js';
import { flintca, run, runAsync, type RunResult } from './flintca.js';

/** Serial as `flintca list` prints it: lower-case hex, no `serial=` prefix, whole octets. */
export function serialOf(pem: string): string {
  return normalizeSerial(run('openssl', ['x509', '-in', pem, '-noout', '-serial']).stdout.trim().replace(/^serial=/i, ''));
}

/** `openssl verify` of a leaf against the data dir's root and issuing CA. */
export function verifyChain(data: string, pem: string): RunResult {
  return run('openssl', ['verify', '-CAfile', join(data, 'ca/root.crt'), '-untrusted', join(data, 'ca/issuing.crt'), pem]);
}

export interface ListedCert {
  serial: string;
  subject: string;
  status: string;
  protocol: string;
  revocationReason: string | null;
}

/** Every certificate in the store, through `flintca list --json` (with FLINTCA_DB_URL in env). */
export function listCerts(data: string, env: NodeJS.ProcessEnv): ListedCert[] {
  const r = flintca(['list', '--data', data, '--json'], env);
  if (r.code !== 0) throw new Error(`flintca list failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ListedCert);
}

/** scepclient with a fresh 2048-bit key in `dir`; the certificate lands in dir/client.pem. */
export async function scepclient(dir: string, serverUrl: string, args: string[]): Promise<{ code: number; out: string; cert: string }> {
  mkdirSync(dir, { recursive: true });
  const key = run('openssl', ['genrsa', '-traditional', '-out', join(dir, 'key.pem'), '2048']);
  if (key.code !== 0) throw new Error(`openssl genrsa: ${key.stderr}`);
  const r = await runAsync('scepclient', ['-server-url', serverUrl, '-private-key', join(dir, 'key.pem'), ...args], { timeoutMs: 30_000 });
  return { ...r, cert: join(dir, 'client.pem') };
}

/** A P-256 key and CSR made by openssl; returns the base64 DER file EST posts and the key file. */
export function estCsr(dir: string, name: string, subj: string, key?: string): { b64: string; key: string; der: string } {
  const keyFile = key ?? join(dir, `${name}.key`);
  const keyArgs = key ? ['-key', key] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
  const der = join(dir, `${name}.der`);
  const r = run('openssl', ['req', '-new', ...keyArgs, '-subj', subj, '-outform', 'DER', '-out', der]);
  if (r.code !== 0) throw new Error(`openssl req: ${r.stderr}`);
  const b64 = join(dir, `${name}.b64`);
  writeFileSync(b64, readFileSync(der).toString('base64'));
  return { b64, key: keyFile, der };
}

/**
 * POSTs a CSR to an EST endpoint of the node on `httpsPort` with curl (HTTP Basic, or a TLS client
 * certificate when `clientCert` is given); a 200 body (certs-only) is written out as PEM.
 */
export function estPost(o: { root: string; httpsPort: number; path: string; csrB64: string; out: string; basic?: string; clientCert?: { cert: string; key: string } }): { status: number; pem?: string } {
  const body = `${o.out}.p7.b64`;
  const auth = o.clientCert ? ['--cert', o.clientCert.cert, '--key', o.clientCert.key] : ['-u', o.basic!];
  const r = run('curl', ['-sS', '-o', body, '-w', '%{http_code}', '--cacert', o.root, ...auth, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${o.csrB64}`, `https://localhost:${o.httpsPort}/.well-known/est/${o.path}`]);
  if (r.code !== 0) throw new Error(`curl: ${r.stderr}`);
  const status = Number(r.stdout);
  if (status !== 200) return { status };
  const pem = `${o.out}.pem`;
  const p = run('sh', ['-c', `openssl base64 -d -in '${body}' | openssl pkcs7 -inform DER -print_certs -out '${pem}'`]);
  if (p.code !== 0) throw new Error(`certs-only answer unreadable: ${p.stderr}`);
  return { status, pem };
}
