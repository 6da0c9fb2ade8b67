import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureAlgorithmIdentifier } from '../../../src/pki/algorithms.js';
import { bitString, seq } from '../../../src/pki/der.js';
import { parseCsr, verifyCsrSignature } from '../../../src/pki/csr.js';
import { fromPem, toPem } from '../../../src/pki/pem.js';
import { FlintError } from '../../../src/errors/index.js';
import { ED25519_CSR, P256_CSR, P384_CSR, PSS_CSR, RSA1024_CSR, RSA2048_CSR, RSA3072_CSR, SHA1_CSR } from './fixtures.js';

const NO_SANS = { dns: [], ip: [], email: [], uri: [] };

function badCsr(input: Buffer | string, detail: RegExp): void {
  let err: unknown;
  try {
    parseCsr(input);
  } catch (e) {
    err = e;
  }
  expect(err, String(detail)).toBeInstanceOf(FlintError);
  expect((err as FlintError).kind).toBe('badCSR');
  expect((err as FlintError).detail).toMatch(detail);
}

describe('parseCsr on OpenSSL-made CSRs', () => {
  it('P-256 with SANs of every kind, challengePassword and requested keyUsage', () => {
    const csr = parseCsr(P256_CSR);
    expect(csr.keyType).toBe('P-256');
    expect(csr.keyBits).toBe(256);
    expect(csr.subject).toEqual([{ type: 'C', value: 'US' }, { type: 'O', value: 'Flint Test' }, { type: 'CN', value: 'device-01.example.com' }]);
    expect(csr.sans).toEqual({
      dns: ['device-01.example.com', 'alt.example.com'],
      ip: ['192.0.2.7', '2001:db8::7'],
      email: ['ops@example.com'],
      uri: ['urn:uuid:8f2d2e4c-6d3b-4a35-9a0b-0c1d2e3f4a5b'],
    });
    expect(csr.challengePassword).toBe('s3cret-Challenge');
    expect([...csr.requestedExtensions.keys()]).toEqual(['2.5.29.17', '2.5.29.15']);
    expect(csr.requestedExtensions.get('2.5.29.15')!.toString('hex')).toBe('03020780');
    expect(csr.signatureAlgorithmOid).toBe('1.2.840.10045.4.3.2');
    expect(csr.der).toEqual(fromPem(P256_CSR, 'CERTIFICATE REQUEST')[0]);
    expect(csr.subjectDer[0]).toBe(0x30);
    expect(csr.subjectPublicKeyInfo.length).toBe(91);
    expect(csr.unsupportedSans).toBeUndefined();
    expect(verifyCsrSignature(csr)).toBe(true);
  });

  const cases = [
    ['RSA-2048', RSA2048_CSR, 'RSA-2048', 2048, '1.2.840.113549.1.1.11'],
    ['RSA-3072', RSA3072_CSR, 'RSA-3072', 3072, '1.2.840.113549.1.1.11'],
    ['RSA-1024 (unsupported size, bits still reported)', RSA1024_CSR, 'unsupported', 1024, '1.2.840.113549.1.1.11'],
    ['Ed25519', ED25519_CSR, 'Ed25519', 256, '1.3.101.112'],
    ['P-384 / ecdsa-with-SHA384', P384_CSR, 'P-384', 384, '1.2.840.10045.4.3.3'],
    ['sha1WithRSA (legacy SCEP device)', SHA1_CSR, 'RSA-2048', 2048, '1.2.840.113549.1.1.5'],
    ['RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32)', PSS_CSR, 'RSA-2048', 2048, '1.2.840.113549.1.1.10'],
  ] as const;
  for (const [name, pem, keyType, keyBits, sigOid] of cases) {
    it(`${name}: key type, signature algorithm, proof of possession`, () => {
      const csr = parseCsr(pem);
      expect(csr.keyType).toBe(keyType);
      expect(csr.keyBits).toBe(keyBits);
      expect(csr.signatureAlgorithmOid).toBe(sigOid);
      expect(verifyCsrSignature(csr)).toBe(true);
    });
  }

  it('reads subject, SANs and challengePassword of the other fixtures', () => {
    expect(parseCsr(RSA2048_CSR).sans).toEqual({ ...NO_SANS, dns: ['rsa.example.com'] });
    expect(parseCsr(RSA2048_CSR).challengePassword).toBe('s3cret-Challenge');
    expect(parseCsr(ED25519_CSR).subject).toEqual([{ type: 'CN', value: 'ed.example.com' }]);
    expect(parseCsr(P384_CSR).sans).toEqual(NO_SANS);
    expect(parseCsr(P384_CSR).challengePassword).toBeUndefined();
    const scep = parseCsr(SHA1_CSR);
    expect(scep.subject).toEqual([{ type: 'CN', value: 'legacy-scep-device' }, { type: 'serialNumber', value: 'SN0001' }]);
    expect(scep.challengePassword).toBe('scep-otp-1234');
  });

  it('accepts DER, PEM bytes and the "NEW CERTIFICATE REQUEST" label', () => {
    const der = fromPem(ED25519_CSR, 'CERTIFICATE REQUEST')[0]!;
    expect(parseCsr(der).der).toEqual(der);
    expect(parseCsr(Buffer.from(ED25519_CSR)).der).toEqual(der);
    expect(parseCsr(toPem(der, 'NEW CERTIFICATE REQUEST')).der).toEqual(der);
  });
});

describe('proof of possession failures', () => {
  const der = fromPem(P256_CSR, 'CERTIFICATE REQUEST')[0]!;

  it('a tampered signature fails', () => {
    for (const pem of [P256_CSR, RSA2048_CSR, ED25519_CSR, PSS_CSR, SHA1_CSR]) {
      const d = Buffer.from(fromPem(pem, 'CERTIFICATE REQUEST')[0]!);
      d[d.length - 5] ^= 0x01;
      expect(verifyCsrSignature(parseCsr(d))).toBe(false);
    }
  });

  it('a tampered certificationRequestInfo fails', () => {
    const d = Buffer.from(der);
    const at = d.indexOf(Buffer.from('device-01'));
    d[at] = 'D'.charCodeAt(0);
    const csr = parseCsr(d);
    expect(csr.subject.at(-1)!.value).toBe('Device-01.example.com');
    expect(verifyCsrSignature(csr)).toBe(false);
  });

  it('a signature algorithm that does not match the key fails', () => {
    const csr = parseCsr(der);
    const relabelled = seq(csr.certificationRequestInfo!, signatureAlgorithmIdentifier('rsa-pkcs1-sha256'), bitString(csr.signature!));
    expect(verifyCsrSignature(parseCsr(relabelled))).toBe(false);
    const wrongHash = seq(csr.certificationRequestInfo!, signatureAlgorithmIdentifier('ecdsa-sha384'), bitString(csr.signature!));
    expect(verifyCsrSignature(parseCsr(wrongHash))).toBe(false);
  });

  it('an unsupported algorithm is a badCSR error', () => {
    const csr = parseCsr(der);
    const md5 = seq(csr.certificationRequestInfo!, Buffer.from('300d06092a864886f70d0101040500', 'hex'), bitString(csr.signature!));
    expect(() => verifyCsrSignature(parseCsr(md5))).toThrow(expect.objectContaining({ kind: 'badCSR', detail: expect.stringMatching(/unsupported signature algorithm 1.2.840.113549.1.1.4/) }));
  });

  it('works from der alone when the raw fields are missing', () => {
    const { certificationRequestInfo: _a, signature: _b, signatureAlgorithm: _c, ...bare } = parseCsr(der);
    expect(verifyCsrSignature(bare)).toBe(true);
  });
});

describe('garbage in → FlintError badCSR', () => {
  const der = fromPem(RSA2048_CSR, 'CERTIFICATE REQUEST')[0]!;

  it('gives precise messages', () => {
    badCsr('', /empty/);
    badCsr(Buffer.alloc(0), /empty/);
    badCsr(randomBytes(64).fill(0x30, 0, 1), /not valid DER|not SEQUENCE|trailing/);
    badCsr(der.subarray(0, der.length - 10), /not valid DER/);
    badCsr(Buffer.concat([der, Buffer.from([0, 0])]), /2 bytes of trailing data/);
    badCsr(RSA2048_CSR.replace('MII', 'MI*'), /not valid base64/);
    badCsr(RSA2048_CSR.replace(/\n-----END/, 'A\n-----END'), /not valid base64/);
    badCsr(RSA2048_CSR.replace(/-----END[^]*$/, ''), /has no END line/);
    badCsr(RSA2048_CSR.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE'), /no PEM block with label "CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST"/);
    badCsr(RSA2048_CSR + RSA2048_CSR, /one PEM block, found 2/);
    badCsr('just some text', /no PEM block/);
    badCsr(Buffer.from('3003020101', 'hex'), /not SEQUENCE \{ certificationRequestInfo/);
    badCsr(Buffer.from('308030000000', 'hex'), /indefinite length is not DER/);
  });

  it('never throws anything else on mutated or truncated input', () => {
    let flint = 0;
    for (const src of [der, fromPem(P256_CSR, 'CERTIFICATE REQUEST')[0]!, fromPem(PSS_CSR, 'CERTIFICATE REQUEST')[0]!]) {
      for (let i = 0; i < 1000; i++) {
        const m = Buffer.from(src);
        const n = 1 + Math.floor(Math.random() * 3);
        for (let k = 0; k < n; k++) m[Math.floor(Math.random() * m.length)] = Math.floor(Math.random() * 256);
        const input = i % 4 === 0 ? m.subarray(0, Math.floor(Math.random() * m.length)) : m;
        try {
          const csr = parseCsr(input);
          verifyCsrSignature(csr); // may be false or throw badCSR, nothing else
        } catch (e) {
          if (!(e instanceof FlintError) || e.kind !== 'badCSR') throw e;
          flint++;
        }
      }
    }
    expect(flint).toBeGreaterThan(0);
  });
});
