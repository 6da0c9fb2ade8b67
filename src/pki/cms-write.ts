/**
 * Building the CMS (RFC 5652) structures a SCEP CertRep (RFC 8894 §3.3.2) needs, with the DER
 * writer: pkijs's EnvelopedData.encrypt goes through WebCrypto, which has no RSAES-PKCS1-v1_5 key
 * transport (what SCEP clients decrypt), so this is hand-written; it is also the per-request path.
 *
 *   EnvelopedData ::= SEQUENCE { version 0, recipientInfos SET OF KeyTransRecipientInfo,
 *     encryptedContentInfo SEQUENCE { id-data, contentEncryptionAlgorithm { OID, IV },
 *     encryptedContent [0] IMPLICIT OCTET STRING } }
 *   KeyTransRecipientInfo ::= SEQUENCE { version 0, IssuerAndSerialNumber,
 *     keyEncryptionAlgorithm { rsaEncryption, NULL }, encryptedKey OCTET STRING }
 *   SignedData ::= SEQUENCE { version 1, digestAlgorithms, encapContentInfo { id-data,
 *     [0] EXPLICIT OCTET STRING }, certificates [0] IMPLICIT, signerInfos { SignerInfo } }
 */
import { constants, createCipheriv, createHash, publicEncrypt, randomBytes } from 'node:crypto';
import { integer, nullDer, octetString, oid, printableString, seq, setOf, tlv, time, TAG } from './der.js';
import { OID } from './algorithms.js';
import { certRef, cipherOid, CMS_OID, CONTENT_CIPHERS, publicKeyFromSpki, type ContentCipher } from './cms-read.js';
import { buildCertsOnly } from './cms-certs-only.js';

/** Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue } */
export const attribute = (type: string, ...values: Buffer[]): Buffer => seq(oid(type), setOf(...values));
export const printableAttr = (type: string, value: string): Buffer => attribute(type, printableString(value));
export const octetsAttr = (type: string, value: Uint8Array): Buffer => attribute(type, octetString(value));

const issuerAndSerial = (certDer: Buffer): Buffer => {
  const r = certRef(certDer);
  return seq(r.issuerDer, tlv(TAG.INTEGER, r.serial));
};

/** EnvelopedData (in a ContentInfo) of `content` for the RSA key of `recipientCertDer`. */
export function buildEnvelope(content: Buffer, recipientCertDer: Buffer, cipher: ContentCipher, random: (n: number) => Buffer = randomBytes): Buffer {
  const c = CONTENT_CIPHERS[cipherOid(cipher)]!;
  const key = random(c.keyLength);
  const iv = random(c.ivLength);
  const enc = c.name === 'des-cbc' ? createCipheriv('des-ede3-cbc', Buffer.concat([key, key, key]), iv) : createCipheriv(c.name, key, iv);
  const encrypted = Buffer.concat([enc.update(content), enc.final()]);
  const spki = certRef(recipientCertDer).spki;
  const encryptedKey = publicEncrypt({ key: publicKeyFromSpki(spki), padding: constants.RSA_PKCS1_PADDING }, key);
  const ktri = seq(integer(0), issuerAndSerial(recipientCertDer), seq(oid(CMS_OID.rsaEncryption), nullDer()), octetString(encryptedKey));
  const eci = seq(oid(CMS_OID.data), seq(oid(cipherOid(cipher)), octetString(iv)), tlv(0x80, encrypted));
  return seq(oid(CMS_OID.envelopedData), tlv(0xa0, seq(integer(0), setOf(ktri), eci)));
}

export type DigestName = 'sha1' | 'sha256' | 'sha384' | 'sha512';
const DIGEST_OID: Record<DigestName, string> = { sha1: OID.sha1, sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 };

export interface SignedMessageInput {
  /** eContent (id-data); omitted when absent (SCEP FAILURE / PENDING). */
  content?: Buffer;
  /** SignedData.certificates, in order (the signer's certificate must be among them). */
  certificates: Buffer[];
  signerCertDer: Buffer;
  digest: DigestName;
  /** Extra signed attributes (encoded Attribute), e.g. the SCEP ones. */
  attributes: Buffer[];
  signingTime: Date;
  /** Signs the DER SET OF signed attributes with RSA PKCS#1 v1.5 under `digest`. */
  sign: (signedAttrs: Buffer) => Promise<Buffer>;
}

/** SignedData (in a ContentInfo) with one RSA signer over signed attributes (RFC 5652 §5.3-5.4). */
export async function buildSignedMessage(m: SignedMessageInput): Promise<Buffer> {
  const content = m.content ?? Buffer.alloc(0);
  const attrs = setOf(
    attribute(CMS_OID.contentType, oid(CMS_OID.data)),
    attribute(CMS_OID.signingTime, time(m.signingTime)),
    octetsAttr(CMS_OID.messageDigest, createHash(m.digest).update(content).digest()),
    ...m.attributes,
  );
  const signature = await m.sign(attrs);
  const digestAlg = seq(oid(DIGEST_OID[m.digest]), nullDer());
  const signedAttrs = Buffer.from(attrs);
  signedAttrs[0] = 0xa0; // [0] IMPLICIT
  const signerInfo = seq(integer(1), issuerAndSerial(m.signerCertDer), digestAlg, signedAttrs, seq(oid(CMS_OID.rsaEncryption), nullDer()), octetString(signature));
  const encap = m.content ? seq(oid(CMS_OID.data), tlv(0xa0, octetString(m.content))) : seq(oid(CMS_OID.data));
  const sd = seq(integer(1), setOf(digestAlg), encap, tlv(0xa0, ...m.certificates), setOf(signerInfo));
  return seq(oid(CMS_OID.signedData), tlv(0xa0, sd));
}

/** Degenerate certs-only SignedData carrying CRLs (RFC 8894 §3.3.2 GetCRL response). */
export function buildCrlsOnly(crls: Buffer[]): Buffer {
  const sd = seq(integer(1), tlv(TAG.SET), seq(oid(CMS_OID.data)), tlv(0xa1, ...crls), tlv(TAG.SET));
  return seq(oid(CMS_OID.signedData), tlv(0xa0, sd));
}

export { buildCertsOnly };
