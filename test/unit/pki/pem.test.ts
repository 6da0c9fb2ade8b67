import { describe, expect, it } from 'vitest';
import { derOrPem, fromPem, toPem } from '../../../src/pki/pem.js';
import { FlintError } from '../../../src/errors/index.js';

const DER = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

function malformed(fn: () => unknown, msg: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FlintError);
    expect((e as FlintError).kind).toBe('malformed');
    expect((e as FlintError).detail).toMatch(msg);
    return;
  }
  throw new Error('expected a FlintError');
}

describe('pem', () => {
  it('writes 64-character lines and reads them back', () => {
    const pem = toPem(DER, 'CERTIFICATE');
    const lines = pem.trim().split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines.at(-1)).toBe('-----END CERTIFICATE-----');
    expect(lines[1]!.length).toBe(64);
    expect(fromPem(pem, 'CERTIFICATE')).toEqual([DER]);
    expect(fromPem(pem)).toEqual([DER]);
  });

  it('returns every block of the label, skipping others and explanatory text', () => {
    const text = `Subject: x\n${toPem(DER, 'CERTIFICATE')}junk between\n${toPem(Buffer.from([1, 2, 3]), 'X509 CRL')}\r\n${toPem(Buffer.from([9]), 'CERTIFICATE').replace(/\n/g, '\r\n')}`;
    expect(fromPem(text, 'CERTIFICATE')).toEqual([DER, Buffer.from([9])]);
    expect(fromPem(text, ['X509 CRL'])).toEqual([Buffer.from([1, 2, 3])]);
    expect(fromPem(text)).toHaveLength(3);
  });

  it('is strict about base64 and structure', () => {
    const pem = toPem(DER, 'CERTIFICATE');
    malformed(() => fromPem(pem.replace('AAECAwQF', 'AAEC*wQF'), 'CERTIFICATE'), /not valid base64/);
    malformed(() => fromPem(pem.replace(/=*\n-----END/, '\n-----END').replace(/[A-Za-z0-9+/]\n-----END/, '\n-----END'), 'CERTIFICATE'), /not valid base64/);
    malformed(() => fromPem('-----BEGIN CERTIFICATE-----\nAAAA=AAA\n-----END CERTIFICATE-----', 'CERTIFICATE'), /not valid base64/);
    malformed(() => fromPem('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----'), /empty/);
    malformed(() => fromPem(pem.replace('END CERTIFICATE', 'END X509 CRL')), /ends with/);
    malformed(() => fromPem(pem.split('-----END')[0]!), /has no END line/);
    malformed(() => fromPem(pem, 'CERTIFICATE REQUEST'), /no PEM block with label "CERTIFICATE REQUEST"/);
    malformed(() => fromPem('-----BEGIN CERT\nIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), /BEGIN line is malformed/);
    malformed(() => fromPem('-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----'), /headers/);
  });

  it('stays linear on hostile input', () => {
    const start = performance.now();
    for (const evil of ['-----BEGIN A'.repeat(50_000), '-----BEGIN X-----' + 'A'.repeat(1_000_000) + '*\n-----END X-----', '-----BEGIN ' + 'a '.repeat(200_000)]) {
      expect(() => fromPem(evil)).toThrow(FlintError);
    }
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it('derOrPem accepts DER bytes, PEM text or PEM bytes holding one block', () => {
    const pem = toPem(DER, 'CERTIFICATE');
    expect(derOrPem(DER, 'CERTIFICATE')).toEqual(DER);
    expect(derOrPem(pem, 'CERTIFICATE')).toEqual(DER);
    expect(derOrPem(Buffer.from(pem), 'CERTIFICATE')).toEqual(DER);
    expect(derOrPem(new Uint8Array(DER), 'CERTIFICATE')).toEqual(DER);
    malformed(() => derOrPem(pem + pem, 'CERTIFICATE'), /one PEM block, found 2/);
    malformed(() => derOrPem('', 'CERTIFICATE'), /empty/);
    malformed(() => derOrPem(Buffer.alloc(0), 'CERTIFICATE'), /empty/);
    malformed(() => derOrPem('hello', 'CERTIFICATE'), /no PEM block/);
  });
});
