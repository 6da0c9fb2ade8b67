/**
 * X.509 v2 CRLs (RFC 5280 §5), built with the DER writer. Entries are encoded straight into large
 * chunks by CrlEntryWriter (no object or Buffer per entry), and the TBS and the signed CRL are each
 * assembled with one allocation, so a million-entry CRL costs about three times its size in memory.
 *
 *   CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier,
 *     signatureValue BIT STRING }
 *   TBSCertList ::= SEQUENCE { version Version OPTIONAL (v2), signature AlgorithmIdentifier,
 *     issuer Name, thisUpdate Time, nextUpdate Time OPTIONAL,
 *     revokedCertificates SEQUENCE OF SEQUENCE { userCertificate CertificateSerialNumber,
 *       revocationDate Time, crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *     crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 */
import { bitString, bool, enumerated, explicit, generalizedTime, implicitConstructed, integer, octetString, oid, seq, time } from './der.js';
import { authorityKeyIdentifierExtension, uriName } from './extensions.js';

export const CRL_OIDS = {
  cRLNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  deltaCRLIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
} as const;

export interface CrlEntry {
  /** Serial, lower-case hex. */
  serial: string;
  revokedAt: Date;
  /** RFC 5280 §5.3.1 CRLReason; 0 (unspecified) or null → no reasonCode extension. */
  reason: number | null;
  invalidityDate?: Date;
}

export interface TbsCrlInput {
  /** AlgorithmIdentifier DER of the signing key. */
  signatureAlgorithm: Uint8Array;
  /** Issuer Name DER, exactly the CA certificate's subject. */
  issuerDer: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date;
  /** The entries, or a writer they were streamed into. */
  entries: readonly CrlEntry[] | CrlEntryWriter;
  /** Issuer's subject key identifier (AKI, §5.2.1). */
  authorityKeyId: Uint8Array;
  crlNumber: bigint | number;
  /** Delta CRL (§5.2.4): the base CRL number this delta updates. */
  deltaOf?: bigint | number;
  /** Partitioned CRL (§5.2.5): distribution point URL it covers. */
  distributionPoint?: string;
  /** Issuing Distribution Point onlyContainsUserCerts (§5.2.5): the CRL covers end-entity certificates only. */
  onlyContainsUserCerts?: boolean;
}

function ext(id: string, critical: boolean, value: Uint8Array): Buffer {
  return critical ? seq(oid(id), bool(true), octetString(value)) : seq(oid(id), octetString(value));
}

const reasonExts = new Map<number, Buffer>();

/** crlEntryExtensions (§5.3): reasonCode omitted for unspecified, as RFC 5280 recommends; the common lists are cached. */
function entryExtensions(e: CrlEntry): Buffer | undefined {
  const hasReason = e.reason !== null && e.reason !== 0;
  if (e.invalidityDate) {
    const list: Buffer[] = [];
    if (hasReason) list.push(ext(CRL_OIDS.reasonCode, false, enumerated(e.reason!)));
    list.push(ext(CRL_OIDS.invalidityDate, false, generalizedTime(e.invalidityDate)));
    return seq(...list);
  }
  if (!hasReason) return undefined;
  let exts = reasonExts.get(e.reason!);
  if (!exts) reasonExts.set(e.reason!, (exts = seq(ext(CRL_OIDS.reasonCode, false, enumerated(e.reason!)))));
  return exts;
}

/** DER length octets for any length up to 2^32-1 (X.690 §8.1.3). */
function lengthSize(len: number): number {
  return len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : len < 0x1000000 ? 4 : 5;
}

function writeHeader(buf: Buffer, pos: number, tag: number, len: number): number {
  buf[pos++] = tag;
  const n = lengthSize(len) - 1;
  if (n === 0) {
    buf[pos++] = len;
    return pos;
  }
  buf[pos++] = 0x80 | n;
  for (let i = n - 1; i >= 0; i--) buf[pos++] = Math.floor(len / 2 ** (8 * i)) & 0xff;
  return pos;
}

const header = (tag: number, len: number) => {
  const b = Buffer.allocUnsafe(1 + lengthSize(len));
  writeHeader(b, 0, tag, len);
  return b;
};

const hexValue = (c: number): number => {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  throw new RangeError('CRL entry serial is not hex');
};

/** Writes two decimal digits. */
const digits2 = (buf: Buffer, pos: number, v: number) => {
  buf[pos] = 48 + Math.floor(v / 10);
  buf[pos + 1] = 48 + (v % 10);
};

/**
 * revokedCertificates entries encoded straight into 1 MiB chunks: the hot path of large CRLs
 * (hand-written: per-entry Buffers and objects cost ~1 KB of heap each at a million entries).
 */
export class CrlEntryWriter {
  private readonly chunks: Buffer[] = [];
  private cur: Buffer;
  private pos = 0;
  /** Encoded size of all entries so far. */
  length = 0;
  count = 0;

  constructor(private readonly chunkSize = 1 << 20) {
    this.cur = Buffer.allocUnsafe(chunkSize);
  }

  add(e: CrlEntry): void {
    const hex = e.serial;
    // Serial octets: hex (odd length = a leading 0 nibble) without leading zero octets, at least one.
    if (hex.length === 0) throw new RangeError('CRL entry serial is empty');
    let start = 0;
    const odd = hex.length % 2;
    let octets = (hex.length + odd) / 2;
    if (odd && hex.charCodeAt(0) === 48 && octets > 1) (start = 1, octets--);
    const firstOdd = odd === 1 && start === 0; // a lone non-zero leading nibble
    if (!firstOdd) while (octets > 1 && hex.charCodeAt(start) === 48 && hex.charCodeAt(start + 1) === 48) (start += 2, octets--);
    if (octets > 20) throw new RangeError('CRL entry serial must be at most 20 octets');
    const first = firstOdd ? hexValue(hex.charCodeAt(0)) : (hexValue(hex.charCodeAt(start)) << 4) | hexValue(hex.charCodeAt(start + 1));
    const pad = first & 0x80 ? 1 : 0;
    const t = e.revokedAt;
    const year = t.getUTCFullYear();
    const utc = year >= 1950 && year < 2050; // RFC 5280 §5.1.2.6 / §4.1.2.5
    const timeLen = utc ? 15 : 17;
    const exts = entryExtensions(e);
    const content = 2 + pad + octets + timeLen + (exts?.length ?? 0);
    const total = 1 + lengthSize(content) + content;
    if (this.pos + total > this.cur.length) {
      if (this.pos) this.chunks.push(this.cur.subarray(0, this.pos));
      this.cur = Buffer.allocUnsafe(Math.max(this.chunkSize, total));
      this.pos = 0;
    }
    const b = this.cur;
    let p = writeHeader(b, this.pos, 0x30, content);
    b[p++] = 0x02;
    b[p++] = pad + octets;
    if (pad) b[p++] = 0;
    let i = start;
    if (firstOdd) (b[p++] = first, (i = 1));
    for (; i < hex.length; i += 2) b[p++] = (hexValue(hex.charCodeAt(i)) << 4) | hexValue(hex.charCodeAt(i + 1));
    // UTCTime YYMMDDHHMMSSZ / GeneralizedTime YYYYMMDDHHMMSSZ
    b[p++] = utc ? 0x17 : 0x18;
    b[p++] = timeLen - 2;
    if (!utc) (digits2(b, p, Math.floor(year / 100) % 100), (p += 2));
    digits2(b, p, year % 100);
    digits2(b, p + 2, t.getUTCMonth() + 1);
    digits2(b, p + 4, t.getUTCDate());
    digits2(b, p + 6, t.getUTCHours());
    digits2(b, p + 8, t.getUTCMinutes());
    digits2(b, p + 10, t.getUTCSeconds());
    b[p + 12] = 0x5a; // Z
    p += 13;
    if (exts) p += exts.copy(b, p);
    this.pos = p;
    this.length += total;
    this.count++;
  }

  /** The encoded entries in order (views into the chunks). */
  parts(): Buffer[] {
    return this.pos ? [...this.chunks, this.cur.subarray(0, this.pos)] : [...this.chunks];
  }
}

/** One revokedCertificates entry (DER). */
export function crlEntry(e: CrlEntry): Buffer {
  const w = new CrlEntryWriter(128);
  w.add(e);
  return Buffer.from(w.parts()[0]!);
}

/** Concatenates a TLV header and its content parts into one new buffer. */
function tlvOf(tag: number, parts: readonly Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafe(1 + lengthSize(len) + len);
  let pos = writeHeader(out, 0, tag, len);
  for (const p of parts) (out.set(p, pos), (pos += p.length));
  return out;
}

export function buildTbsCrl(input: TbsCrlInput): Buffer {
  let list = input.entries;
  if (!(list instanceof CrlEntryWriter)) {
    const w = new CrlEntryWriter();
    for (const e of list) w.add(e);
    list = w;
  }
  const parts: Uint8Array[] = [integer(1), input.signatureAlgorithm, input.issuerDer, time(input.thisUpdate), time(input.nextUpdate)];
  if (list.count) parts.push(header(0x30, list.length), ...list.parts());
  const exts: Buffer[] = [authorityKeyIdentifierExtension(input.authorityKeyId), ext(CRL_OIDS.cRLNumber, false, integer(BigInt(input.crlNumber)))];
  // §5.2.4: deltaCRLIndicator is critical. §5.2.5: issuingDistributionPoint is critical.
  if (input.deltaOf !== undefined) exts.push(ext(CRL_OIDS.deltaCRLIndicator, true, integer(BigInt(input.deltaOf))));
  if (input.distributionPoint || input.onlyContainsUserCerts) {
    // IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL,
    //   onlyContainsUserCerts [1] IMPLICIT BOOLEAN DEFAULT FALSE, ... }
    const idp: Buffer[] = [];
    if (input.distributionPoint) idp.push(explicit(0, implicitConstructed(0, uriName(input.distributionPoint))));
    if (input.onlyContainsUserCerts) idp.push(Buffer.from([0x81, 0x01, 0xff]));
    exts.push(ext(CRL_OIDS.issuingDistributionPoint, true, seq(...idp)));
  }
  parts.push(explicit(0, seq(...exts)));
  return tlvOf(0x30, parts);
}

/** CertificateList from the TBS, the AlgorithmIdentifier and the X.509-form signature. */
export function assembleCrl(tbs: Uint8Array, signatureAlgorithm: Uint8Array, signature: Uint8Array): Buffer {
  return tlvOf(0x30, [tbs, signatureAlgorithm, bitString(signature)]);
}

