import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apply, loadProfiles, parseProfile } from '../../../src/profiles/index.js';
import type { ParsedCsr } from '../../../src/pki/types.js';
import { tempDir } from '../../helpers/tmp.js';

const dir = tempDir('flintca-profiles-');
afterAll(() => dir.cleanup());

const shipped = loadProfiles(join(import.meta.dirname, '../../../profiles'));

function csr(over: Partial<ParsedCsr> = {}): ParsedCsr {
  return {
    der: Buffer.alloc(0),
    subjectDer: Buffer.alloc(0),
    subject: [{ type: 'CN', value: 'app.test.internal' }],
    subjectPublicKeyInfo: Buffer.from([0x30, 0]),
    keyType: 'P-256',
    keyBits: 256,
    sans: { dns: ['app.test.internal'], ip: [], email: [], uri: [] },
    requestedExtensions: new Map(),
    signatureAlgorithmOid: '1.2.840.10045.4.3.2',
    ...over,
  };
}
const now = new Date('2026-11-22T00:00:00Z');

describe('profiles', () => {
  it('ships tls-server, tls-client, device, short-lived, ocsp-responder and scep-ra', () => {
    expect([...shipped.keys()].sort()).toEqual(['device', 'ocsp-responder', 'scep-ra', 'short-lived', 'tls-client', 'tls-server']);
    expect(Object.isFrozen(shipped.get('tls-server')!.validity)).toBe(true);
  });

  it('applies tls-server: CN kept, EC key drops keyEncipherment, 90 days', () => {
    const d = apply(shipped.get('tls-server')!, { csr: csr(), protocol: 'acme', now });
    expect(d.keyUsage).toEqual(['digitalSignature']);
    expect(d.extKeyUsage).toEqual(['serverAuth']);
    expect(d.notAfter.getTime() - now.getTime()).toBe(90 * 86_400_000);
    expect(d.subject).toEqual([{ type: 'CN', value: 'app.test.internal' }]);
  });

  it('short-lived carries no revocation pointers', () => {
    const d = apply(shipped.get('short-lived')!, { csr: csr(), protocol: 'cli', now });
    expect(d.crl || d.ocsp).toBe(false);
    expect(d.notAfter.getTime() - now.getTime()).toBe(86_400_000);
  });

  it('lists every reason a request breaks the profile', () => {
    const p = parseProfile(
      join(dir.path, 'strict.yaml'),
      `name: strict
keyTypes: { rsa: { minBits: 3072 } }
validity: { default: 30d, max: 30d }
sans:
  dns: { suffixes: [.corp.internal] }
  ip: { allowed: true, ranges: [10.0.0.0/8] }
  maxNames: 3
protocols: [est]
`,
    );
    try {
      apply(p, {
        csr: csr({ keyType: 'RSA-2048', keyBits: 2048, sans: { dns: ['evil.example.com', '*.corp.internal'], ip: ['192.168.1.1'], email: ['a@b.c'], uri: [] } }),
        protocol: 'acme',
        now,
        notAfter: new Date(now.getTime() + 90 * 86_400_000),
      });
      expect.unreachable();
    } catch (e) {
      const reasons = (e as { reasons: string[] }).reasons.join('\n');
      expect((e as { kind: string }).kind).toBe('profileViolation');
      expect(reasons).toMatch(/not available to acme/);
      expect(reasons).toMatch(/RSA key of 2048 bits/);
      expect(reasons).toMatch(/evil.example.com: outside/);
      expect(reasons).toMatch(/wildcards are not allowed/);
      expect(reasons).toMatch(/192.168.1.1: outside/);
      expect(reasons).toMatch(/email addresses are not allowed/);
      expect(reasons).toMatch(/exceed the maximum of 3/);
      expect(reasons).toMatch(/exceeds the profile maximum/);
    }
  });

  it('rejects a CN that is not among the SANs, and unsupported keys', () => {
    expect(() => apply(shipped.get('tls-server')!, { csr: csr({ subject: [{ type: 'CN', value: 'other.internal' }] }), protocol: 'acme', now })).toThrow(/common name other.internal/);
    expect(() => apply(shipped.get('tls-server')!, { csr: csr({ keyType: 'unsupported', keyBits: 1024 }), protocol: 'acme', now })).toThrow(/not supported/);
  });

  it('fails loading with file, field and reason', () => {
    const bad = join(dir.path, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'broken.yaml'), 'name: broken\nkeyTypes: { rsa: { minBits: 1024 } }\nvalidity: { default: 10x, max: 1d }\n');
    expect(() => loadProfiles(bad)).toThrow(/broken\.yaml: keyTypes\.rsa\.minBits: .*\n?.*broken\.yaml: validity\.default: a duration/);
    writeFileSync(join(bad, 'broken.yaml'), 'name: [unclosed\n');
    expect(() => loadProfiles(bad)).toThrow(/broken\.yaml: not valid YAML/);
    writeFileSync(join(bad, 'broken.yaml'), 'name: other\nkeyTypes: { ed25519: true }\nvalidity: { default: 1d, max: 1d }\n');
    expect(() => loadProfiles(bad)).toThrow(/name: "other" must equal the file name/);
  });
});
