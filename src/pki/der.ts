/**
 * A minimal DER writer for the hot paths (certificates, OCSP responses, CRL entries).
 * Hand-written on purpose: building the same structures through pkijs's generic objects costs
 * ~2 ms of CPU per certificate (see ../shared/CLIENTS.md), while concatenating pre-encoded
 * buffers costs microseconds. Parsing stays on asn1js/pkijs.
 * X.690 §8/§10 (DER): definite lengths, minimal integers, UTCTime until 2049 (RFC 5280 §4.1.2.5).
 */

export type Der = Buffer;

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One TLV with the given tag byte around the concatenated contents (one allocation, X.690 §8.1.3 lengths). */
export function tlv(tag: number, ...contents: Uint8Array[]): Der {
  let len = 0;
  for (const c of contents) len += c.length;
  const lenOctets = len < 0x80 ? 0 : len < 0x100 ? 1 : len < 0x10000 ? 2 : len < 0x1000000 ? 3 : 4;
  const out = Buffer.allocUnsafe(2 + lenOctets + len);
  out[0] = tag;
  if (lenOctets === 0) out[1] = len;
  else {
    out[1] = 0x80 | lenOctets;
    for (let i = 0; i < lenOctets; i++) out[2 + i] = (len / 2 ** (8 * (lenOctets - 1 - i))) & 0xff;
  }
  let pos = 2 + lenOctets;
  for (const c of contents) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

export const seq = (...items: Uint8Array[]): Der => tlv(TAG.SEQUENCE, ...items);

/** SET OF: DER sorts the encoded elements (X.690 §11.6). */
export function setOf(...items: Uint8Array[]): Der {
  const sorted = [...items].sort((a, b) => Buffer.compare(a, b));
  return tlv(TAG.SET, ...sorted);
}

/** [n] EXPLICIT: a constructed context tag wrapping a complete TLV. */
export const explicit = (n: number, ...inner: Uint8Array[]): Der => tlv(0xa0 | n, ...inner);

/** [n] IMPLICIT primitive: replaces the tag of a primitive value with context tag n. */
export const implicitPrimitive = (n: number, content: Uint8Array): Der => tlv(0x80 | n, content);

/** [n] IMPLICIT constructed: replaces the tag of a SEQUENCE/SET with a constructed context tag. */
export const implicitConstructed = (n: number, ...inner: Uint8Array[]): Der => tlv(0xa0 | n, ...inner);

/** Replace the tag byte of an already-encoded TLV (IMPLICIT tagging of an encoded value). */
export function retag(encoded: Uint8Array, tag: number): Der {
  const out = Buffer.from(encoded);
  out[0] = tag;
  return out;
}

/** INTEGER from a non-negative bigint, number or big-endian unsigned bytes (minimal, positive). */
export function integer(value: bigint | number | Uint8Array): Der {
  let bytes: Buffer;
  if (typeof value === 'bigint' || typeof value === 'number') {
    let v = BigInt(value);
    if (v < 0n) throw new RangeError('negative INTEGER not supported');
    let hex = v.toString(16);
    if (hex.length % 2) hex = '0' + hex;
    bytes = Buffer.from(hex, 'hex');
  } else {
    bytes = Buffer.from(value);
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    bytes = bytes.subarray(i);
    if (bytes.length === 0) bytes = Buffer.from([0]);
  }
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(TAG.INTEGER, bytes);
}

export function enumerated(value: number): Der {
  return retag(integer(value), TAG.ENUMERATED);
}

export const bool = (v: boolean): Der => tlv(TAG.BOOLEAN, Buffer.from([v ? 0xff : 0x00]));
export const nullDer = (): Der => Buffer.from([TAG.NULL, 0]);
export const octetString = (b: Uint8Array): Der => tlv(TAG.OCTET_STRING, b);
export const utf8String = (s: string): Der => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
export const printableString = (s: string): Der => tlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
export const ia5String = (s: string): Der => tlv(TAG.IA5_STRING, Buffer.from(s, 'latin1'));

/** BIT STRING with whole bytes (unused bits 0) — keys, signatures. */
export const bitString = (b: Uint8Array, unusedBits = 0): Der =>
  tlv(TAG.BIT_STRING, Buffer.from([unusedBits]), b);

/**
 * Named-bit BIT STRING (e.g. KeyUsage): bit 0 is the MSB of the first byte; DER drops trailing
 * zero bits and counts them as unused (X.690 §11.2.2).
 */
export function namedBits(bits: number[]): Der {
  if (bits.length === 0) return tlv(TAG.BIT_STRING, Buffer.from([0]));
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[Math.floor(b / 8)]! |= 0x80 >> (b % 8);
  const unused = 7 - (max % 8);
  return tlv(TAG.BIT_STRING, Buffer.from([unused]), bytes);
}

const oidCache = new Map<string, Der>();

/** OBJECT IDENTIFIER from dotted form; encodings are cached (a handful of OIDs recur). */
export function oid(dotted: string): Der {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2) throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  const encodeArc = (arc: bigint) => {
    const tmp: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) tmp.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...tmp);
  };
  encodeArc(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) encodeArc(arc);
  const der = tlv(TAG.OID, Buffer.from(out));
  oidCache.set(dotted, der);
  return der;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** RFC 5280 §4.1.2.5: UTCTime for years 1950–2049, GeneralizedTime otherwise; always Zulu, no fractions. */
export function time(d: Date): Der {
  const y = d.getUTCFullYear();
  const rest =
    pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) + pad(d.getUTCHours()) + pad(d.getUTCMinutes()) + pad(d.getUTCSeconds()) + 'Z';
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(pad(y % 100) + rest, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(pad(y, 4) + rest, 'latin1'));
}

/** GeneralizedTime always (OCSP producedAt/thisUpdate, CRL invalidityDate). */
export function generalizedTime(d: Date): Der {
  const s =
    pad(d.getUTCFullYear(), 4) + pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) + pad(d.getUTCHours()) + pad(d.getUTCMinutes()) + pad(d.getUTCSeconds()) + 'Z';
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(s, 'latin1'));
}

/**
 * Reads the outer TLV header at `offset`: returns the tag, where the content starts and its length.
 * Enough to slice pre-encoded structures (e.g. take the TBS out of a certificate) without a parser.
 */
export function readHeader(buf: Uint8Array, offset = 0): { tag: number; contentStart: number; length: number; end: number } {
  if (offset + 2 > buf.length) throw new RangeError('truncated DER');
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || pos + n > buf.length) throw new RangeError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    pos += n;
  }
  if (pos + len > buf.length) throw new RangeError('truncated DER');
  return { tag, contentStart: pos, length: len, end: pos + len };
}

/** Splits the content of a constructed TLV into its encoded children. */
export function children(buf: Uint8Array, offset = 0): Buffer[] {
  const h = readHeader(buf, offset);
  const out: Buffer[] = [];
  let pos = h.contentStart;
  while (pos < h.end) {
    const c = readHeader(buf, pos);
    out.push(Buffer.from(buf.subarray(pos, c.end)));
    pos = c.end;
  }
  return out;
}

/** The encoded children of the constructed TLV `tlv` (views into it, not copies). */
export function childViews(tlv: Buffer): Buffer[] {
  const h = readHeader(tlv, 0);
  const out: Buffer[] = [];
  for (let pos = h.contentStart; pos < h.end; ) {
    const c = readHeader(tlv, pos);
    out.push(tlv.subarray(pos, c.end));
    pos = c.end;
  }
  return out;
}

/** Content octets of a TLV (a view). */
export function valueOf(tlv: Buffer): Buffer {
  const h = readHeader(tlv, 0);
  return tlv.subarray(h.contentStart, h.end);
}

/** Dotted form of an encoded OBJECT IDENTIFIER TLV (X.690 §8.19); throws RangeError on a bad encoding. */
export function oidText(tlv: Buffer): string {
  const h = readHeader(tlv, 0);
  if (h.tag !== 0x06 || h.length === 0 || tlv[h.end - 1]! & 0x80) throw new RangeError('not an OID');
  const arcs: number[] = [];
  let v = 0;
  for (let i = h.contentStart; i < h.end; i++) {
    if (v === 0 && tlv[i] === 0x80) throw new RangeError('non-minimal OID arc');
    v = v * 128 + (tlv[i]! & 0x7f);
    if (!(tlv[i]! & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}
