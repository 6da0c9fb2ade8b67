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
import { createDecipheriv, createHash, verify, constants } from 'node:crypto';
import { FlintError } from '../errors/index.js';
import { oidText, readHeader, valueOf } from './der.js';
import { contentOf, isContext, isUniversal, kids, oidOf, rawOf } from './name.js';
import { OID } from './algorithms.js';
import { badCms as bad, certRef, CMS_OID, DIGESTS, derString, parseEnvelopeDer, parseSignedMessageDer, type CertRef, type Envelope, type KeyTransRecipient, type SignedMessage } from './cms-der.js';
import { publicKeyFromSpki } from './public-key.js';

export { certRef, CMS_OID, DIGESTS, type CertRef, type Envelope, type KeyTransRecipient, type SignedMessage, type SignerInfo } from './cms-der.js';
export { publicKeyFromSpki } from './public-key.js';

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

/**
 * Parses a CMS ContentInfo holding SignedData with exactly one signer that carries signed
 * attributes, and finds the signer's certificate among `certificates`. Throws malformed with a
 * `cms.*` code for anything else (wrong content type, missing signer or certificate, bad BER).
 * Plain DER takes the header-reader path (cms-der.ts); anything else is decoded with asn1js.
 */
export function parseSignedMessage(der: Buffer): SignedMessage {
  return parseSignedMessageDer(der) ?? parseSignedMessageBer(der);
}

/** The asn1js path alone (BER); exported for the tests that hold the DER walker to it. */
export function parseSignedMessageBer(der: Buffer): SignedMessage {
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
  const attributes = new Map<string, Buffer[]>();
  for (const a of kids(attrsEl)) {
    const [t, vals] = kids(a);
    const id = oidOf(t);
    if (!id || !isUniversal(vals, 17)) throw bad('malformed signed attribute');
    attributes.set(id, kids(vals).map(rawOf));
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
  const md = attrOctets(m, CMS_OID.messageDigest);
  if (!md) return 'the messageDigest signed attribute is missing';
  if (!createHash(s.digest).update(m.content).digest().equals(md)) return 'messageDigest does not match the content';
  const ct = s.attributes.get(CMS_OID.contentType)?.[0];
  if (ct && attrValue(ct, oidText, oidOf) !== m.contentType) return 'the contentType signed attribute does not match eContentType';
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

/**
 * One attribute value (its TLV) read by `fast` when it is plain DER, else decoded with asn1js and
 * read by `slow` (BER forms such as constructed strings); undefined when neither applies.
 */
function attrValue<T>(tlv: Buffer, fast: (tlv: Buffer) => T | undefined, slow: (el: asn1js.AsnType) => T | undefined): T | undefined {
  try {
    const v = fast(tlv);
    if (v !== undefined) return v;
  } catch {
    // not plain DER: asn1js below
  }
  try {
    return slow(decode(tlv, 'signed attribute'));
  } catch {
    return undefined;
  }
}

/** The first value of a signed attribute as text (PrintableString etc.) or octets. */
export function attrString(m: SignedMessage, oid: string): string | undefined {
  const v = m.signer.attributes.get(oid)?.[0];
  return v && attrValue(v, derString, (el) => (el instanceof asn1js.BaseStringBlock ? el.getValue() : undefined));
}
export function attrOctets(m: SignedMessage, oid: string): Buffer | undefined {
  const v = m.signer.attributes.get(oid)?.[0];
  return v && attrValue(v, (t) => (t[0] === 0x04 ? Buffer.from(valueOf(t)) : undefined), (el) => (isUniversal(el, 4) ? octets(el) : undefined));
}
export function attrTime(m: SignedMessage, oid: string): Date | undefined {
  const v = m.signer.attributes.get(oid)?.[0];
  return v && attrValue(v, () => undefined, (el) => (el instanceof asn1js.UTCTime || el instanceof asn1js.GeneralizedTime ? el.toDate() : undefined));
}

/** Parses a ContentInfo holding EnvelopedData (the SCEP pkcsPKIEnvelope). */
export function parseEnvelope(der: Buffer): Envelope {
  return parseEnvelopeDer(der) ?? parseEnvelopeBer(der);
}

/** The asn1js path alone (BER); exported for the tests that hold the DER walker to it. */
export function parseEnvelopeBer(der: Buffer): Envelope {
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
