/**
 * CMS (RFC 5652) as SCEP (RFC 8894 §3) carries it, read with the DER header reader only: the
 * shared types and the per-request fast paths of cms-read.ts. Hand-written on purpose: asn1js
 * builds an object per element, and decoding a whole PKIOperation with it costs more CPU than
 * verifying its signature. Each fast path returns undefined for anything that is not plain DER
 * in the expected shape (BER indefinite lengths, constructed strings, unknown tags); cms-read.ts
 * then parses with asn1js, which accepts BER and words the precise error.
 */
import { FlintError } from '../errors/index.js';
import { OID } from './algorithms.js';
import { childViews as parts, oidText, readHeader, valueOf } from './der.js';

export const CMS_OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  rsaEncryption: OID.rsaEncryption,
} as const;

export const DIGESTS: Readonly<Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'>> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

export const badCms = (detail: string, code = 'cms.malformed') => new FlintError('malformed', detail, { code });

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
    throw badCms(`certificate in CMS message cannot be read: ${(e as Error).message}`, 'cms.badCertificate');
  }
}

export interface SignerInfo {
  /** The signer certificate, found in SignedData.certificates by its sid. */
  cert: CertRef;
  digest: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  /** signedAttrs re-tagged as SET OF (what the signature covers, RFC 5652 §5.4). */
  signedAttrs: Buffer;
  /** Attribute OID → the values of its SET, each as its complete encoding (TLV). */
  attributes: Map<string, Buffer[]>;
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

/** Text of a primitive PrintableString, IA5String or UTF8String TLV; undefined for other tags. */
export function derString(tlv: Buffer): string | undefined {
  const tag = tlv[0];
  if (tag === 0x13 || tag === 0x16) return valueOf(tlv).toString('latin1');
  if (tag === 0x0c) return valueOf(tlv).toString('utf8');
  return undefined;
}

/**
 * The per-request path for PKIOperation messages: ContentInfo { signedData, SignedData with one
 * signer, issuerAndSerialNumber sid, signed attributes }.
 */
export function parseSignedMessageDer(der: Buffer): SignedMessage | undefined {
  try {
    const root = readHeader(der, 0);
    if (root.tag !== 0x30 || root.end !== der.length) return undefined;
    const [typeEl, wrapped] = parts(der);
    if (!typeEl || !wrapped || oidText(typeEl) !== CMS_OID.signedData || wrapped[0] !== 0xa0) return undefined;
    const sdEl = parts(wrapped)[0]!;
    const sd = parts(sdEl);
    if (sdEl[0] !== 0x30 || sd.length < 4) return undefined;
    const [eType, eContent] = parts(sd[2]!);
    let content: Buffer = Buffer.alloc(0);
    if (eContent) {
      const inner = parts(eContent)[0];
      if (eContent[0] !== 0xa0 || !inner || inner[0] !== 0x04) return undefined;
      content = valueOf(inner);
    }
    const rest = sd.slice(3);
    const certsEl = rest.find((e) => e[0] === 0xa0);
    const certificates = certsEl ? parts(certsEl).filter((c) => c[0] === 0x30).map(certRef) : [];
    const sis = rest.at(-1)!;
    if (sis[0] !== 0x31) return undefined;
    const signerInfos = parts(sis);
    if (signerInfos.length !== 1) return undefined;
    const [, sid, digAlg, attrsEl, sigAlg, sigEl] = parts(signerInfos[0]!);
    if (!sid || !digAlg || !attrsEl || attrsEl[0] !== 0xa0 || !sigAlg || !sigEl || sigEl[0] !== 0x04) return undefined;
    const digest = DIGESTS[oidText(parts(digAlg)[0]!)];
    if (!digest) return undefined;
    let cert: CertRef | undefined;
    if (sid[0] === 0x30) {
      const [issuer, serialEl] = parts(sid);
      if (!issuer || !serialEl || serialEl[0] !== 0x02) return undefined;
      const serial = valueOf(serialEl);
      cert = certificates.find((c) => c.issuerDer.equals(issuer) && c.serial.equals(serial));
    }
    if (!cert) return undefined;
    const attributes = new Map<string, Buffer[]>();
    for (const a of parts(attrsEl)) {
      const [t, vals, extra] = parts(a);
      if (a[0] !== 0x30 || !t || !vals || vals[0] !== 0x31 || extra) return undefined;
      attributes.set(oidText(t), parts(vals));
    }
    const signedAttrs = Buffer.from(attrsEl);
    signedAttrs[0] = 0x31;
    return {
      contentType: oidText(eType!),
      content: Buffer.from(content),
      certificates,
      signer: { cert, digest, signedAttrs, attributes, signatureAlgorithmOid: oidText(parts(sigAlg)[0]!), signature: Buffer.from(valueOf(sigEl)) },
      raw: der,
    };
  } catch {
    return undefined;
  }
}

/**
 * The per-request path for the pkcsPKIEnvelope: ContentInfo { envelopedData, EnvelopedData with
 * KeyTransRecipientInfos and a [0] encryptedContent (primitive, or constructed from OCTET STRING
 * chunks) }. Other recipient kinds are skipped, as the asn1js path does.
 */
export function parseEnvelopeDer(der: Buffer): Envelope | undefined {
  try {
    const root = readHeader(der, 0);
    if (root.tag !== 0x30 || root.end !== der.length) return undefined;
    const [typeEl, wrapped, extra] = parts(der);
    if (!typeEl || !wrapped || extra || oidText(typeEl) !== CMS_OID.envelopedData || wrapped[0] !== 0xa0) return undefined;
    const edEl = parts(wrapped)[0]!;
    if (edEl[0] !== 0x30) return undefined;
    const [version, ris, eci] = parts(edEl).filter((p) => p[0] !== 0xa0); // originatorInfo
    if (version?.[0] !== 0x02 || ris?.[0] !== 0x31 || eci?.[0] !== 0x30) return undefined;
    const recipients: KeyTransRecipient[] = [];
    for (const ri of parts(ris)) {
      if (ri[0] !== 0x30) continue; // kari/kekri/pwri: not for us
      const [, rid, kea, ek] = parts(ri);
      if (!rid || kea?.[0] !== 0x30 || ek?.[0] !== 0x04) return undefined;
      const r: KeyTransRecipient = { keyEncryptionOid: oidText(parts(kea)[0]!), encryptedKey: Buffer.from(valueOf(ek)) };
      if (rid[0] === 0x30) {
        const [i, s] = parts(rid);
        if (i?.[0] !== 0x30 || s?.[0] !== 0x02) return undefined;
        r.issuerDer = Buffer.from(i);
        r.serial = Buffer.from(valueOf(s));
      } else if (rid[0] === 0x80) r.ski = Buffer.from(valueOf(rid));
      else return undefined;
      recipients.push(r);
    }
    const [, algEl, encEl] = parts(eci);
    if (algEl?.[0] !== 0x30 || !encEl) return undefined;
    const [algOid, ivEl] = parts(algEl);
    if (ivEl && ivEl[0] !== 0x04) return undefined;
    let encryptedContent: Buffer;
    if (encEl[0] === 0x80) encryptedContent = Buffer.from(valueOf(encEl));
    else if (encEl[0] === 0xa0) {
      // Constructed [0] of definite-length OCTET STRING chunks (Go's pkcs7, used by scepclient).
      const chunks = parts(encEl);
      if (chunks.some((c) => c[0] !== 0x04)) return undefined;
      encryptedContent = Buffer.concat(chunks.map(valueOf));
    } else return undefined;
    return { recipients, contentEncryptionOid: oidText(algOid!), iv: ivEl ? Buffer.from(valueOf(ivEl)) : Buffer.alloc(0), encryptedContent };
  } catch {
    return undefined;
  }
}
