/** pki/crl.ts: structure checked by openssl (an independent parser and verifier), and speed at 100k entries. */
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signatureAlgorithmIdentifier } from '../../../src/pki/algorithms.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { assembleCrl, buildTbsCrl, crlEntry, CrlEntryWriter, type CrlEntry } from '../../../src/pki/crl.js';
import { enumerated, generalizedTime, integer, octetString, oid, seq, time } from '../../../src/pki/der.js';
import { hasCommand, run } from '../../helpers/flintca.js';
import { requireTool, tempDir } from '../../helpers/tmp.js';

const tmp = tempDir('flintca-crl-');
afterAll(() => tmp.cleanup());
const ALG = signatureAlgorithmIdentifier('ecdsa-sha256');

describe('CRL builder (RFC 5280 §5)', () => {
  it('encodes entries: reasonCode omitted for unspecified, present otherwise, invalidityDate optional', () => {
    const t = new Date('2026-01-02T03:04:05Z');
    expect(crlEntry({ serial: '01', revokedAt: t, reason: 0 }).toString('hex')).toBe('3012020101170d3236303130323033303430355a');
    const withReason = crlEntry({ serial: '01', revokedAt: t, reason: 1, invalidityDate: t }).toString('hex');
    expect(withReason).toContain('0603551d15' + '0403' + '0a0101'); // reasonCode, OCTET STRING { ENUMERATED 1 }
    expect(withReason).toContain('0603551d18'); // invalidityDate
    expect(crlEntry({ serial: '80', revokedAt: t, reason: null }).subarray(2, 6).toString('hex')).toBe('02020080');
  });

  it('streams entries byte for byte like the generic DER writer (odd/padded/zero-led serials, UTCTime and GeneralizedTime, reasons)', () => {
    const generic = (e: CrlEntry) => {
      const exts: Buffer[] = [];
      if (e.reason) exts.push(seq(oid('2.5.29.21'), octetString(enumerated(e.reason))));
      if (e.invalidityDate) exts.push(seq(oid('2.5.29.24'), octetString(generalizedTime(e.invalidityDate))));
      const hex = e.serial.length % 2 ? '0' + e.serial : e.serial;
      return seq(integer(Buffer.from(hex, 'hex')), time(e.revokedAt), ...(exts.length ? [seq(...exts)] : []));
    };
    const serials = ['1', '0', '00', '7f', '80', 'ff', '0ab', '000ab', '00ff', '0080', 'abc', '1' + 'f'.repeat(39), 'c0ffee'.repeat(3)];
    const times = [new Date('2026-01-02T03:04:05Z'), new Date('2050-06-07T08:09:10Z'), new Date('1999-12-31T23:59:59Z')];
    const w = new CrlEntryWriter(64); // small chunks: entries cross chunk boundaries
    const expected: Buffer[] = [];
    serials.forEach((serial, i) => {
      const e: CrlEntry = { serial, revokedAt: times[i % 3]!, reason: [null, 0, 1, 6][i % 4]!, invalidityDate: i % 5 === 0 ? times[0] : undefined };
      expect(crlEntry(e).toString('hex'), serial).toBe(generic(e).toString('hex'));
      w.add(e);
      expected.push(generic(e));
    });
    expect(Buffer.concat(w.parts()).equals(Buffer.concat(expected))).toBe(true);
    expect(w.count).toBe(serials.length);
    expect(() => crlEntry({ serial: 'xyz', revokedAt: times[0]!, reason: null })).toThrow(/hex/);
    expect(() => crlEntry({ serial: 'ab'.repeat(21), revokedAt: times[0]!, reason: null })).toThrow(/20 octets/);
  });

  it('produces CRLs openssl verifies and lists (full with 100k entries, delta + IDP, a list over 16 MiB); builds 100k entries fast', () => {
    if (!requireTool(hasCommand('openssl'), 'openssl')) return;
    const keyFile = join(tmp.path, 'ca.key');
    const crtFile = join(tmp.path, 'ca.pem');
    const r = run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-subj', '/O=Test/CN=CRL Test CA', '-days', '2', '-out', crtFile]);
    expect(r.code, r.stderr).toBe(0);
    const ca = parseCertificate(readFileSync(crtFile, 'utf8'));
    const key = createPrivateKey(readFileSync(crtFile.replace('.pem', '.key'), 'utf8'));
    const now = new Date();
    const entries = Array.from({ length: 100_000 }, (_, i) => ({ serial: (0x10000000 + i).toString(16), revokedAt: now, reason: i % 3 === 0 ? 0 : 1 }));
    const started = performance.now();
    const tbs = buildTbsCrl({ signatureAlgorithm: ALG, issuerDer: ca.subjectDer, thisUpdate: now, nextUpdate: new Date(now.getTime() + 86400_000), entries, authorityKeyId: ca.subjectKeyId!, crlNumber: 7 });
    expect(performance.now() - started).toBeLessThan(3000);
    const full = join(tmp.path, 'full.crl');
    writeFileSync(full, assembleCrl(tbs, ALG, sign('sha256', tbs, key)));
    const v = run('openssl', ['crl', '-inform', 'DER', '-in', full, '-CAfile', crtFile, '-verify', '-noout']);
    expect(v.stdout + v.stderr).toMatch(/verify OK/);

    const dtbs = buildTbsCrl({ signatureAlgorithm: ALG, issuerDer: ca.subjectDer, thisUpdate: now, nextUpdate: new Date(now.getTime() + 3600_000), entries: entries.slice(0, 2), authorityKeyId: ca.subjectKeyId!, crlNumber: 8, deltaOf: 7, distributionPoint: 'http://127.0.0.1/crl/x.crl' });
    const delta = join(tmp.path, 'delta.crl');
    writeFileSync(delta, assembleCrl(dtbs, ALG, sign('sha256', dtbs, key)));
    const text = run('openssl', ['crl', '-inform', 'DER', '-in', delta, '-noout', '-text']).stdout;
    expect(text).toMatch(/Delta CRL Indicator: critical\s+7/);
    expect(text).toMatch(/Issuing Distribution Point: critical/);
    expect(text).toMatch(/CRL Number:\s+8/);
    expect(text).toMatch(/Serial Number: 10000001[\s\S]*Key Compromise/);
    const dv = run('openssl', ['crl', '-inform', 'DER', '-in', delta, '-CAfile', crtFile, '-verify', '-noout']);
    expect(dv.stdout + dv.stderr).toMatch(/verify OK/);

    // Past 16 MiB of entries (~400k) the list length takes four octets; openssl still verifies it.
    const big = new CrlEntryWriter();
    for (let i = 0; i < 420_000; i++) big.add({ serial: (0x7a000000_00000000n + BigInt(i) * 7919n).toString(16), revokedAt: now, reason: 1 });
    expect(big.length).toBeGreaterThan(2 ** 24);
    const btbs = buildTbsCrl({ signatureAlgorithm: ALG, issuerDer: ca.subjectDer, thisUpdate: now, nextUpdate: new Date(now.getTime() + 86400_000), entries: big, authorityKeyId: ca.subjectKeyId!, crlNumber: 9 });
    const bigFile = join(tmp.path, 'big.crl');
    writeFileSync(bigFile, assembleCrl(btbs, ALG, sign('sha256', btbs, key)));
    const bv = run('openssl', ['crl', '-inform', 'DER', '-in', bigFile, '-CAfile', crtFile, '-verify', '-noout']);
    expect(bv.stdout + bv.stderr).toMatch(/verify OK/);
  });
});
