/**
 * PKCS#10 certification requests (RFC 2986) — parsing and proof of possession.
 *
 *   CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo CertificationRequestInfo,
 *     signatureAlgorithm       AlgorithmIdentifier,
 *     signature                BIT STRING }
 *   CertificationRequestInfo ::= SEQUENCE {
 *     version       INTEGER { v1(0) },
 *     subject       Name,
 *     subjectPKInfo SubjectPublicKeyInfo,
 *     attributes    [0] IMPLICIT SET OF Attribute }
 *   Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET SIZE(1..MAX) OF ANY }
 *
 * Attributes read: challengePassword (PKCS#9, RFC 2985 §5.4.1, a DirectoryString) and
 * extensionRequest (RFC 2985 §5.4.2, `Extensions` as in RFC 5280 §4.1), also under Microsoft's
 * older msExtReq OID. Everything bad → FlintError('badCSR', <what exactly>).
 */
import { constants, verify, type KeyObject } from 'node:crypto';
import type * as asn1js from 'asn1js';
import { FlintError, type ErrorKind } from '../errors/index.js';
import { OID, type KeyType } from './algorithms.js';
import { EXTENSION_OIDS, parseSubjectAltName } from './extensions.js';
import { contentOf, decodeAsn1, isContext, isUniversal, kids, nameFromAsn1, oidOf, rawOf, stringOf } from './name.js';
import { keyTypeOf, walkCsrDer, spkiKeyTypeDer, type CsrDerParts } from './csr-der.js';
import { derOrPem } from './pem.js';
import { publicKeyFromSpki } from './public-key.js';
import type { ParsedCsr } from './types.js';

export const CSR_PEM_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'] as const;

const ATTR = {
  challengePassword: '1.2.840.113549.1.9.7',
  extensionRequest: '1.2.840.113549.1.9.14',
  msExtReq: '1.3.6.1.4.1.311.2.1.14',
};

const bad = (detail: string, code = 'csr.malformed') => new FlintError('badCSR', detail, { code });

// ---- SubjectPublicKeyInfo (RFC 5280 §4.1.2.7; RFC 3279 §2.3, RFC 5480, RFC 8410) --------------

/**
 * What key an SPKI holds: keyType is one we issue for (RSA 2048/3072/4096, P-256, P-384,
 * Ed25519) or 'unsupported'; keyBits is the RSA modulus size or curve size when known.
 */
export function spkiKeyType(spki: Uint8Array, kind: ErrorKind = 'malformed'): { keyType: KeyType | 'unsupported'; keyBits: number; algorithmOid: string } {
  const fast = spkiKeyTypeDer(Buffer.isBuffer(spki) ? spki : Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength));
  if (fast) return fast;
  const el = decodeAsn1(spki, 'SubjectPublicKeyInfo', kind);
  const [alg, key, extra] = kids(el);
  const [algOidEl, params] = kids(alg);
  const algorithmOid = oidOf(algOidEl);
  if (!isUniversal(el, 16) || !isUniversal(alg, 16) || !algorithmOid || !isUniversal(key, 3) || extra) {
    throw new FlintError(kind, 'SubjectPublicKeyInfo is not SEQUENCE { AlgorithmIdentifier, BIT STRING }');
  }
  const bits = contentOf(key);
  if (algorithmOid !== OID.rsaEncryption && algorithmOid !== OID.rsassaPss) return keyTypeOf(algorithmOid, oidOf(params));
  const rsa = decodeAsn1(bits, 'RSAPublicKey', kind);
  const [n, e] = kids(rsa);
  if (!isUniversal(n, 2) || !isUniversal(e, 2)) throw new FlintError(kind, 'RSAPublicKey is not SEQUENCE { modulus, publicExponent }');
  return keyTypeOf(algorithmOid, undefined, contentOf(n));
}

// ---- signature verification -------------------------------------------------------------------

const RSA_PKCS1: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'sha1', // sha1WithRSAEncryption: legacy SCEP devices
  '1.2.840.113549.1.1.14': 'sha224',
  [OID.sha256WithRSA]: 'sha256',
  [OID.sha384WithRSA]: 'sha384',
  [OID.sha512WithRSA]: 'sha512',
};
const ECDSA: Record<string, string> = { [OID.ecdsaSha256]: 'sha256', [OID.ecdsaSha384]: 'sha384', [OID.ecdsaSha512]: 'sha512' };
const HASHES: Record<string, string> = { [OID.sha1]: 'sha1', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };

/**
 * RSASSA-PSS-params (RFC 4055 §3.1):
 *   SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1, maskGenAlgorithm [1] DEFAULT mgf1SHA1,
 *              saltLength [2] INTEGER DEFAULT 20, trailerField [3] INTEGER DEFAULT 1 }
 * node:crypto uses the message hash for MGF1, so a different MGF1 hash is unsupported.
 */
function pssParams(params: asn1js.AsnType | undefined, kind: ErrorKind): { hash: string; saltLength: number } {
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  const unsupported = (what: string) => new FlintError(kind, `unsupported RSASSA-PSS parameters: ${what}`, { code: 'csr.unsupportedSignatureAlgorithm' });
  if (!isUniversal(params, 16)) throw unsupported('parameters missing');
  for (const p of kids(params)) {
    const [inner] = kids(p);
    if (isContext(p, 0)) hash = HASHES[oidOf(kids(inner)[0]) ?? ''] ?? '';
    else if (isContext(p, 1)) {
      const [mgf, mgfParams] = kids(inner);
      if (oidOf(mgf) !== OID.mgf1) throw unsupported('mask generation function is not MGF1');
      mgfHash = HASHES[oidOf(kids(mgfParams)[0]) ?? ''] ?? '';
    } else if (isContext(p, 2) && isUniversal(inner, 2)) {
      const v = contentOf(inner);
      saltLength = v.length >= 1 && v.length <= 2 ? v.readUIntBE(0, v.length) : -1;
    } else if (isContext(p, 3) && isUniversal(inner, 2) && contentOf(inner).equals(Buffer.from([1]))) continue;
    else throw unsupported('unexpected field');
  }
  if (!hash || hash !== mgfHash || saltLength < 0) throw unsupported(`hash ${hash || '?'}, MGF1 hash ${mgfHash || '?'}, salt ${saltLength}`);
  return { hash, saltLength };
}

/**
 * Verifies `signature` over `data` with the key in `spki` under the AlgorithmIdentifier
 * `algorithm` (DER): sha1/224/256/384/512WithRSA, RSASSA-PSS, ecdsa-with-SHA256/384/512, Ed25519.
 * Returns false for a wrong signature or a key/algorithm mismatch; throws FlintError(kind) for
 * an unsupported algorithm or a key node:crypto cannot import.
 */
export function verifySignedData(spki: Uint8Array, algorithm: Uint8Array, data: Uint8Array, signature: Uint8Array, kind: ErrorKind = 'malformed'): boolean {
  const alg = decodeAsn1(algorithm, 'AlgorithmIdentifier', kind);
  const [algOidEl, params] = kids(alg);
  const algOid = oidOf(algOidEl) ?? '';
  let key: KeyObject;
  try {
    key = publicKeyFromSpki(spki);
  } catch (e) {
    throw new FlintError(kind, `public key cannot be imported: ${(e as Error).message}`, { cause: e, code: 'csr.badPublicKey' });
  }
  const family = key.asymmetricKeyType;
  let run: () => boolean;
  if (RSA_PKCS1[algOid]) {
    if (family !== 'rsa') return false;
    run = () => verify(RSA_PKCS1[algOid]!, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } else if (algOid === OID.rsassaPss) {
    if (family !== 'rsa' && family !== 'rsa-pss') return false;
    const { hash, saltLength } = pssParams(params, kind);
    run = () => verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
  } else if (ECDSA[algOid]) {
    if (family !== 'ec') return false;
    run = () => verify(ECDSA[algOid]!, data, { key, dsaEncoding: 'der' }, signature);
  } else if (algOid === OID.ed25519) {
    if (family !== 'ed25519') return false;
    run = () => verify(null, data, key, signature);
  } else {
    throw new FlintError(kind, `unsupported signature algorithm ${algOid || '(none)'}`, { code: 'csr.unsupportedSignatureAlgorithm' });
  }
  try {
    return run();
  } catch {
    return false; // e.g. a signature that is not a DER ECDSA-Sig-Value
  }
}

// ---- parsing ----------------------------------------------------------------------------------

function toDer(input: Uint8Array | string): Buffer {
  try {
    return derOrPem(input, CSR_PEM_LABELS);
  } catch (e) {
    if (e instanceof FlintError) throw bad(`CSR: ${e.detail}`);
    throw bad('CSR: unreadable input');
  }
}

/** Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (RFC 5280 §4.1) → OID → extnValue. */
function readExtensions(el: asn1js.AsnType | undefined, out: Map<string, Buffer>): void {
  if (!isUniversal(el, 16)) throw bad('extensionRequest does not hold a SEQUENCE of Extension');
  for (const ext of kids(el)) {
    const [idEl, second, third] = kids(ext);
    const id = oidOf(idEl);
    const valueEl = third ?? second;
    if (!isUniversal(ext, 16) || !id || !isUniversal(valueEl, 4) || (third && !isUniversal(second, 1))) {
      throw bad('malformed Extension in extensionRequest');
    }
    if (out.has(id)) throw bad(`extension ${id} requested twice`);
    out.set(id, contentOf(valueEl!));
  }
}

/** The CSR's parts from a whole-CSR asn1js decode (BER quirks, and the precise error for bad input). */
type CsrParts = CsrDerParts & { subjectEl?: asn1js.AsnType; attributesEl?: asn1js.AsnType; key?: ReturnType<typeof spkiKeyType> };
function asn1jsParts(der: Buffer): CsrParts {
  const root = decodeAsn1(der, 'CSR', 'badCSR');
  const [cri, sigAlg, sig, extra] = kids(root);
  if (!isUniversal(root, 16) || !isUniversal(cri, 16) || !isUniversal(sigAlg, 16) || !isUniversal(sig, 3) || extra) {
    throw bad('CSR is not SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }');
  }
  const [version, subject, spki, attributes, extra2] = kids(cri);
  if (!isUniversal(version, 2) || !contentOf(version).equals(Buffer.from([0]))) throw bad('CSR version is not v1 (0)');
  if (!isUniversal(subject, 16) || !isUniversal(spki, 16) || (attributes && !isContext(attributes, 0)) || extra2) {
    throw bad('certificationRequestInfo is not { version, subject, subjectPKInfo, [0] attributes }');
  }
  const signatureAlgorithmOid = oidOf(kids(sigAlg)[0]);
  if (!signatureAlgorithmOid) throw bad('CSR signatureAlgorithm has no OID');
  if ((sig as asn1js.BitString).valueBlock.unusedBits !== 0) throw bad('CSR signature BIT STRING has unused bits');
  return {
    cri: rawOf(cri!),
    subject: rawOf(subject!),
    subjectEl: subject!,
    spki: rawOf(spki!),
    attributesEl: attributes,
    signatureAlgorithm: rawOf(sigAlg!),
    signatureAlgorithmOid,
    signature: contentOf(sig!),
  };
}

/** The DER walk (csr-der.ts) plus asn1js for subject and attributes; undefined when either declines. */
function fastParts(der: Buffer): CsrParts | undefined {
  const p = walkCsrDer(der);
  const key = p && spkiKeyTypeDer(p.spki);
  if (!p || !key) return undefined;
  try {
    return { ...p, key, subjectEl: decodeAsn1(p.subject, 'CSR subject', 'badCSR'), attributesEl: p.attributes ? decodeAsn1(p.attributes, 'CSR attributes', 'badCSR') : undefined };
  } catch {
    return undefined; // the whole-CSR decode words the error
  }
}

/**
 * Parses a PKCS#10 CSR given as DER or PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST").
 * Does not check the signature: call verifyCsrSignature for proof of possession.
 */
export function parseCsr(input: Buffer | Uint8Array | string): ParsedCsr {
  const der = toDer(input);
  return fromParts(der, fastParts(der) ?? asn1jsParts(der));
}

/** parseCsr through the whole-CSR asn1js decode only; for the tests that hold the DER walk to it. */
export function parseCsrAsn1(input: Buffer | Uint8Array | string): ParsedCsr {
  const der = toDer(input);
  return fromParts(der, asn1jsParts(der));
}

function fromParts(der: Buffer, p: CsrParts): ParsedCsr {
  const subject = p.subjectEl!;
  const attributes = p.attributesEl;
  const { signatureAlgorithmOid } = p;
  const subjectPublicKeyInfo = Buffer.from(p.spki);
  const { keyType, keyBits } = p.key ?? spkiKeyType(subjectPublicKeyInfo, 'badCSR');
  const requestedExtensions = new Map<string, Buffer>();
  let challengePassword: string | undefined;
  const seen = new Set<string>();
  // RFC 2986 makes [0] mandatory (possibly empty); some encoders omit it when empty: accept that.
  for (const attr of kids(attributes)) {
    const [typeEl, values, extra3] = kids(attr);
    const type = oidOf(typeEl);
    if (!isUniversal(attr, 16) || !type || !isUniversal(values, 17) || extra3) throw bad('malformed CSR attribute');
    if (seen.has(type)) throw bad(`CSR attribute ${type} appears twice`);
    seen.add(type);
    const [first, more] = kids(values);
    if (type === ATTR.challengePassword) {
      challengePassword = stringOf(first);
      if (challengePassword === undefined || more) throw bad('challengePassword is not a single DirectoryString');
    } else if (type === ATTR.extensionRequest || type === ATTR.msExtReq) {
      if (more) throw bad('extensionRequest has more than one value');
      readExtensions(first, requestedExtensions);
    }
  }
  const sanDer = requestedExtensions.get(EXTENSION_OIDS.subjectAltName);
  const { sans, unsupported } = sanDer ? parseSubjectAltName(sanDer, 'badCSR') : { sans: { dns: [], ip: [], email: [], uri: [] }, unsupported: [] };

  const csr: ParsedCsr = {
    der,
    subjectDer: Buffer.from(p.subject),
    subject: nameFromAsn1(subject, 'badCSR'),
    subjectPublicKeyInfo,
    keyType,
    keyBits,
    sans,
    requestedExtensions,
    signatureAlgorithmOid,
    certificationRequestInfo: Buffer.from(p.cri),
    signatureAlgorithm: Buffer.from(p.signatureAlgorithm),
    signature: Buffer.from(p.signature),
  };
  if (challengePassword !== undefined) csr.challengePassword = challengePassword;
  if (unsupported.length) csr.unsupportedSans = unsupported;
  return csr;
}

/**
 * Proof of possession (RFC 2986 §3, RFC 4211 §4): the CSR's self-signature over
 * certificationRequestInfo verifies with the public key it carries. False when it does not;
 * FlintError('badCSR') for an unsupported algorithm or an unusable key.
 */
/** CSRs already proven in this process: a front-end that checks before queueing and then issues pays once. */
const proven = new WeakSet<ParsedCsr>();

export function verifyCsrSignature(csr: ParsedCsr): boolean {
  if (proven.has(csr)) return true;
  const src = csr.certificationRequestInfo && csr.signatureAlgorithm && csr.signature ? csr : parseCsr(csr.der);
  const ok = verifySignedData(src.subjectPublicKeyInfo, src.signatureAlgorithm!, src.certificationRequestInfo!, src.signature!, 'badCSR');
  if (ok) proven.add(csr);
  return ok;
}
