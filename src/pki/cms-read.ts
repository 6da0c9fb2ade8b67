/**
 * Reading CMS (RFC 5652) as SCEP (RFC 8894 §3) carries it: a SignedData whose encapsulated
 * content is an EnvelopedData (the pkcsPKIEnvelope) and whose signer authenticates the request.
 * Decoding is asn1js (BER allowed: some clients stream with indefinite lengths); signature and
 * messageDigest checks use node:crypto. No keys here: RSA key transport is the caller's Decrypter.
 *
 *   SignedData ::= SEQUENCE { version, digestAlgorithms SET OF AlgorithmIdentifier,
 *     encapContentInfo SEQUENCE { eContentType OID, eContent [0] EXPLICIT OCTET STRING OPTIONAL },
 *     certificates [0] IMPLICIT CertificateSet OPTIONAL, crls [1] IMPLICIT OPTIONAL,
 *     signerInfos SET OF SignerInfo }
 *   SignerInfo ::= SEQUENCE { version, sid SignerIdentifier, digestAlgorithm,
 *     signedAttrs [0] IMPLICIT SET OF Attribute OPTIONAL, signatureAlgorithm, signature OCTET STRING,
 *     unsignedAttrs [1] IMPLICIT OPTIONAL }
 *   EnvelopedData ::= SEQUENCE { version, originatorInfo [0] IMPLICIT OPTIONAL,
 *     recipientInfos SET OF RecipientInfo, encryptedContentInfo SEQUENCE { contentType,
 *     contentEncryptionAlgorithm, encryptedContent [0] IMPLICIT OCTET STRING OPTIONAL }, ... }
 *   KeyTransRecipientInfo ::= SEQUENCE { version, rid (IssuerAndSerialNumber | [0] SKI),
 *     keyEncryptionAlgorithm, encryptedKey OCTET STRING }
 */
import * as asn1js from 'asn1js';
import { createDecipheriv, createHash, createPublicKey, verify, constants, type KeyObject } from 'node:crypto';
import { FlintError } from '../errors/index.js';
import { children, readHeader } from './der.js';
import { contentOf, isContext, isUniversal, kids, oidOf, rawOf } from './name.js';
import { OID } from './algorithms.js';

export const CMS_OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  rsaEncryption: OID.rsaEncryption,
} as const;

/** Content-encryption algorithms SCEP clients use (RFC 8894 §3.5.2 "AES", "DES3"; single DES is legacy). */
export const CONTENT_CIPHERS: Readonly<Record<string, { name: 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc' | 'des-ede3-cbc' | 'des-cbc'; keyLength: number; ivLength: number; family: 'aes' | 'des' }>> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16, ivLength: 16, family: 'aes' },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24, ivLength: 16, family: 'aes' },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32, ivLength: 16, family: 'aes' },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24, ivLength: 8, family: 'des' },
  '1.3.14.3.2.7': { name: 'des-cbc', keyLength: 8, ivLength: 8, family: 'des' },
};
export type ContentCipher = (typeof CONTENT_CIPHERS)[string]['name'];
export const cipherOid = (name: ContentCipher): string => Object.entries(CONTENT_CIPHERS).find(([, c]) => c.name === name)![0];

export const DIGESTS: Readonly<Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'>> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

const bad = (detail: string, code = 'cms.malformed') => new FlintError('malformed', detail, { code });

/** BER decode of one element; trailing bytes or decoder errors → malformed (never throws anything else). */
function decode(der: Uint8Array, what: string): asn1js.AsnType {
  if (!der || der.byteLength === 0) throw bad(`${what}: empty`);
  let res: asn1js.FromBerResult;
  try {
    res = asn1js.fromBER(der);
  } catch (e) {
    throw bad(`${what}: not valid BER/DER (${(e as Error)?.message ?? e})`);
  }
  if (res.offset === -1 || res.result.error) throw bad(`${what}: not valid BER/DER (${res.result.error || 'decoding failed'})`);
  if (res.offset !== der.byteLength) throw bad(`${what}: ${der.byteLength - res.offset} bytes of trailing data`);
  return res.result;
}

/** OCTET STRING content, primitive or constructed (BER chunks, X.690 §8.7.3). */
function octets(el: asn1js.AsnType | undefined): Buffer {
  if (!el) return Buffer.alloc(0);
  const b = el as asn1js.BaseBlock;
  if (b.idBlock.isConstructed) return Buffer.concat(kids(el).map(octets));
  return contentOf(el);
}

/** ContentInfo → [contentType, content element]. */
function contentInfo(der: Uint8Array, what: string): [string, asn1js.AsnType | undefined] {
  const root = decode(der, what);
  const [typeEl, contentEl] = kids(root);
  const type = oidOf(typeEl);
  if (!isUniversal(root, 16) || !type) throw bad(`${what}: not a CMS ContentInfo`);
  return [type, contentEl && isContext(contentEl, 0) ? kids(contentEl)[0] : undefined];
}

/** Whole-certificate DER plus what identifies it in CMS (issuer Name DER, serial INTEGER content). */
export interface CertRef {
  der: Buffer;
  issuerDer: Buffer;
  /** Serial INTEGER content octets (as encoded, sign byte included). */
  serial: Buffer;
  subjectDer: Buffer;
  spki: Buffer;
}

/** Walks a DER certificate's TBS with the header reader only (no pkijs): issuer, serial, subject, SPKI. */
export function certRef(der: Buffer): CertRef {
  try {
    const cert = readHeader(der, 0);
    const tbs = readHeader(der, cert.contentStart);
    let pos = tbs.contentStart;
    let h = readHeader(der, pos);
    if (h.tag === 0xa0) h = readHeader(der, (pos = h.end));
    if (h.tag !== 0x02) throw new Error('no serial');
    const serial = Buffer.from(der.subarray(h.contentStart, h.end));
    const sigAlg = readHeader(der, h.end);
    const issuer = readHeader(der, sigAlg.end);
    const validity = readHeader(der, issuer.end);
    const subject = readHeader(der, validity.end);
    const spki = readHeader(der, subject.end);
    const slice = (s: number, e: number) => Buffer.from(der.subarray(s, e));
    return { der, issuerDer: slice(sigAlg.end, issuer.end), serial, subjectDer: slice(validity.end, subject.end), spki: slice(subject.end, spki.end) };
  } catch (e) {
    throw bad(`certificate in CMS message cannot be read: ${(e as Error).message}`, 'cms.badCertificate');
  }
}

export interface SignerInfo {
  /** The signer certificate, found in SignedData.certificates by its sid. */
  cert: CertRef;
  digest: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  /** signedAttrs re-tagged as SET OF (what the signature covers, RFC 5652 §5.4). */
  signedAttrs: Buffer;
  /** Attribute OID → the encoded values of its SET. */
  attributes: Map<string, asn1js.AsnType[]>;
  signatureAlgorithmOid: string;
  signature: Buffer;
}

export interface SignedMessage {
  /** eContentType (id-data for SCEP). */
  contentType: string;
  /** eContent octets; empty when absent. */
  content: Buffer;
  certificates: CertRef[];
  signer: SignerInfo;
  /** The DER/BER of the whole message as received. */
  raw: Buffer;
}

/**
 * Parses a CMS ContentInfo holding SignedData with exactly one signer that carries signed
 * attributes, and finds the signer's certificate among `certificates`. Throws malformed with a
 * `cms.*` code for anything else (wrong content type, missing signer or certificate, bad BER).
 */
export function parseSignedMessage(der: Buffer): SignedMessage {
  return parseSignedMessageDer(der) ?? parseSignedMessageBer(der);
}

/** Dotted form of an encoded OBJECT IDENTIFIER TLV. */
function oidText(tlvBytes: Buffer): string {
  const h = readHeader(tlvBytes, 0);
  if (h.tag !== 0x06 || h.length === 0) throw new RangeError('not an OID');
  const arcs: number[] = [];
  let v = 0;
  for (let i = h.contentStart; i < h.end; i++) {
    v = v * 128 + (tlvBytes[i]! & 0x7f);
    if (!(tlvBytes[i]! & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

/**
 * The per-request fast path: walks DER with the header reader (asn1js decoding the whole message
 * costs more than verifying it) and decodes only the signed attribute values with asn1js.
 * Undefined when the input is not plain DER in the expected shape (BER indefinite lengths,
 * constructed OCTET STRINGs, anything odd): the asn1js path then gives the precise error.
 */
function parseSignedMessageDer(der: Buffer): SignedMessage | undefined {
  try {
    const root = readHeader(der, 0);
    if (root.tag !== 0x30 || root.end !== der.length) return undefined;
    const [typeEl, wrapped] = children(der, 0);
    if (!typeEl || !wrapped || oidText(typeEl) !== CMS_OID.signedData || wrapped[0] !== 0xa0) return undefined;
    const sdEl = children(wrapped, 0)[0]!;
    const parts = children(sdEl, 0);
    if (sdEl[0] !== 0x30 || parts.length < 4) return undefined;
    const [encapEl] = parts.slice(2);
    const [eType, eContent] = children(encapEl!, 0);
    let content: Buffer = Buffer.alloc(0);
    if (eContent) {
      const inner = children(eContent, 0)[0];
      if (eContent[0] !== 0xa0 || !inner || inner[0] !== 0x04) return undefined;
      const h = readHeader(inner, 0);
      content = inner.subarray(h.contentStart, h.end);
    }
    const rest = parts.slice(3);
    const certsEl = rest.find((e) => e[0] === 0xa0);
    const certificates = certsEl ? children(certsEl, 0).filter((c) => c[0] === 0x30).map(certRef) : [];
    const sis = rest.at(-1)!;
    if (sis[0] !== 0x31) return undefined;
    const signerInfos = children(sis, 0);
    if (signerInfos.length !== 1) return undefined;
    const [, sid, digAlg, attrsEl, sigAlg, sigEl] = children(signerInfos[0]!, 0);
    if (!sid || !digAlg || !attrsEl || attrsEl[0] !== 0xa0 || !sigAlg || !sigEl || sigEl[0] !== 0x04) return undefined;
    const digest = DIGESTS[oidText(children(digAlg, 0)[0]!)];
    if (!digest) return undefined;
    let cert: CertRef | undefined;
    if (sid[0] === 0x30) {
      const [issuer, serialEl] = children(sid, 0);
      const h = readHeader(serialEl!, 0);
      const serial = serialEl!.subarray(h.contentStart, h.end);
      cert = certificates.find((c) => c.issuerDer.equals(issuer!) && c.serial.equals(serial));
    }
    if (!cert) return undefined;
    const attributes = new Map<string, asn1js.AsnType[]>();
    for (const a of children(attrsEl, 0)) {
      const [t, vals] = children(a, 0);
      if (!t || !vals || vals[0] !== 0x31) return undefined;
      attributes.set(oidText(t), kids(decode(vals, 'signed attribute')));
    }
    const signedAttrs = Buffer.from(attrsEl);
    signedAttrs[0] = 0x31;
    const sigH = readHeader(sigEl, 0);
    return {
      contentType: oidText(eType!),
      content: Buffer.from(content),
      certificates,
      signer: { cert, digest, signedAttrs, attributes, signatureAlgorithmOid: oidText(children(sigAlg, 0)[0]!), signature: Buffer.from(sigEl.subarray(sigH.contentStart, sigH.end)) },
      raw: der,
    };
  } catch {
    return undefined;
  }
}

function parseSignedMessageBer(der: Buffer): SignedMessage {
  const [type, sd] = contentInfo(der, 'PKCS#7 message');
  if (type !== CMS_OID.signedData) throw bad(`PKCS#7 content type is ${type}, not signedData`, 'cms.wrongContentType');
  const parts = kids(sd);
  if (!isUniversal(sd, 16) || parts.length < 4) throw bad('SignedData is malformed');
  const [, , encap, ...rest] = parts;
  const [eTypeEl, eContentEl] = kids(encap);
  const contentType = oidOf(eTypeEl);
  if (!contentType) throw bad('SignedData encapContentInfo is malformed');
  const content = eContentEl && isContext(eContentEl, 0) ? octets(kids(eContentEl)[0]) : Buffer.alloc(0);
  const certsEl = rest.find((e) => isContext(e, 0));
  const certificates = kids(certsEl).filter((c) => isUniversal(c, 16)).map((c) => certRef(rawOf(c)));
  const signerInfos = kids(rest.at(-1));
  if (!isUniversal(rest.at(-1), 17) || signerInfos.length !== 1) throw bad(`SignedData must have exactly one signer (has ${signerInfos.length})`, 'cms.signerCount');
  const si = kids(signerInfos[0]);
  const [, sid, digAlg, attrsEl, sigAlg, sigEl] = si;
  if (!attrsEl || !isContext(attrsEl, 0)) throw bad('SignerInfo has no signed attributes (RFC 8894 §3.2.1 requires them)', 'cms.noSignedAttributes');
  const digestOid = oidOf(kids(digAlg)[0]) ?? '';
  const digest = DIGESTS[digestOid];
  if (!digest) throw new FlintError('malformed', `unsupported digest algorithm ${digestOid || '(none)'}`, { code: 'scep.badAlg' });
  let cert: CertRef | undefined;
  if (isUniversal(sid, 16)) {
    const [issuerEl, serialEl] = kids(sid);
    if (!issuerEl || !serialEl) throw bad('SignerInfo issuerAndSerialNumber is malformed');
    const issuer = rawOf(issuerEl);
    const serial = contentOf(serialEl);
    cert = certificates.find((c) => c.issuerDer.equals(issuer) && c.serial.equals(serial));
  } else if (isContext(sid, 0)) {
    const ski = contentOf(sid!);
    cert = certificates.find((c) => createHash('sha1').update(spkiBits(c.spki)).digest().equals(ski));
  }
  if (!cert) throw bad('the signer certificate is not in the SignedData certificates', 'cms.noSignerCertificate');
  const attributes = new Map<string, asn1js.AsnType[]>();
  for (const a of kids(attrsEl)) {
    const [t, vals] = kids(a);
    const id = oidOf(t);
    if (!id || !isUniversal(vals, 17)) throw bad('malformed signed attribute');
    attributes.set(id, kids(vals));
  }
  // The signature covers the DER of the attributes with the SET OF tag, not [0] (RFC 5652 §5.4).
  const rawAttrs = rawOf(attrsEl);
  const signedAttrs = Buffer.from(rawAttrs);
  signedAttrs[0] = 0x31;
  return {
    contentType,
    content,
    certificates,
    signer: { cert, digest, signedAttrs, attributes, signatureAlgorithmOid: oidOf(kids(sigAlg)[0]) ?? '', signature: contentOf(sigEl!) },
    raw: der,
  };
}

/** subjectPublicKey BIT STRING content without the unused-bits octet. */
function spkiBits(spki: Buffer): Buffer {
  const outer = readHeader(spki, 0);
  const alg = readHeader(spki, outer.contentStart);
  const bits = readHeader(spki, alg.end);
  return Buffer.from(spki.subarray(bits.contentStart + 1, bits.end));
}

const keyCache = new Map<string, KeyObject>();
/**
 * node KeyObject for a SubjectPublicKeyInfo, cached (a SCEP request imports the same device key
 * to verify the message and again to encrypt the answer; importing costs more than verifying).
 */
export function publicKeyFromSpki(spki: Buffer): KeyObject {
  const k = spki.toString('base64');
  let key = keyCache.get(k);
  if (!key) {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    if (keyCache.size >= 1000) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(k, key);
  }
  return key;
}

const RSA_SIG: Record<string, string | undefined> = {
  [OID.rsaEncryption]: undefined, // digest from SignerInfo.digestAlgorithm
  '1.2.840.113549.1.1.5': 'sha1',
  [OID.sha256WithRSA]: 'sha256',
  [OID.sha384WithRSA]: 'sha384',
  [OID.sha512WithRSA]: 'sha512',
};
const EC_SIG: Record<string, string | undefined> = { [OID.ecPublicKey]: undefined, '1.2.840.10045.4.1': 'sha1', [OID.ecdsaSha256]: 'sha256', [OID.ecdsaSha384]: 'sha384', [OID.ecdsaSha512]: 'sha512' };

/**
 * RFC 5652 §5.6: the messageDigest attribute equals the digest of eContent, contentType matches,
 * and the signature over the signed attributes verifies with the signer certificate's key.
 * Returns why not, or undefined when the message verifies.
 */
export function verifySignedMessage(m: SignedMessage): string | undefined {
  const s = m.signer;
  const md = s.attributes.get(CMS_OID.messageDigest)?.[0];
  if (!md || !isUniversal(md, 4)) return 'the messageDigest signed attribute is missing';
  if (!createHash(s.digest).update(m.content).digest().equals(contentOf(md))) return 'messageDigest does not match the content';
  const ct = s.attributes.get(CMS_OID.contentType)?.[0];
  if (ct && oidOf(ct) !== m.contentType) return 'the contentType signed attribute does not match eContentType';
  let key;
  try {
    key = publicKeyFromSpki(s.cert.spki);
  } catch {
    return 'the signer certificate key cannot be read';
  }
  const alg = s.signatureAlgorithmOid;
  try {
    if (key.asymmetricKeyType === 'rsa' && alg in RSA_SIG) {
      return verify(RSA_SIG[alg] ?? s.digest, s.signedAttrs, { key, padding: constants.RSA_PKCS1_PADDING }, s.signature) ? undefined : 'the signature does not verify';
    }
    if (key.asymmetricKeyType === 'ec' && alg in EC_SIG) {
      return verify(EC_SIG[alg] ?? s.digest, s.signedAttrs, { key, dsaEncoding: 'der' }, s.signature) ? undefined : 'the signature does not verify';
    }
  } catch {
    return 'the signature does not verify';
  }
  return `unsupported signature algorithm ${alg || '(none)'} for a ${key.asymmetricKeyType} key`;
}

/** The first value of a signed attribute as text (PrintableString etc.) or octets. */
export function attrString(m: SignedMessage, oid: string): string | undefined {
  const v = m.signer.attributes.get(oid)?.[0];
  return v instanceof asn1js.BaseStringBlock ? v.getValue() : undefined;
}
export function attrOctets(m: SignedMessage, oid: string): Buffer | undefined {
  const v = m.signer.attributes.get(oid)?.[0];
  return v && isUniversal(v, 4) ? octets(v) : undefined;
}
export function attrTime(m: SignedMessage, oid: string): Date | undefined {
  const v = m.signer.attributes.get(oid)?.[0];
  return v instanceof asn1js.UTCTime || v instanceof asn1js.GeneralizedTime ? v.toDate() : undefined;
}

export interface KeyTransRecipient {
  /** IssuerAndSerialNumber of the recipient certificate, or undefined for an SKI rid. */
  issuerDer?: Buffer;
  serial?: Buffer;
  ski?: Buffer;
  keyEncryptionOid: string;
  encryptedKey: Buffer;
}

export interface Envelope {
  recipients: KeyTransRecipient[];
  contentEncryptionOid: string;
  iv: Buffer;
  encryptedContent: Buffer;
}

/** Parses a ContentInfo holding EnvelopedData (the SCEP pkcsPKIEnvelope). */
export function parseEnvelope(der: Buffer): Envelope {
  const [type, ed] = contentInfo(der, 'pkcsPKIEnvelope');
  if (type !== CMS_OID.envelopedData) throw bad(`pkcsPKIEnvelope content type is ${type}, not envelopedData`, 'cms.wrongContentType');
  const parts = kids(ed).filter((p) => !isContext(p, 0)); // originatorInfo
  const [, ris, eci] = parts;
  if (!isUniversal(ris, 17) || !isUniversal(eci, 16)) throw bad('EnvelopedData is malformed');
  const recipients: KeyTransRecipient[] = [];
  for (const ri of kids(ris)) {
    if (!isUniversal(ri, 16)) continue; // kari/kekri/pwri: not for us
    const [, rid, kea, ek] = kids(ri);
    const r: KeyTransRecipient = { keyEncryptionOid: oidOf(kids(kea)[0]) ?? '', encryptedKey: octets(ek) };
    if (isUniversal(rid, 16)) {
      const [i, s] = kids(rid);
      if (!i || !s) throw bad('KeyTransRecipientInfo rid is malformed');
      r.issuerDer = rawOf(i);
      r.serial = contentOf(s);
    } else if (isContext(rid, 0)) r.ski = contentOf(rid!);
    recipients.push(r);
  }
  const [, algEl, encEl] = kids(eci);
  const [algOid, ivEl] = kids(algEl);
  return { recipients, contentEncryptionOid: oidOf(algOid) ?? '', iv: ivEl && isUniversal(ivEl, 4) ? contentOf(ivEl) : Buffer.alloc(0), encryptedContent: encEl && isContext(encEl, 0) ? octets(encEl) : Buffer.alloc(0) };
}

/** The recipient entry addressed to `cert` (issuer + serial, or its SKI), if any. */
export function recipientFor(env: Envelope, cert: CertRef): KeyTransRecipient | undefined {
  const ski = createHash('sha1').update(spkiBits(cert.spki)).digest();
  return env.recipients.find((r) => (r.issuerDer && r.serial && r.issuerDer.equals(cert.issuerDer) && r.serial.equals(cert.serial)) || (r.ski && r.ski.equals(ski)));
}

/**
 * Symmetric content decryption. Single DES is run as DES-EDE3 with K1 = K2 = K3 (which is DES):
 * the OpenSSL 3 default provider no longer offers des-cbc, and legacy SCEP clients still send it.
 * Any failure (bad key length, padding) is the same malformed error: no padding oracle.
 */
export function decryptContent(oid: string, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = CONTENT_CIPHERS[oid]!;
  const fail = () => new FlintError('malformed', 'content decryption failed', { code: 'scep.decryptFailed' });
  if (key.length !== c.keyLength || iv.length !== c.ivLength || data.length === 0) throw fail();
  try {
    const d = c.name === 'des-cbc' ? createDecipheriv('des-ede3-cbc', Buffer.concat([key, key, key]), iv) : createDecipheriv(c.name, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch {
    throw fail();
  }
}

/**
 * IssuerAndSerialNumber (GetCert / GetCRL content, RFC 8894 §3.3.3-§3.3.4) or IssuerAndSubject
 * (CertPoll, §3.3.3): both are SEQUENCE { issuer Name, x }; returns the issuer DER and x's encoding.
 */
export function parseIssuerAnd(der: Buffer, what: string): { issuerDer: Buffer; second: Buffer; serialHex?: string } {
  const root = decode(der, what);
  const [issuerEl, secondEl] = kids(root);
  if (!isUniversal(root, 16) || !isUniversal(issuerEl, 16) || !secondEl) throw bad(`${what} is malformed`);
  const out: { issuerDer: Buffer; second: Buffer; serialHex?: string } = { issuerDer: rawOf(issuerEl!), second: rawOf(secondEl) };
  if (isUniversal(secondEl, 2)) {
    let hex = contentOf(secondEl).toString('hex');
    while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
    out.serialHex = hex;
  }
  return out;
}

/** The certificates of any SignedData (e.g. a degenerate certs-only one), DER, in order. */
export function signedDataCertificates(der: Buffer): Buffer[] {
  const [type, sd] = contentInfo(der, 'certs-only message');
  if (type !== CMS_OID.signedData) throw bad(`content type is ${type}, not signedData`, 'cms.wrongContentType');
  return kids(kids(sd).find((e) => isContext(e, 0))).map((c) => rawOf(c));
}
