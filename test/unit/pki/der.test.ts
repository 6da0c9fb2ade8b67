import { describe, expect, it } from 'vitest';
import { integer, oid, time, namedBits, readHeader, seq, children } from '../../../src/pki/der.js';

describe('der', () => {
  it('encodes minimal positive integers', () => {
    expect(integer(0).toString('hex')).toBe('020100');
    expect(integer(127).toString('hex')).toBe('02017f');
    expect(integer(128).toString('hex')).toBe('02020080');
    expect(integer(Buffer.from([0, 0, 0x81])).toString('hex')).toBe('02020081');
  });
  it('encodes OIDs', () => {
    expect(oid('1.2.840.113549.1.1.11').toString('hex')).toBe('06092a864886f70d01010b');
    expect(oid('2.5.29.17').toString('hex')).toBe('0603551d11');
  });
  it('picks UTCTime before 2050 and GeneralizedTime after', () => {
    expect(time(new Date('2026-01-02T03:04:05Z')).toString('latin1').slice(2)).toBe('260102030405Z');
    expect(time(new Date('2050-01-01T00:00:00Z'))[0]).toBe(0x18);
  });
  it('drops trailing zero bits of named bit strings', () => {
    // digitalSignature(0) + keyCertSign(5) + cRLSign(6) = 0x86, 1 unused bit
    expect(namedBits([0, 5, 6]).toString('hex')).toBe('03020186');
    expect(namedBits([0]).toString('hex')).toBe('03020780');
  });
  it('reads headers and children, long lengths included', () => {
    const big = seq(Buffer.alloc(300, 1), integer(5));
    const h = readHeader(big);
    expect(h.length).toBe(big.length - 4);
    const kids = children(seq(integer(1), integer(2)));
    expect(kids.map((k) => k.toString('hex'))).toEqual(['020101', '020102']);
  });
});
