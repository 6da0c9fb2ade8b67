/**
 * OCSP (RFC 6960/5019) and CRLs (RFC 5280 §5) end to end through the real binary, checked by
 * openssl and curl; the revocation is made by a separate CLI process, so the server must see it
 * through the store.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flintca, hasCommand, run, serve, type Served } from '../helpers/flintca.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PARTS = 4;

describe('OCSP responder and CRLs', () => {
  const tmp = tempDir('flintca-rev-');
  const data = join(tmp.path, 'data');
  const root = join(data, 'ca/root.crt');
  const issuing = join(data, 'ca/issuing.crt');
  const leaf = join(tmp.path, 'leaf.pem');
  const chain = join(tmp.path, 'chain.pem');
  let served: Served | undefined;
  let enabled = true;
  let serial = '';
  let base = '';

  const ocsp = (extra: string[] = []) =>
    run('openssl', ['ocsp', '-issuer', issuing, '-cert', leaf, '-url', `${base}/ocsp`, '-CAfile', root, '-resp_text', ...extra]);
  const crlText = async (name: string): Promise<{ der: Buffer; text: string; verify: string; res: Response }> => {
    const res = await fetch(`${base}/crl/${name}`);
    const der = Buffer.from(await res.arrayBuffer());
    const file = join(tmp.path, name);
    writeFileSync(file, der);
    const v = run('openssl', ['crl', '-inform', 'DER', '-in', file, '-CAfile', chain, '-verify', '-noout']);
    return { der, res, text: run('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text']).stdout, verify: v.stdout + v.stderr };
  };
  const crlNumber = (text: string) => Number(/CRL Number:\s*\n?\s*(\d+)/.exec(text)?.[1]);
  const postOcsp = async (body: Buffer | string) => {
    const res = await fetch(`${base}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()).toString('hex') };
  };

  beforeAll(async () => {
    enabled = requireTool(hasCommand('openssl') && hasCommand('curl'), 'openssl and curl');
    if (!enabled) return;
    const r = flintca(['init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1']);
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(chain, readFileSync(issuing, 'utf8') + readFileSync(root, 'utf8'));
    // Partitioned CRLs (RFC 5280 §5.2.5): 4 buckets by the serial's first octet.
    const cfgFile = join(data, 'flintca.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, revocation: { crlPartitions: { bySerialBuckets: PARTS } } }, null, 2));
    served = await serve(data);
    base = `http://127.0.0.1:${served.httpPort}`;
    const csr = join(tmp.path, 'leaf.csr');
    expect(run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tmp.path, 'leaf.key'), '-subj', '/CN=leaf.test.internal', '-addext', 'subjectAltName=DNS:leaf.test.internal', '-out', csr]).code).toBe(0);
    const i = flintca(['issue', '--data', data, '--csr', csr, '--profile', 'tls-server', '--out', leaf]);
    expect(i.code, i.stderr).toBe(0);
    serial = run('openssl', ['x509', '-in', leaf, '-noout', '-serial']).stdout.trim().split('=')[1]!.toLowerCase();
  });
  afterAll(async () => {
    if (served) expect(await served.stop()).toBe(0);
    tmp.cleanup();
  });

  it('openssl ocsp says good, verifies the response and sees its nonce echoed', () => {
    if (!enabled) return;
    const r = ocsp();
    expect(r.stdout + r.stderr).toMatch(/Response verify OK/);
    expect(r.stdout).toMatch(/leaf\.pem: good/);
    expect(r.stdout).toMatch(/OCSP Nonce/);
    expect(r.stdout + r.stderr).not.toMatch(/nonce verify error/i);
  });

  it('signs with a delegated responder certificate (RFC 6960 §4.2.2.2) that openssl accepts with only the root as trust anchor', () => {
    if (!enabled) return;
    const r = ocsp(['-no_nonce']);
    expect(r.stdout + r.stderr).toMatch(/Response verify OK/);
    // The responder certificate travels in BasicOCSPResponse.certs; responderID is byKey.
    expect(r.stdout).toMatch(/Responder Id: [0-9A-F]{40}/);
    expect(r.stdout).toMatch(/Subject: .*OCSP Responder/);
    expect(r.stdout).toMatch(/X509v3 Extended Key Usage:\s*\n\s*OCSP Signing/);
    expect(r.stdout).toMatch(/OCSP No Check/);
    expect(r.stdout).toMatch(/Digital Signature/);
    // The responder certificate comes from the store (every node uses the same one), not a node-local file.
    const responder = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)![0];
    const text = run('openssl', ['x509', '-noout', '-text', '-dates'], { input: responder }).stdout;
    const life = Date.parse(/notAfter=(.*)/.exec(text)![1]!) - Date.parse(/notBefore=(.*)/.exec(text)![1]!);
    expect(life).toBeLessThanOrEqual(31 * 86_400_000);
    const audit = flintca(['audit', 'export', '--data', data]);
    expect(audit.stdout).toMatch(/"action":"ocsp\.responder\.issue"[^\n]*"object":"ca:issuing"/);
  });

  it('answers the RFC 5019 GET form (curl) with cache headers', () => {
    if (!enabled) return;
    const reqFile = join(tmp.path, 'req.der');
    expect(run('openssl', ['ocsp', '-issuer', issuing, '-cert', leaf, '-no_nonce', '-reqout', reqFile]).code).toBe(0);
    const b64 = encodeURIComponent(readFileSync(reqFile).toString('base64'));
    const out = join(tmp.path, 'get.der');
    const c = run('curl', ['-sS', '-D', '-', '-o', out, `${base}/ocsp/${b64}`]);
    expect(c.stdout).toMatch(/HTTP\/1\.1 200/);
    expect(c.stdout).toMatch(/content-type: application\/ocsp-response/i);
    expect(c.stdout).toMatch(/cache-control: max-age=\d+/i);
    expect(c.stdout).toMatch(/etag: /i);
    expect(c.stdout).toMatch(/last-modified: /i);
    const v = run('openssl', ['ocsp', '-respin', out, '-issuer', issuing, '-CAfile', root, '-resp_text']);
    expect(v.stdout + v.stderr).toMatch(/Response verify OK/);
    expect(v.stdout).toMatch(/Cert Status: good/);
    // URL-safe base64 without URL-encoding works too.
    const safe = readFileSync(reqFile).toString('base64url');
    const c2 = run('curl', ['-sS', '-o', out, '-w', '%{http_code}', `${base}/ocsp/${safe}`]);
    expect(c2.stdout).toBe('200');
    expect(run('openssl', ['ocsp', '-respin', out, '-noverify', '-resp_text']).stdout).toMatch(/Cert Status: good/);
  });

  it('serves full and delta CRLs that openssl verifies', async () => {
    if (!enabled) return;
    const full = await crlText('issuing.crl');
    expect(full.res.headers.get('content-type')).toBe('application/pkix-crl');
    expect(full.res.headers.get('etag')).toBeTruthy();
    expect(full.res.headers.get('last-modified')).toBeTruthy();
    expect(full.res.headers.get('cache-control')).toMatch(/max-age=/);
    expect(full.verify).toMatch(/verify OK/);
    expect(crlNumber(full.text)).toBeGreaterThanOrEqual(1);
    const again = await fetch(`${base}/crl/issuing.crl`, { headers: { 'if-none-match': full.res.headers.get('etag')! } });
    expect(again.status).toBe(304);
    const rootCrl = await crlText('root.crl');
    expect(rootCrl.verify).toMatch(/verify OK/);
    expect(rootCrl.text).toMatch(/Issuer: .*Root/);
    expect((await fetch(`${base}/crl/nope.crl`)).status).toBe(404);
  });

  it('after `flintca revoke` in another process, OCSP and the CRL report the revocation within 5 s', async () => {
    if (!enabled) return;
    const before = crlNumber((await crlText('issuing.crl')).text);
    const r = flintca(['revoke', '--data', data, '--serial', serial, '--reason', 'keyCompromise']);
    expect(r.code, r.stderr).toBe(0);
    const deadline = Date.now() + 5000;
    let out = '';
    while (Date.now() < deadline) {
      out = ocsp().stdout;
      if (/leaf\.pem: revoked/.test(out)) break;
      await sleep(250);
    }
    expect(out).toMatch(/leaf\.pem: revoked/);
    expect(out).toMatch(/Reason: keyCompromise/);
    let crl = await crlText('issuing.crl');
    while (Date.now() < deadline + 3000 && !crl.text.toLowerCase().includes(serial)) {
      await sleep(250);
      crl = await crlText('issuing.crl');
    }
    expect(crl.verify).toMatch(/verify OK/);
    expect(crl.text.toLowerCase()).toContain(`serial number: ${serial}`);
    expect(crl.text).toMatch(/Key Compromise/);
    expect(crlNumber(crl.text)).toBeGreaterThan(before);
    const delta = await crlText('issuing-delta.crl');
    expect(delta.verify).toMatch(/verify OK/);
    expect(delta.text).toMatch(/Delta CRL Indicator: critical/);
    expect(delta.text.toLowerCase()).toContain(`serial number: ${serial}`);
  });

  it('points the certificate at its partition CRL, which openssl verifies, scopes (IDP) and uses for -crl_check', async () => {
    if (!enabled) return;
    const k = parseInt(serial.padStart(2 * Math.ceil(serial.length / 2), '0').replace(/^(00)+(?=..)/, '').slice(0, 2), 16) % PARTS;
    const leafText = run('openssl', ['x509', '-in', leaf, '-noout', '-text']).stdout;
    expect(leafText).toMatch(new RegExp(`CRL Distribution Points:[\\s\\S]*URI:http[^\\s]*/crl/issuing-p${k}\\.crl`));
    expect(leafText).not.toMatch(/issuing\.crl/);
    const part = await crlText(`issuing-p${k}.crl`);
    expect(part.res.status).toBe(200);
    expect(part.verify).toMatch(/verify OK/);
    expect(part.text).toMatch(/X509v3 Issuing Distribution Point: critical/);
    expect(part.text).toMatch(new RegExp(`URI:http[^\\s]*/crl/issuing-p${k}\\.crl`));
    expect(part.text).toMatch(/Only User Certificates/);
    expect(part.text.toLowerCase()).toContain(`serial number: ${serial}`); // revoked in the previous test
    const other = await crlText(`issuing-p${(k + 1) % PARTS}.crl`);
    expect(other.verify).toMatch(/verify OK/);
    expect(other.text.toLowerCase()).not.toContain(serial);
    // openssl matches the certificate's CDP against the partition's IDP and finds the revocation.
    const pem = join(tmp.path, 'part.pem');
    expect(run('openssl', ['crl', '-inform', 'DER', '-in', join(tmp.path, `issuing-p${k}.crl`), '-out', pem]).code).toBe(0);
    const v = run('openssl', ['verify', '-CAfile', chain, '-crl_check', '-CRLfile', pem, leaf]);
    expect(v.stdout + v.stderr).toMatch(/certificate revoked/);
    expect((await fetch(`${base}/crl/issuing-p${PARTS}.crl`)).status).toBe(404);
  });

  it('answers bad input with OCSP error statuses, never a 500', async () => {
    if (!enabled) return;
    expect(await postOcsp('garbage')).toEqual({ status: 200, body: '30030a0101' });
    const reqFile = join(tmp.path, 'req.der');
    const req = readFileSync(reqFile);
    expect(await postOcsp(req.subarray(0, req.length - 5))).toEqual({ status: 200, body: '30030a0101' });
    expect(await postOcsp(Buffer.alloc(100_000))).toEqual({ status: 200, body: '30030a0101' });
    expect(await postOcsp(Buffer.alloc(0))).toEqual({ status: 200, body: '30030a0101' });
    // Unknown issuer: a CA we do not run.
    const key = join(tmp.path, 'other.key');
    const other = join(tmp.path, 'other.pem');
    expect(run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', '/CN=Other CA', '-days', '1', '-out', other]).code).toBe(0);
    const unk = join(tmp.path, 'unknown.der');
    expect(run('openssl', ['ocsp', '-issuer', other, '-cert', other, '-reqout', unk]).code).toBe(0);
    expect(await postOcsp(readFileSync(unk))).toEqual({ status: 200, body: '30030a0106' });
    for (const bad of ['%%%', '!!!', 'AAAA', 'A', encodeURIComponent('MA==')]) {
      const res = await fetch(`${base}/ocsp/${bad}`);
      expect(res.status, bad).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).toString('hex'), bad).toBe('30030a0101');
    }
    expect(served!.logs()).not.toMatch(/unhandled error/);
    // /ocsp is answered by the node:http fast path, before express (no pino-http request line).
    expect(served!.logs()).not.toMatch(/"url":"\/ocsp/);
    expect(served!.logs()).toMatch(/"url":"\/crl\//);
  });
});
