/**
 * X.509 v2 CRLs (RFC 5280 §5), built with the DER writer: fast enough for 100k entries because
 * each entry is encoded once and the list is concatenated with one Buffer.concat.
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
import { tagHeader } from './name.js';
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
  entries: readonly CrlEntry[];
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

/**
 * One revokedCertificates entry; reasonCode (§5.3.1) omitted for unspecified, as RFC 5280 recommends.
 * Hot path for large CRLs: the common extension lists are cached and each entry is one concat.
 */
export function crlEntry(e: CrlEntry): Buffer {
  let exts: Buffer | undefined;
  const hasReason = e.reason !== null && e.reason !== 0;
  if (e.invalidityDate) {
    const list: Buffer[] = [];
    if (hasReason) list.push(ext(CRL_OIDS.reasonCode, false, enumerated(e.reason!)));
    list.push(ext(CRL_OIDS.invalidityDate, false, generalizedTime(e.invalidityDate)));
    exts = seq(...list);
  } else if (hasReason) {
    exts = reasonExts.get(e.reason!);
    if (!exts) reasonExts.set(e.reason!, (exts = seq(ext(CRL_OIDS.reasonCode, false, enumerated(e.reason!)))));
  }
  let serial = Buffer.from(e.serial.length % 2 ? '0' + e.serial : e.serial, 'hex');
  let i = 0;
  while (i < serial.length - 1 && serial[i] === 0) i++;
  if (i) serial = serial.subarray(i);
  const pad = serial[0]! & 0x80 ? 1 : 0;
  const ih = tagHeader(0x02, serial.length + pad);
  const t = time(e.revokedAt);
  const len = ih.length + pad + serial.length + t.length + (exts?.length ?? 0);
  const h = tagHeader(0x30, len);
  const parts = pad ? [h, ih, ZERO, serial, t] : [h, ih, serial, t];
  if (exts) parts.push(exts);
  return Buffer.concat(parts, h.length + len);
}
const ZERO = Buffer.from([0]);

export function buildTbsCrl(input: TbsCrlInput): Buffer {
  const parts: Buffer[] = [integer(1), Buffer.from(input.signatureAlgorithm), Buffer.from(input.issuerDer), time(input.thisUpdate), time(input.nextUpdate)];
  if (input.entries.length) {
    const encoded = input.entries.map(crlEntry);
    let len = 0;
    for (const b of encoded) len += b.length;
    const h = tagHeader(0x30, len);
    encoded.unshift(h);
    parts.push(Buffer.concat(encoded, h.length + len));
  }
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
  return seq(...parts);
}

/** CertificateList from the TBS, the AlgorithmIdentifier and the X.509-form signature. */
export function assembleCrl(tbs: Uint8Array, signatureAlgorithm: Uint8Array, signature: Uint8Array): Buffer {
  return seq(tbs, signatureAlgorithm, bitString(signature));
}

