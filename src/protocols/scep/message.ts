/**
 * PKIOperation messages (RFC 8894 §3.2-§3.3): reading a request (verify the signer, decrypt the
 * pkcsPKIEnvelope through the responder's Decrypter) and building the CertRep answer.
 */
import { createHash } from 'node:crypto';
import { FlintError } from '../../errors/index.js';
import { attrOctets, attrString, certRef, CONTENT_CIPHERS, decryptContent, parseEnvelope, parseSignedMessage, recipientFor, verifySignedMessage, type CertRef, type ContentCipher, type SignedMessage } from '../../pki/cms-read.js';
import { buildCertsOnly, buildEnvelope, buildSignedMessage, octetsAttr, printableAttr, type DigestName } from '../../pki/cms-write.js';
import type { Responder } from './ports.js';
import { FAIL_INFO, MESSAGE_TYPE, PKI_STATUS, SCEP_ATTR, type FailInfo } from './wire.js';

/** A request whose outer signature verified: the requester is identified from here on. */
export interface ScepMessage {
  signed: SignedMessage;
  messageType: number;
  transactionId: string;
  senderNonce: Buffer;
  /** The requester's signer certificate (self-signed for PKCSReq; the current one for RenewalReq). */
  signerCert: CertRef;
  /** SHA-256 hex of the signer's SubjectPublicKeyInfo. */
  signerKey: string;
  digest: DigestName;
}

/** Parses the outer SignedData and checks its signature; malformed (400, requester unknown) otherwise. */
export function readSignedRequest(der: Buffer): ScepMessage {
  const signed = parseSignedMessage(der);
  if (signed.contentType !== '1.2.840.113549.1.7.1') throw new FlintError('malformed', `SCEP messages carry id-data, not ${signed.contentType}`, { code: 'cms.wrongContentType' });
  const why = verifySignedMessage(signed);
  if (why) throw new FlintError('malformed', `badMessageCheck: ${why}`, { code: 'scep.badSignature' });
  const type = Number(attrString(signed, SCEP_ATTR.messageType) ?? NaN);
  const transactionId = attrString(signed, SCEP_ATTR.transactionID) ?? '';
  const senderNonce = attrOctets(signed, SCEP_ATTR.senderNonce) ?? Buffer.alloc(0);
  return {
    signed,
    messageType: type,
    transactionId,
    senderNonce,
    signerCert: signed.signer.cert,
    signerKey: createHash('sha256').update(signed.signer.cert.spki).digest('hex'),
    digest: signed.signer.digest,
  };
}

/** The attributes every request must carry (§3.2.1): checked once the requester is identified. */
export function checkRequestAttributes(m: ScepMessage): void {
  if (!Object.values(MESSAGE_TYPE).includes(m.messageType as never) || m.messageType === MESSAGE_TYPE.CertRep) {
    throw new FlintError('malformed', `unsupported messageType ${Number.isNaN(m.messageType) ? '(missing)' : m.messageType}`, { code: 'scep.badMessageType' });
  }
  if (!m.transactionId || m.transactionId.length > 128) throw new FlintError('malformed', 'transactionID is missing or longer than 128 characters', { code: 'scep.badTransactionId' });
  if (m.senderNonce.length < 8 || m.senderNonce.length > 64) throw new FlintError('malformed', 'senderNonce is missing or not 8-64 octets', { code: 'scep.badNonce' });
}

/**
 * Decrypts the pkcsPKIEnvelope addressed to the responder. The RSA key transport runs inside
 * the key store (PKCS#11 for HSM keys); a failed RSA or content decryption gives the same error
 * (badMessageCheck) so nothing about padding is revealed.
 */
export async function openEnvelope(m: ScepMessage, responder: Responder, allowDES: boolean): Promise<{ content: Buffer; cipher: ContentCipher }> {
  const env = parseEnvelope(m.signed.content);
  const me = certRef(responder.certDer);
  const ri = recipientFor(env, me);
  if (!ri) throw new FlintError('malformed', 'the pkcsPKIEnvelope is not encrypted to this CA/RA certificate', { code: 'scep.notForUs' });
  const c = CONTENT_CIPHERS[env.contentEncryptionOid];
  if (!c) throw new FlintError('malformed', `unsupported content encryption ${env.contentEncryptionOid || '(none)'}`, { code: 'scep.badAlg' });
  if (c.family === 'des' && !allowDES) throw new FlintError('malformed', `${c.name} is disabled on this label; use AES`, { code: 'scep.badAlg' });
  if (ri.keyEncryptionOid !== '1.2.840.113549.1.1.1') throw new FlintError('malformed', `unsupported key transport ${ri.keyEncryptionOid}`, { code: 'scep.badAlg' });
  let key: Buffer;
  try {
    key = await responder.decrypter.decrypt(ri.encryptedKey);
  } catch (e) {
    // Bad padding/length (the sender's fault) reads exactly like a failed content decryption.
    if (e instanceof FlintError && e.kind === 'malformed') throw new FlintError('malformed', 'content decryption failed', { code: 'scep.decryptFailed' });
    throw e; // key store trouble: not the client's fault
  }
  return { content: decryptContent(env.contentEncryptionOid, key, env.iv, env.encryptedContent), cipher: c.name };
}

export type CertRepOutcome =
  | { status: 'SUCCESS'; certs: Buffer[]; cipher: ContentCipher; crls?: never }
  | { status: 'SUCCESS'; content: Buffer; cipher: ContentCipher }
  | { status: 'FAILURE'; failInfo: FailInfo }
  | { status: 'PENDING' };

/**
 * CertRep (§3.3.2): signed by the responder; transactionID echoed, a fresh senderNonce,
 * recipientNonce = the request's senderNonce. SUCCESS carries a degenerate certs-only SignedData
 * (or a CRL for GetCRL) inside EnvelopedData to the requester's signer certificate; FAILURE and
 * PENDING carry no content. Signed with SHA-256, or SHA-512 when the request used SHA-512.
 */
export async function buildCertRep(req: Pick<ScepMessage, 'transactionId' | 'senderNonce' | 'signerCert' | 'digest'>, responder: Responder, outcome: CertRepOutcome, now: Date, random: (n: number) => Buffer): Promise<Buffer> {
  const status = PKI_STATUS[outcome.status];
  const attributes = [
    printableAttr(SCEP_ATTR.messageType, String(MESSAGE_TYPE.CertRep)),
    printableAttr(SCEP_ATTR.pkiStatus, String(status)),
    printableAttr(SCEP_ATTR.transactionID, req.transactionId),
    octetsAttr(SCEP_ATTR.senderNonce, random(16)),
    octetsAttr(SCEP_ATTR.recipientNonce, req.senderNonce),
  ];
  if (outcome.status === 'FAILURE') attributes.push(printableAttr(SCEP_ATTR.failInfo, String(outcome.failInfo)));
  let content: Buffer | undefined;
  if (outcome.status === 'SUCCESS') {
    const inner = 'certs' in outcome ? buildCertsOnly(outcome.certs) : outcome.content;
    content = buildEnvelope(inner, req.signerCert.der, outcome.cipher, random);
  }
  const digest: DigestName = req.digest === 'sha512' ? 'sha512' : 'sha256';
  return buildSignedMessage({
    content,
    certificates: [responder.certDer],
    signerCertDer: responder.certDer,
    digest,
    attributes,
    signingTime: now,
    sign: (attrs) => responder.signer.sign(attrs, digest === 'sha512' ? 'rsa-pkcs1-sha512' : 'rsa-pkcs1-sha256'),
  });
}

export const FAILURE_BAD_REQUEST = { status: 'FAILURE', failInfo: FAIL_INFO.badRequest } as const;
