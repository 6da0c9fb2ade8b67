import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureAlgorithmIdentifier } from '../../../src/pki/algorithms.js';
import {
  CertificateTemplate, assembleCertificate, buildTbsCertificate, certificateFingerprint, parseCertificate,
  type CertificateTemplateBase, type CertificateTemplateRequest,
} from '../../../src/pki/certificate.js';
import { ocspNoCheckExtension, subjectKeyIdentifier } from '../../../src/pki/extensions.js';
import { encodeName } from '../../../src/pki/name.js';
import { toPem } from '../../../src/pki/pem.js';
import { FlintError } from '../../../src/errors/index.js';
import type { TbsCertificateInput } from '../../../src/pki/types.js';

const issuerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ISSUER_SPKI = issuerKey.publicKey.export({ type: 'spki', format: 'der' });
const LEAF_SPKI = leafKey.publicKey.export({ type: 'spki', format: 'der' });

const BASE: CertificateTemplateBase = {
  signatureAlgorithm: signatureAlgorithmIdentifier('ecdsa-sha256'),
  issuer: encodeName([{ type: 'C', value: 'US' }, { type: 'O', value: 'Flint Test' }, { type: 'CN', value: 'Flint Test Issuing CA' }]),
  keyUsage: ['digitalSignature'],
  extKeyUsage: ['serverAuth', 'clientAuth'],
  basicConstraints: { ca: false },
  authorityKeyId: subjectKeyIdentifier(ISSUER_SPKI),
  subjectKeyId: true,
  crlDistributionPoints: ['http://crl.example.com/issuing.crl'],
  ocspUrls: ['http://ocsp.example.com'],
  caIssuersUrls: ['http://ca.example.com/issuing.crt'],
  policies: ['2.23.140.1.2.1'],
  mustStaple: false,
};
const NOW = new Date('2026-11-22T10:00:00Z');

function request(over: Partial<CertificateTemplateRequest> = {}): CertificateTemplateRequest {
  return {
    serial: Buffer.from('8f0102030405060708090a0b0c0d0e0f', 'hex'),
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 90 * 86400_000),
    subject: [{ type: 'CN', value: 'www.example.com' }],
    subjectPublicKeyInfo: LEAF_SPKI,
    sans: { dns: ['www.example.com', 'example.com'], ip: ['192.0.2.10'], email: [], uri: [] },
    ...over,
  };
}

describe('CertificateTemplate', () => {
  const template = new CertificateTemplate(BASE);
  const variants: Record<string, Partial<CertificateTemplateRequest>> = {
    plain: {},
    'empty subject (critical SAN)': { subject: [] },
    'subject DER given': { subject: [{ type: 'CN', value: 'x' }], subjectDer: encodeName([{ type: 'CN', value: 'x' }]) },
    'long subject (multi-byte lengths)': { subject: Array.from({ length: 12 }, (_, i) => ({ type: 'OU', value: `unit ${i} `.repeat(8) })) },
    'many SANs (> 64 KiB TBS not needed, > 256 bytes is)': { sans: { dns: Array.from({ length: 40 }, (_, i) => `host-${i}.example.com`), ip: ['2001:db8::1'], email: ['a@example.com'], uri: ['https://example.com/'] } },
    'no SKI': { subjectKeyId: false },
    'override key usage + must-staple': { keyUsage: ['digitalSignature', 'keyEncipherment'], mustStaple: true },
    'override issuer and algorithm': { issuer: encodeName([{ type: 'CN', value: 'Other CA' }]), signatureAlgorithm: signatureAlgorithmIdentifier('ecdsa-sha384') },
    'override AIA/AKI': { ocspUrls: [], caIssuersUrls: ['http://other.example/ca.crt'], authorityKeyId: Buffer.alloc(20, 7) },
    'override policy block': { policies: ['1.3.6.1.4.1.99999.1'], nameConstraints: { permittedDns: ['example.com'] }, freshestCrl: ['http://crl.example.com/delta.crl'] },
    'extra extensions': { extraExtensions: [ocspNoCheckExtension()] },
    'after 2049 (GeneralizedTime)': { notAfter: new Date('2051-01-01T00:00:00Z') },
    '20-octet serial': { serial: Buffer.from('7f' + '11'.repeat(19), 'hex') },
    '19 octets with the high bit set (00 pad → 20)': { serial: Buffer.from('ff'.repeat(19), 'hex') },
    'serial with leading zero bytes': { serial: Buffer.from('000001', 'hex') },
  };
  for (const [name, over] of Object.entries(variants)) {
    it(`is byte-identical to buildTbsCertificate: ${name}`, () => {
      const req = request(over);
      const fast = template.build(req);
      const slow = buildTbsCertificate({ ...BASE, ...req } as TbsCertificateInput);
      expect(fast.toString('hex')).toBe(slow.toString('hex'));
    });
  }

  it('builds the same TBS for everything without extensions', () => {
    const bare: CertificateTemplateBase = { signatureAlgorithm: BASE.signatureAlgorithm, issuer: BASE.issuer, keyUsage: [], extKeyUsage: [] };
    const req = request({ sans: { dns: [], ip: [], email: [], uri: [] } });
    const tbs = new CertificateTemplate(bare).build(req);
    expect(tbs).toEqual(buildTbsCertificate({ ...bare, ...req }));
    const parsed = parseCertificate(assembleCertificate(tbs, BASE.signatureAlgorithm, Buffer.from([0x30, 0x00])));
    expect(parsed.extensions?.size).toBe(0);
  });

  it('rejects bad input with FlintError malformed (both builders)', () => {
    const cases: Record<string, Partial<CertificateTemplateRequest>> = {
      'zero serial': { serial: Buffer.from([0]) },
      '21-octet serial': { serial: Buffer.from('80' + '00'.repeat(19), 'hex') },
      'notAfter before notBefore': { notAfter: new Date(NOW.getTime() - 1) },
      'invalid date': { notBefore: new Date('nope') },
      'empty subject and no SAN': { subject: [], sans: { dns: [], ip: [], email: [], uri: [] } },
      'garbage SPKI': { subjectPublicKeyInfo: Buffer.from('300302010a', 'hex') },
      'bad IP SAN': { sans: { dns: [], ip: ['300.1.1.1'], email: [], uri: [] } },
      'duplicate extension': { extraExtensions: [ocspNoCheckExtension(), ocspNoCheckExtension()] },
      'extra duplicating a built-in': { extraExtensions: [BASE.authorityKeyId ? Buffer.from('300f06092b060105050730010504020500', 'hex') : Buffer.alloc(0)], ocspNoCheck: true },
    };
    for (const [name, over] of Object.entries(cases)) {
      const req = request(over);
      for (const build of [() => template.build(req), () => buildTbsCertificate({ ...BASE, ...req } as TbsCertificateInput)]) {
        let err: unknown;
        try {
          build();
        } catch (e) {
          err = e;
        }
        expect(err, name).toBeInstanceOf(FlintError);
        expect((err as FlintError).kind, name).toBe('malformed');
      }
    }
    expect(() => new CertificateTemplate({ ...BASE, issuer: Buffer.from('0500', 'hex') })).toThrow(FlintError);
  });

  it('measures throughput (logged, not asserted)', () => {
    const reqs = Array.from({ length: 200 }, (_, i) => request({ serial: randomBytes(16), subject: [{ type: 'CN', value: `host-${i}.example.com` }], sans: { dns: [`host-${i}.example.com`], ip: [], email: [], uri: [] } }));
    const rate = (fn: (i: number) => unknown, ms: number) => {
      for (let i = 0; i < 500; i++) fn(i); // warm-up
      let n = 0;
      const start = performance.now();
      while (performance.now() - start < ms) for (let k = 0; k < 100; k++) fn(n++);
      return Math.round((n / (performance.now() - start)) * 1000);
    };
    const fast = rate((i) => template.build(reqs[i % 200]!), 1000);
    const slow = rate((i) => buildTbsCertificate({ ...BASE, ...reqs[i % 200]! } as TbsCertificateInput), 1000);
    console.log(`[pki bench] CertificateTemplate.build: ${fast} TBS/s; buildTbsCertificate: ${slow} TBS/s (one core, P-256 leaf, SKI + 9 extensions)`);
  });
});

describe('assembleCertificate / parseCertificate', () => {
  const tbs = new CertificateTemplate(BASE).build(request({ sans: { dns: ['www.example.com'], ip: ['192.0.2.10', '2001:db8::10'], email: ['admin@example.com'], uri: ['https://example.com/x'] } }));
  const der = assembleCertificate(tbs, BASE.signatureAlgorithm, sign('sha256', tbs, { key: issuerKey.privateKey, dsaEncoding: 'der' }));

  it('produces a certificate node:crypto accepts and verifies', () => {
    const x = new X509Certificate(der);
    expect(x.verify(issuerKey.publicKey)).toBe(true);
    expect(x.subject).toBe('CN=www.example.com');
    expect(x.serialNumber.toLowerCase()).toBe('8f0102030405060708090a0b0c0d0e0f');
    expect(x.subjectAltName).toContain('DNS:www.example.com');
    expect(certificateFingerprint(der)).toBe(x.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(certificateFingerprint(der, 'sha1')).toBe(x.fingerprint.replace(/:/g, '').toLowerCase());
  });

  it('parses every field back (DER and PEM)', () => {
    for (const input of [der, toPem(der, 'CERTIFICATE')]) {
      const p = parseCertificate(input);
      expect(p.der).toEqual(der);
      expect(p.tbs).toEqual(tbs);
      expect(p.serialHex).toBe('8f0102030405060708090a0b0c0d0e0f');
      expect(p.issuerDer).toEqual(BASE.issuer);
      expect(p.subjectDer).toEqual(encodeName([{ type: 'CN', value: 'www.example.com' }]));
      expect(p.subject).toEqual([{ type: 'CN', value: 'www.example.com' }]);
      expect(p.issuer?.at(-1)).toEqual({ type: 'CN', value: 'Flint Test Issuing CA' });
      expect(p.notBefore).toEqual(NOW);
      expect(p.notAfter).toEqual(new Date(NOW.getTime() + 90 * 86400_000));
      expect(p.subjectPublicKeyInfo).toEqual(LEAF_SPKI);
      expect(p.keyType).toBe('P-256');
      expect(p.keyBits).toBe(256);
      expect(p.sans).toEqual({ dns: ['www.example.com'], ip: ['192.0.2.10', '2001:db8::10'], email: ['admin@example.com'], uri: ['https://example.com/x'] });
      expect(p.subjectKeyId).toEqual(subjectKeyIdentifier(LEAF_SPKI));
      expect(p.authorityKeyId).toEqual(subjectKeyIdentifier(ISSUER_SPKI));
      expect(p.isCA).toBe(false);
      expect(p.pathLen).toBeUndefined();
      expect(p.keyUsage).toEqual(['digitalSignature']);
      expect(p.extKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
      expect(p.signatureAlgorithmOid).toBe('1.2.840.10045.4.3.2');
      expect(p.extensions?.get('2.5.29.15')?.critical).toBe(true);
      expect(p.extensions?.get('2.5.29.37')?.critical).toBe(false);
      expect(p.signature).toEqual(der.subarray(der.length - p.signature.length));
    }
  });

  it('reads serials with the sign octet stripped once', () => {
    for (const [serial, want] of [['ff01', 'ff01'], ['0001', '01'], ['7f', '7f']] as const) {
      const t = buildTbsCertificate({ ...BASE, ...request({ serial: Buffer.from(serial, 'hex') }) } as TbsCertificateInput);
      expect(parseCertificate(assembleCertificate(t, BASE.signatureAlgorithm, Buffer.from([0]))).serialHex).toBe(want);
    }
  });

  it('throws only FlintError malformed on garbage, truncation and trailing data', () => {
    const inputs: Array<Uint8Array | string> = [
      Buffer.alloc(0), randomBytes(300), der.subarray(0, der.length - 1), Buffer.concat([der, Buffer.from([0])]), tbs,
      '-----BEGIN CERTIFICATE-----\nMIIB!!\n-----END CERTIFICATE-----\n', 'not a certificate',
    ];
    for (let i = 0; i < 1500; i++) {
      const m = Buffer.from(der);
      m[Math.floor(Math.random() * m.length)] ^= 1 << Math.floor(Math.random() * 8);
      inputs.push(i % 3 ? m : m.subarray(0, Math.floor(Math.random() * m.length)));
    }
    for (const input of inputs) {
      try {
        parseCertificate(input);
      } catch (e) {
        if (!(e instanceof FlintError) || e.kind !== 'malformed') throw e;
      }
    }
    expect(createHash('sha256').update(der).digest('hex')).toBe(certificateFingerprint(der));
  });
});

describe('certificateSerialHex', () => {
  it('reads the serial without pkijs, matching parseCertificate', async () => {
    const { certificateSerialHex, parseCertificate } = await import('../../../src/pki/certificate.js');
    const { generateKeyPairSync, sign } = await import('node:crypto');
    const { buildTbsCertificate, assembleCertificate } = await import('../../../src/pki/certificate.js');
    const { signatureAlgorithmIdentifier } = await import('../../../src/pki/algorithms.js');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const serial of [Buffer.from('00ff01', 'hex'), Buffer.from('7f'.repeat(16), 'hex'), Buffer.from('80', 'hex')]) {
      const tbs = buildTbsCertificate({
        serial, signatureAlgorithm: signatureAlgorithmIdentifier('ecdsa-sha256'), issuer: Buffer.from('3000', 'hex'), notBefore: new Date(), notAfter: new Date(Date.now() + 1000),
        subject: [{ type: 'CN', value: 'x' }], subjectPublicKeyInfo: publicKey.export({ type: 'spki', format: 'der' }), sans: { dns: [], ip: [], email: [], uri: [] }, keyUsage: [], extKeyUsage: [],
      });
      const der = assembleCertificate(tbs, signatureAlgorithmIdentifier('ecdsa-sha256'), sign('sha256', tbs, privateKey));
      expect(certificateSerialHex(der)).toBe(parseCertificate(der).serialHex);
    }
    expect(() => certificateSerialHex(Buffer.from('3003020101', 'hex'))).toThrow(/not a DER certificate/);
  });
});
