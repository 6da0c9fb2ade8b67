/** Serial numbers: 16 bytes from a CSPRNG, positive (RFC 5280 §4.1.2.2; CA/B BR §7.1 wants ≥ 64 random bits). */
import type { RandomBytes } from './ports.js';

export function newSerial(random: RandomBytes): { bytes: Buffer; hex: string } {
  const bytes = Buffer.from(random(16));
  bytes[0] = bytes[0]! & 0x7f; // positive INTEGER without a leading 00 byte
  if (bytes[0] === 0) bytes[0] = 0x01; // keep exactly 16 octets
  return { bytes, hex: bytes.toString('hex') };
}

/** Normalizes a serial given by a user or read from a certificate: lower-case hex, no leading zeros, no colons. */
export function normalizeSerial(s: string): string {
  const hex = s.replace(/[:\s]/g, '').toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]+$/.test(hex)) return '';
  return hex.replace(/^(00)+(?=[0-9a-f]{2})/, '');
}
