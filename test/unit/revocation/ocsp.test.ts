/** pki/ocsp.ts: request parsing limits and response encoding (RFC 6960 §4, RFC 8954 nonce). */
import { describe, expect, it } from 'vitest';
import { integer, octetString, oid, seq, explicit, nullDer } from '../../../src/pki/der.js';
import { OID } from '../../../src/pki/algorithms.js';
import { ocspError, OCSP_OIDS, parseOcspRequest, singleResponse } from '../../../src/pki/ocsp.js';
import { isFlintError } from '../../../src/errors/index.js';

function certId(hash: string = OID.sha1, len = 20, serial: Buffer = Buffer.from('00ab', 'hex')): Buffer {
  return seq(seq(oid(hash), nullDer()), octetString(Buffer.alloc(len, 1)), octetString(Buffer.alloc(len, 2)), integer(serial));
}
function request(ids: Buffer[], nonceExtnValue?: Buffer): Buffer {
  const parts = [seq(...ids.map((i) => seq(i)))];
  if (nonceExtnValue) parts.push(explicit(2, seq(seq(oid(OCSP_OIDS.nonce), octetString(nonceExtnValue)))));
  return seq(seq(...parts));
}
function malformed(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    return isFlintError(e) && e.kind === 'malformed';
  }
}

describe('OCSPRequest parsing', () => {
  it('reads SHA-1 and SHA-256 CertIDs, normalizes serials, keeps the raw CertID', () => {
    const a = certId(OID.sha1, 20, Buffer.from('00ab', 'hex'));
    const b = certId(OID.sha256, 32, Buffer.from('0a01', 'hex'));
    const r = parseOcspRequest(request([a, b]));
    expect(r.certIds.map((c) => [c.hash, c.serial])).toEqual([['sha1', 'ab'], ['sha256', '0a01']]);
    expect(r.certIds[0]!.raw.equals(a)).toBe(true);
    expect(r.nonce).toBeUndefined();
  });

  it('accepts a 1..32-octet nonce and rejects longer ones', () => {
    const n16 = octetString(Buffer.alloc(16, 7));
    expect(parseOcspRequest(request([certId()], n16)).nonce!.equals(n16)).toBe(true);
    expect(parseOcspRequest(request([certId()], octetString(Buffer.alloc(32, 7)))).nonce).toBeDefined();
    expect(malformed(() => parseOcspRequest(request([certId()], octetString(Buffer.alloc(33, 7)))))).toBe(true);
    expect(malformed(() => parseOcspRequest(request([certId()], Buffer.alloc(64, 9))))).toBe(true);
  });

  it('rejects garbage, truncation, trailing data, unsupported hashes, bad hash lengths and too many CertIDs', () => {
    const good = request([certId()]);
    expect(malformed(() => parseOcspRequest(Buffer.from('garbage')))).toBe(true);
    expect(malformed(() => parseOcspRequest(good.subarray(0, good.length - 3)))).toBe(true);
    expect(malformed(() => parseOcspRequest(Buffer.concat([good, Buffer.from([0])])))).toBe(true);
    expect(malformed(() => parseOcspRequest(Buffer.alloc(0)))).toBe(true);
    expect(malformed(() => parseOcspRequest(request([certId('1.2.840.113549.2.5', 16)])))).toBe(true); // MD5
    expect(malformed(() => parseOcspRequest(request([certId(OID.sha256, 20)])))).toBe(true);
    expect(malformed(() => parseOcspRequest(request([])))).toBe(true);
    expect(parseOcspRequest(request(Array.from({ length: 100 }, () => certId()))).certIds).toHaveLength(100);
    expect(malformed(() => parseOcspRequest(request(Array.from({ length: 101 }, () => certId()))))).toBe(true);
  });
});

describe('OCSP response encoding', () => {
  it('encodes error statuses and CertStatus choices', () => {
    expect(ocspError(1).toString('hex')).toBe('30030a0101');
    expect(ocspError(6).toString('hex')).toBe('30030a0106');
    const t = new Date('2026-01-02T03:04:05Z');
    const id = certId();
    const good = singleResponse(id, { status: 'good' }, t, t).toString('hex');
    expect(good).toContain(id.toString('hex') + '8000');
    expect(singleResponse(id, { status: 'unknown' }, t, t).toString('hex')).toContain(id.toString('hex') + '8200');
    const revoked = singleResponse(id, { status: 'revoked', time: t, reason: 1 }, t, t).toString('hex');
    expect(revoked).toContain(id.toString('hex') + 'a116' + '180f' + Buffer.from('20260102030405Z').toString('hex') + 'a0030a0101');
  });
});
