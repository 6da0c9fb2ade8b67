/**
 * OCSP (RFC 6960, profile RFC 5019): request parsing (asn1js) and response building (DER writer).
 *
 *   OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
 *   TBSRequest ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] EXPLICIT GeneralName OPTIONAL,
 *     requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
 *   Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
 *   CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
 *     issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }
 */
import type * as asn1js from 'asn1js';
import { FlintError } from '../errors/index.js';
import { enumerated, explicit, generalizedTime, implicitConstructed, octetString, oid, seq, bitString } from './der.js';
import { contentOf, decodeAsn1, isContext, isUniversal, kids, oidOf, rawOf } from './name.js';
import { OID } from './algorithms.js';

export const OCSP_OIDS = {
  basic: '1.3.6.1.5.5.7.48.1.1',
  nonce: '1.3.6.1.5.5.7.48.1.2',
} as const;

/** OCSPResponseStatus (RFC 6960 §4.2.1). */
export const OCSP_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 } as const;

export type CertIdHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';
const HASHES: Record<string, CertIdHash> = { [OID.sha1]: 'sha1', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };
const HASH_LEN: Record<CertIdHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

export interface CertId {
  hash: CertIdHash;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** Lower-case hex without leading zero octets (matches CertificateRecord.serial). */
  serial: string;
  /** The CertID exactly as received, echoed in the SingleResponse (§4.2.1). */
  raw: Buffer;
}

export interface OcspRequest {
  certIds: CertId[];
  /** The nonce extension's extnValue as received (RFC 8954), echoed verbatim. */
  nonce?: Buffer;
}

export interface ParseLimits {
  maxCertIds: number;
  /** RFC 8954 §2.1: the nonce is 1..32 octets. */
  maxNonce: number;
}

const bad = (detail: string) => new FlintError('malformed', `OCSPRequest: ${detail}`, { code: 'ocsp.malformedRequest' });

function parseCertId(el: asn1js.AsnType): CertId {
  const [alg, nameHash, keyHash, serial, extra] = kids(el);
  if (!isUniversal(el, 16) || !isUniversal(alg, 16) || !isUniversal(nameHash, 4) || !isUniversal(keyHash, 4) || !isUniversal(serial, 2) || extra) throw bad('malformed CertID');
  const hash = HASHES[oidOf(kids(alg)[0]) ?? ''];
  if (!hash) throw bad(`unsupported CertID hash algorithm ${oidOf(kids(alg)[0]) ?? '?'}`);
  const n = contentOf(nameHash!);
  const k = contentOf(keyHash!);
  if (n.length !== HASH_LEN[hash] || k.length !== HASH_LEN[hash]) throw bad('CertID hash length does not match its algorithm');
  const s = contentOf(serial!);
  if (s.length === 0 || s.length > 20 || s[0]! & 0x80) throw bad('CertID serialNumber is not a positive integer of at most 20 octets');
  // Same form as CertificateRecord.serial: lower-case hex, leading 00 octets dropped.
  const hex = s.toString('hex').replace(/^(00)+(?=[0-9a-f]{2})/, '');
  return { hash, issuerNameHash: n, issuerKeyHash: k, serial: hex, raw: rawOf(el) };
}

/** Parses an OCSPRequest; every failure is FlintError('malformed') (→ malformedRequest). */
export function parseOcspRequest(der: Uint8Array, limits: ParseLimits = { maxCertIds: 100, maxNonce: 32 }): OcspRequest {
  const root = decodeAsn1(der, 'OCSPRequest');
  const [tbs, sig, extra] = kids(root);
  if (!isUniversal(root, 16) || !isUniversal(tbs, 16) || (sig && !isContext(sig, 0)) || extra) throw bad('not an OCSPRequest');
  let parts = kids(tbs);
  if (isContext(parts[0], 0)) parts = parts.slice(1); // version
  if (isContext(parts[0], 1)) parts = parts.slice(1); // requestorName
  const [list, exts, more] = parts;
  if (!isUniversal(list, 16) || (exts && !isContext(exts, 2)) || more) throw bad('malformed TBSRequest');
  const reqs = kids(list);
  if (reqs.length === 0) throw bad('empty requestList');
  if (reqs.length > limits.maxCertIds) throw bad(`more than ${limits.maxCertIds} CertIDs`);
  const certIds = reqs.map((r) => {
    if (!isUniversal(r, 16)) throw bad('malformed Request');
    return parseCertId(kids(r)[0]!);
  });
  let nonce: Buffer | undefined;
  if (exts) {
    const list2 = kids(exts)[0];
    if (!isUniversal(list2, 16)) throw bad('malformed requestExtensions');
    for (const e of kids(list2)) {
      const [id, ...rest] = kids(e);
      if (oidOf(id) !== OCSP_OIDS.nonce) continue;
      const value = rest[rest.length - 1];
      if (!isUniversal(value, 4)) throw bad('malformed nonce extension');
      nonce = contentOf(value!);
      // RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32)); some clients send the raw bytes.
      let inner = nonce;
      if (nonce[0] === 0x04) {
        try {
          inner = contentOf(decodeAsn1(nonce, 'nonce'));
        } catch {
          inner = nonce;
        }
      }
      if (inner.length < 1 || inner.length > limits.maxNonce) throw bad(`nonce must be 1..${limits.maxNonce} octets`);
    }
  }
  return { certIds, nonce };
}

/**
 * SingleResponse (§4.2.1):
 *   SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus, thisUpdate GeneralizedTime,
 *     nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, singleExtensions [1] EXPLICIT Extensions OPTIONAL }
 *   CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT UnknownInfo }
 *   RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
 */
export type CertStatus = { status: 'good' } | { status: 'unknown' } | { status: 'revoked'; time: Date; reason: number | null };

export function singleResponse(certIdRaw: Uint8Array, st: CertStatus, thisUpdate: Date, nextUpdate: Date): Buffer {
  let status: Buffer;
  if (st.status === 'good') status = Buffer.from([0x80, 0x00]);
  else if (st.status === 'unknown') status = Buffer.from([0x82, 0x00]);
  else status = st.reason === null ? implicitConstructed(1, generalizedTime(st.time)) : implicitConstructed(1, generalizedTime(st.time), explicit(0, enumerated(st.reason)));
  return seq(certIdRaw, status, generalizedTime(thisUpdate), explicit(0, generalizedTime(nextUpdate)));
}

/**
 * ResponseData (§4.2.1), version v1 omitted (DEFAULT):
 *   ResponseData ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, responderID ResponderID,
 *     producedAt GeneralizedTime, responses SEQUENCE OF SingleResponse, responseExtensions [1] EXPLICIT Extensions OPTIONAL }
 *   ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash }  -- KeyHash: SHA-1 of the key bits
 */
export function buildResponseData(o: { responderKeyHash: Uint8Array; producedAt: Date; responses: Buffer[]; nonce?: Uint8Array }): Buffer {
  const parts = [explicit(2, octetString(o.responderKeyHash)), generalizedTime(o.producedAt), seq(...o.responses)];
  if (o.nonce) parts.push(explicit(1, seq(seq(oid(OCSP_OIDS.nonce), octetString(o.nonce)))));
  return seq(...parts);
}

/**
 *   BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm AlgorithmIdentifier,
 *     signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 *   OCSPResponse ::= SEQUENCE { responseStatus OCSPResponseStatus, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
 *   ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
 */
export function assembleOcspResponse(tbs: Uint8Array, signatureAlgorithm: Uint8Array, signature: Uint8Array, certs: Uint8Array[] = []): Buffer {
  const basic = certs.length ? seq(tbs, signatureAlgorithm, bitString(signature), explicit(0, seq(...certs))) : seq(tbs, signatureAlgorithm, bitString(signature));
  return seq(enumerated(OCSP_STATUS.successful), explicit(0, seq(oid(OCSP_OIDS.basic), octetString(basic))));
}

/** An unsuccessful OCSPResponse: status only, no responseBytes (§4.2.1). */
export function ocspError(status: number): Buffer {
  return seq(enumerated(status));
}

