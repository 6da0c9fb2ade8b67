import { describe, expect, it } from 'vitest';
import { newSerial, normalizeSerial } from '../../../src/core/serial.js';

describe('normalizeSerial: what users and certificates give → the store key', () => {
  it('keeps whole octets: a dropped leading 0 nibble comes back, leading 00 octets go', () => {
    expect(normalizeSerial('0A1B')).toBe('0a1b');
    expect(normalizeSerial('a1b')).toBe('0a1b'); // openssl/tests that strip leading zeros
    expect(normalizeSerial('0x0a:1b')).toBe('0a1b');
    expect(normalizeSerial('00 0a 1b')).toBe('0a1b');
    expect(normalizeSerial('00')).toBe('00');
    expect(normalizeSerial('xyz')).toBe('');
  });

  it('is the identity on serials the CA makes', () => {
    for (let i = 0; i < 200; i++) {
      const { hex } = newSerial((n) => Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256))));
      expect(normalizeSerial(hex)).toBe(hex);
    }
  });
});
