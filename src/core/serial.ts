/** Serial numbers: 16 bytes from a CSPRNG, positive (RFC 5280 §4.1.2.2; CA/B BR §7.1 wants ≥ 64 random bits). */
import type { RandomBytes } from './ports.js';

export function newSerial(random: RandomBytes): { bytes: Buffer; hex: string } {
  const bytes = Buffer.from(random(16));
  bytes[0] = bytes[0]! & 0x7f; // positive INTEGER without a leading 00 byte
  if (bytes[0] === 0) bytes[0] = 0x01; // keep exactly 16 octets
  return { bytes, hex: bytes.toString('hex') };
}

/**
 * Normalizes a serial given by a user or read from a certificate to the store's key: lower-case
 * hex in whole octets without leading 00 octets, no colons. An odd number of digits (a leading 0
 * nibble dropped, as tools often print it) gets its 0 back.
 */
export function normalizeSerial(s: string): string {
  let hex = s.replace(/[:\s]/g, '').toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]+$/.test(hex)) return '';
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return hex.replace(/^(00)+(?=[0-9a-f]{2})/, '');
}

/**
 * CRL partition of a serial (RFC 5280 §5.2.5 partitioned CRLs, revocation.crlPartitions): the first
 * octet of the serial's minimal encoding (leading 00 octets dropped) modulo `buckets`.
 */
export function serialBucket(hex: string, buckets: number): number {
  const h = normalizeSerial(hex.length % 2 ? '0' + hex : hex);
  return parseInt(h.slice(0, 2) || '0', 16) % buckets;
}
