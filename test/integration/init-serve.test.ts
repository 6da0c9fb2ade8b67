/**
 * End to end through the real binary: init → serve → issue per shipped profile → openssl verify,
 * on a throwaway SoftHSM token and on encrypted software keys.
 */
import { existsSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flintca, hasCommand, run, serve, type Served } from '../helpers/flintca.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

const SOFTHSM = existsSync('/usr/lib/softhsm/libsofthsm2.so');

function makeCsr(dir: string, name: string, subj: string, san?: string, keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']): string {
  const csr = join(dir, `${name}.csr`);
  const r = run('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', join(dir, `${name}.key`), '-subj', subj, ...(san ? ['-addext', `subjectAltName=${san}`] : []), '-out', csr]);
  expect(r.code, r.stderr).toBe(0);
  return csr;
}

for (const mode of ['softhsm', 'file'] as const) {
  describe(`init + serve + issue with ${mode} keys`, () => {
    const tmp = tempDir(`flintca-it-${mode}-`);
    const data = join(tmp.path, 'data');
    let served: Served | undefined;
    let enabled = true;

    beforeAll(async () => {
      if (mode === 'softhsm') enabled = requireTool(SOFTHSM && hasCommand('softhsm2-util'), 'softhsm2');
      if (!enabled) return;
      const r = flintca(['init', '--data', data, '--hsm', mode, '--dns', 'localhost,127.0.0.1']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/root CA: .* sha256=[0-9a-f]{64}/);
      served = await serve(data);
    });
    afterAll(async () => {
      if (served) expect(await served.stop()).toBe(0);
      tmp.cleanup();
    });

    it('init is idempotent', () => {
      if (!enabled) return;
      const r = flintca(['init', '--data', data]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/already initialised/);
    });

    it('serves health, readiness, metrics and CA certificates on HTTP and HTTPS', async () => {
      if (!enabled) return;
      const base = `http://127.0.0.1:${served!.httpPort}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const roots = await (await fetch(`${base}/roots.pem`)).text();
      expect(roots).toBe(readFileSync(join(data, 'ca/root.crt'), 'utf8'));
      const issuing = Buffer.from(await (await fetch(`${base}/ca/issuing.crt`)).arrayBuffer());
      const text = run('openssl', ['x509', '-inform', 'DER', '-noout', '-subject'], { input: issuing });
      expect(text.stdout).toMatch(/Issuing CA 1/);
      expect((await fetch(`${base}/ca/nope.crt`)).status).toBe(404);
      // HTTPS listener: certificate from the issuing CA, trusted through root.crt.
      const c = run('curl', ['-sS', '--cacert', join(data, 'ca/root.crt'), `https://localhost:${served!.httpsPort}/roots.pem`]);
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout).toBe(roots);
    });

    const cases: [string, string, string | undefined][] = [
      ['tls-server', '/CN=app.test.internal', 'DNS:app.test.internal,DNS:www.test.internal,IP:127.0.0.1'],
      ['tls-client', '/CN=alice/O=Example', 'email:alice@example.com,URI:spiffe://example.org/alice'],
      ['device', '/CN=sensor-42/serialNumber=SN42', undefined],
      ['short-lived', '/CN=short.test.internal', 'DNS:short.test.internal'],
    ];
    for (const [profile, subj, san] of cases) {
      it(`issues with profile ${profile} and openssl verifies the chain`, () => {
        if (!enabled) return;
        const csr = makeCsr(tmp.path, profile, subj, san);
        const out = join(tmp.path, `${profile}.crt`);
        const r = flintca(['issue', '--data', data, '--csr', csr, '--profile', profile, '--out', out]);
        expect(r.code, r.stderr).toBe(0);
        const v = run('openssl', ['verify', '-CAfile', join(data, 'ca/root.crt'), '-untrusted', join(data, 'ca/issuing.crt'), out]);
        expect(v.stdout + v.stderr).toMatch(/: OK/);
        const text = run('openssl', ['x509', '-in', out, '-noout', '-text']).stdout;
        expect(text).toMatch(/Authority Key Identifier/);
        expect(text).toMatch(/Subject Key Identifier/);
        if (profile === 'short-lived') {
          expect(text).not.toMatch(/CRL Distribution Points/);
          expect(text).not.toMatch(/OCSP - URI/);
        } else {
          expect(text).toMatch(new RegExp(`URI:http://localhost:\\d+/crl/issuing.crl`));
          expect(text).toMatch(/OCSP - URI:http:\/\/localhost:\d+\/ocsp/);
        }
        expect(text).toMatch(/CA Issuers - URI:http:\/\/localhost:\d+\/ca\/issuing.crt/);
        if (profile === 'tls-server') {
          expect(text).toMatch(/TLS Web Server Authentication/);
          expect(text).toMatch(/DNS:app.test.internal, DNS:www.test.internal, IP Address:127.0.0.1/);
          expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature/);
        }
        if (profile === 'tls-client') {
          expect(text).toMatch(/TLS Web Client Authentication/);
          expect(text).toMatch(/email:alice@example.com, URI:spiffe:\/\/example.org\/alice/);
        }
        if (profile === 'device') expect(text).toMatch(/serialNumber ?= ?SN42/);
      });
    }

    it('turns bad requests away with exit 1, a clear message, a denial record and nothing stored', () => {
      if (!enabled) return;
      const count = () => flintca(['list', '--data', data, '--json']).stdout.trim().split('\n').filter(Boolean).length;
      const before = count();
      const garbage = join(tmp.path, 'garbage.csr');
      writeFileSync(garbage, '-----BEGIN CERTIFICATE REQUEST-----\nnot*base64!!\n-----END CERTIFICATE REQUEST-----\n');
      let r = flintca(['issue', '--data', data, '--csr', garbage, '--profile', 'tls-server']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/flintca: .*(base64|CSR)/i);
      const truncated = join(tmp.path, 'truncated.csr');
      writeFileSync(truncated, readFileSync(join(tmp.path, 'tls-server.csr'), 'utf8').replace(/-----END[^]*$/, '').slice(0, 200));
      r = flintca(['issue', '--data', data, '--csr', truncated, '--profile', 'tls-server']);
      expect(r.code).toBe(1);
      r = flintca(['issue', '--data', data, '--csr', join(tmp.path, 'tls-server.csr'), '--profile', 'no-such-profile']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/unknown profile "no-such-profile"/);
      const rsa1024 = makeCsr(tmp.path, 'weak', '/CN=weak.test.internal', 'DNS:weak.test.internal', ['-newkey', 'rsa:1024']);
      r = flintca(['issue', '--data', data, '--csr', rsa1024, '--profile', 'tls-server']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/1024 bits/);
      const email = makeCsr(tmp.path, 'email', '/CN=x.test.internal', 'DNS:x.test.internal,email:x@example.com');
      r = flintca(['issue', '--data', data, '--csr', email, '--profile', 'tls-server']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/email addresses are not allowed/);
      // A CSR whose self-signature does not verify (one byte of the signature flipped).
      const good = readFileSync(join(tmp.path, 'tls-server.csr'), 'utf8');
      const der = Buffer.from(good.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
      der[der.length - 5]! ^= 0x01;
      const tampered = join(tmp.path, 'tampered.csr');
      writeFileSync(tampered, der);
      r = flintca(['issue', '--data', data, '--csr', tampered, '--profile', 'tls-server']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/signature/i);
      expect(count()).toBe(before);
      const audit = flintca(['audit', 'export', '--data', data]).stdout.trim().split('\n').map((l) => JSON.parse(l));
      const denials = audit.filter((e) => e.action === 'certificate.issue' && e.result === 'denied');
      expect(denials.length).toBeGreaterThanOrEqual(6);
      expect(denials.some((d) => /1024 bits/.test(d.reason))).toBe(true);
    });

    it('revokes, refuses a second revocation, lists and verifies the audit log', () => {
      if (!enabled) return;
      const list = flintca(['list', '--data', data, '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
      const serial = list.find((c) => c.profile === 'tls-server' && c.subject.includes('app.test.internal')).serial;
      let r = flintca(['revoke', '--data', data, '--serial', serial, '--reason', 'keyCompromise']);
      expect(r.code, r.stderr).toBe(0);
      r = flintca(['revoke', '--data', data, '--serial', serial]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/already revoked/);
      r = flintca(['revoke', '--data', data, '--serial', serial, '--reason', 'bogus']);
      expect(r.code).toBe(1);
      const after = flintca(['list', '--data', data, '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(after.find((c) => c.serial === serial)).toMatchObject({ status: 'revoked', revocationReason: 'keyCompromise' });
      expect(flintca(['list', '--data', data, '--expiring-within', '2d']).stdout).toMatch(/short-lived/);
      r = flintca(['audit', 'verify', '--data', data]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/audit log OK/);
    });

    it('usage errors exit 2', () => {
      if (!enabled) return;
      expect(flintca(['issue', '--data', data]).code).toBe(2);
      expect(flintca(['frobnicate']).code).toBe(2);
      expect(flintca(['--help']).code).toBe(0);
    });

    if (mode === 'softhsm') {
      it('keeps CA keys sensitive and non-extractable on the token (pkcs11-tool)', () => {
        if (!enabled) return;
        requireTool(hasCommand('pkcs11-tool'), 'pkcs11-tool (opensc)');
        const pin = readFileSync(join(data, 'hsm/pin'), 'utf8').trim();
        const r = run('pkcs11-tool', ['--module', '/usr/lib/softhsm/libsofthsm2.so', '--token-label', 'flintca', '--login', '--pin', pin, '--list-objects', '--type', 'privkey'], { env: { SOFTHSM2_CONF: join(data, 'hsm/softhsm2.conf') } });
        expect(r.code, r.stderr).toBe(0);
        const blocks = r.stdout.split(/Private Key Object/).slice(1);
        const labels = blocks.map((b) => /label:\s+(\S+)/.exec(b)?.[1]);
        expect(labels).toEqual(expect.arrayContaining(['root-ca', 'issuing-ca-1', 'audit']));
        for (const b of blocks) {
          expect(b).toMatch(/Access:.*sensitive/);
          expect(b).toMatch(/never extractable/);
          expect(b).not.toMatch(/Access:[^\n]*(?<!never )extractable/);
        }
      });

      it('fails to start with a clear message on a wrong PIN or a missing module, never printing the PIN', () => {
        if (!enabled) return;
        let r = flintca(['issue', '--data', data, '--csr', join(tmp.path, 'tls-server.csr'), '--profile', 'tls-server'], { FLINTCA_PKCS11_PIN: 'wrong-pin-123456' });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/PIN/i);
        expect(r.stderr).not.toMatch(/wrong-pin-123456/);
        r = flintca(['issue', '--data', data, '--csr', join(tmp.path, 'tls-server.csr'), '--profile', 'tls-server'], { FLINTCA_PKCS11_MODULE: '/nonexistent/libpkcs11.so' });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/\/nonexistent\/libpkcs11.so/);
      });
    }

    it('refuses to start on a corrupt profile, naming file and field', async () => {
      if (!enabled) return;
      const bad = join(data, 'profiles/zz-bad.yaml');
      writeFileSync(bad, 'name: zz-bad\nkeyTypes: { ec: { curves: [P-999] } }\nvalidity: { default: 1d, max: 1d }\n');
      try {
        const r = flintca(['serve', '--data', data, '--http-port', '0', '--https-port', '0', '--host', '127.0.0.1'], {}, 20_000);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/zz-bad\.yaml: keyTypes\.ec\.curves\.0/);
      } finally {
        appendFileSync(bad, '');
        run('rm', ['-f', bad]);
      }
    });
  });
}
