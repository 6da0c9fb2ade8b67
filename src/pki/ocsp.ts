/**
 * OCSP (RFC 6960, profile RFC 5019): request parsing (hand-walked DER) and response building (DER writer).
 *
 *   OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
 *   TBSRequest ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] EXPLICIT GeneralName OPTIONAL,
 *     requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
 *   Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
 *   CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
 *     issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }
 */
import { FlintError } from '../errors/index.js';
import { enumerated, explicit, generalizedTime, implicitConstructed, octetString, oid, readHeader, seq, bitString } from './der.js';
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

/*
 * Hand-walked DER instead of asn1js: the request is tiny and fixed in shape, and asn1js costs
 * ~100 µs per request on the live (nonce) OCSP path. Every failure is FlintError('malformed').
 */
interface El {
  tag: number;
  content: Buffer;
  raw: Buffer;
  end: number;
}

function element(buf: Buffer, pos: number): El {
  let h;
  try {
    h = readHeader(buf, pos);
  } catch {
    throw bad('truncated or malformed DER');
  }
  if ((h.tag & 0x1f) === 0x1f) throw bad('unexpected high tag number');
  return { tag: h.tag, content: buf.subarray(h.contentStart, h.end), raw: buf.subarray(pos, h.end), end: h.end };
}

function elements(parent: El): El[] {
  if (!(parent.tag & 0x20)) throw bad('expected a constructed element');
  const out: El[] = [];
  for (let pos = 0; pos < parent.content.length; ) {
    const e = element(parent.content, pos);
    out.push(e);
    pos = e.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const OBJECT_IDENTIFIER = 0x06;
/** [n] in the context class, constructed or not (EXPLICIT tags are constructed). */
const isCtx = (e: El | undefined, n: number) => !!e && (e.tag & 0xdf) === (0x80 | n);

/** OID content octets (hex) → CertID hash name. */
const HASH_BY_OID = new Map(Object.entries(HASHES).map(([o, h]) => [oid(o).subarray(2).toString('hex'), h]));
const NONCE_OID = oid(OCSP_OIDS.nonce).subarray(2).toString('hex');

/** Dotted form of OID content octets, for error messages only. */
function dotted(c: Buffer): string {
  const arcs: number[] = [];
  let v = 0;
  for (const b of c) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) (arcs.push(v), (v = 0));
  }
  if (!arcs.length) return '?';
  const f = arcs[0]!;
  return [f < 80 ? Math.floor(f / 40) : 2, f < 80 ? f % 40 : f - 80, ...arcs.slice(1)].join('.');
}

function parseCertId(el: El | undefined): CertId {
  if (!el || el.tag !== SEQUENCE) throw bad('malformed CertID');
  const [alg, nameHash, keyHash, serial, extra] = elements(el);
  if (alg?.tag !== SEQUENCE || nameHash?.tag !== OCTET_STRING || keyHash?.tag !== OCTET_STRING || serial?.tag !== INTEGER || extra) throw bad('malformed CertID');
  const algOid = elements(alg)[0];
  if (algOid?.tag !== OBJECT_IDENTIFIER) throw bad('malformed CertID hash algorithm');
  const hash = HASH_BY_OID.get(algOid.content.toString('hex'));
  if (!hash) throw bad(`unsupported CertID hash algorithm ${dotted(algOid.content)}`);
  const n = nameHash.content;
  const k = keyHash.content;
  if (n.length !== HASH_LEN[hash] || k.length !== HASH_LEN[hash]) throw bad('CertID hash length does not match its algorithm');
  const s = serial.content;
  if (s.length === 0 || s.length > 20 || s[0]! & 0x80) throw bad('CertID serialNumber is not a positive integer of at most 20 octets');
  // Same form as CertificateRecord.serial: lower-case hex, leading 00 octets dropped.
  const hex = s.toString('hex').replace(/^(00)+(?=[0-9a-f]{2})/, '');
  return { hash, issuerNameHash: n, issuerKeyHash: k, serial: hex, raw: el.raw };
}

/** Parses an OCSPRequest; every failure is FlintError('malformed') (→ malformedRequest). */
export function parseOcspRequest(der: Uint8Array, limits: ParseLimits = { maxCertIds: 100, maxNonce: 32 }): OcspRequest {
  const buf = Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const root = element(buf, 0);
  if (root.end !== buf.length) throw bad('trailing data after the OCSPRequest');
  if (root.tag !== SEQUENCE) throw bad('not an OCSPRequest');
  const [tbs, sig, extra] = elements(root);
  if (tbs?.tag !== SEQUENCE || (sig && !isCtx(sig, 0)) || extra) throw bad('not an OCSPRequest');
  let parts = elements(tbs);
  if (isCtx(parts[0], 0)) parts = parts.slice(1); // version
  if (isCtx(parts[0], 1)) parts = parts.slice(1); // requestorName
  const [list, exts, more] = parts;
  if (list?.tag !== SEQUENCE || (exts && !isCtx(exts, 2)) || more) throw bad('malformed TBSRequest');
  const reqs = elements(list);
  if (reqs.length === 0) throw bad('empty requestList');
  if (reqs.length > limits.maxCertIds) throw bad(`more than ${limits.maxCertIds} CertIDs`);
  const certIds = reqs.map((r) => {
    if (r.tag !== SEQUENCE) throw bad('malformed Request');
    return parseCertId(elements(r)[0]);
  });
  let nonce: Buffer | undefined;
  if (exts) {
    const list2 = elements(exts)[0];
    if (list2?.tag !== SEQUENCE) throw bad('malformed requestExtensions');
    for (const e of elements(list2)) {
      if (e.tag !== SEQUENCE) throw bad('malformed extension');
      const [id, ...rest] = elements(e);
      if (id?.tag !== OBJECT_IDENTIFIER) throw bad('malformed extension');
      if (id.content.toString('hex') !== NONCE_OID) continue;
      const value = rest[rest.length - 1];
      if (value?.tag !== OCTET_STRING) throw bad('malformed nonce extension');
      nonce = value.content;
      // RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32)); some clients send the raw bytes.
      let inner = nonce;
      if (nonce[0] === OCTET_STRING) {
        try {
          const n = element(nonce, 0);
          inner = n.end === nonce.length ? n.content : nonce;
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

