/**
 * A minimal in-process SCEP client for tests (what scepclient cannot be told to do: CertPoll,
 * SHA-256/AES requests, RenewalReq with a chosen certificate). Builds messages with the pki
 * writers and node:crypto keys, and opens CertReps with the pki readers; the real-client checks
 * are done with scepclient and openssl in the integration test.
 */
import { constants, createPrivateKey, generateKeyPairSync, privateDecrypt, randomBytes, sign, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attrOctets, attrString, certRef, decryptContent, parseEnvelope, parseSignedMessage, recipientFor, signedDataCertificates, verifySignedMessage } from '../../src/pki/cms-read.js';
import { buildEnvelope, buildSignedMessage, octetsAttr, printableAttr } from '../../src/pki/cms-write.js';
import { seq } from '../../src/pki/der.js';
import type { ContentCipher } from '../../src/pki/cms-read.js';

export const ATTR = { messageType: '2.16.840.1.113733.1.9.2', pkiStatus: '2.16.840.1.113733.1.9.3', failInfo: '2.16.840.1.113733.1.9.4', senderNonce: '2.16.840.1.113733.1.9.5', recipientNonce: '2.16.840.1.113733.1.9.6', transactionID: '2.16.840.1.113733.1.9.7' };

export interface Device {
  key: KeyObject;
  keyPem: string;
  /** Signer certificate (self-signed, or an issued one for RenewalReq), DER. */
  certDer: Buffer;
}

/** A new RSA key with a self-signed signer certificate and a CSR (made by openssl). */
export function newDevice(cn: string, challenge?: string, extra: string[] = []): Device & { csrDer: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'scep-dev-'));
  try {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeFileSync(join(dir, 'k.pem'), keyPem);
    const cfg = `[req]\nprompt=no\ndistinguished_name=dn\nattributes=attr\n[dn]\nCN=${cn}\n[attr]\n${challenge ? `challengePassword=${challenge}\n` : ''}`;
    writeFileSync(join(dir, 'req.cnf'), cfg);
    execFileSync('openssl', ['req', '-new', '-config', join(dir, 'req.cnf'), '-key', join(dir, 'k.pem'), ...extra, '-outform', 'DER', '-out', join(dir, 'csr.der')], { stdio: 'pipe' });
    execFileSync('openssl', ['req', '-x509', '-key', join(dir, 'k.pem'), '-subj', `/CN=${cn} signer`, '-days', '1', '-outform', 'DER', '-out', join(dir, 'self.der')], { stdio: 'pipe' });
    return { key: privateKey, keyPem, certDer: readFileSync(join(dir, 'self.der')), csrDer: readFileSync(join(dir, 'csr.der')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface RequestOptions {
  messageType: number;
  transactionId: string;
  recipientDer: Buffer;
  /** Envelope content: CSR DER, IssuerAndSubject or IssuerAndSerialNumber. */
  content: Buffer;
  cipher?: ContentCipher;
  digest?: 'sha1' | 'sha256' | 'sha512';
  senderNonce?: Buffer;
}

export async function buildRequest(dev: Device, o: RequestOptions): Promise<{ der: Buffer; senderNonce: Buffer }> {
  const senderNonce = o.senderNonce ?? randomBytes(16);
  const digest = o.digest ?? 'sha256';
  const der = await buildSignedMessage({
    content: buildEnvelope(o.content, o.recipientDer, o.cipher ?? 'aes-256-cbc'),
    certificates: [dev.certDer],
    signerCertDer: dev.certDer,
    digest,
    attributes: [printableAttr(ATTR.messageType, String(o.messageType)), printableAttr(ATTR.transactionID, o.transactionId), octetsAttr(ATTR.senderNonce, senderNonce)],
    signingTime: new Date(),
    sign: async (attrs) => sign(digest, attrs, { key: dev.key, padding: constants.RSA_PKCS1_PADDING }),
  });
  return { der, senderNonce };
}

/** IssuerAndSubject (CertPoll) for a CSR subject under the CA certificate. */
export function issuerAndSubject(caDer: Buffer, subjectDer: Buffer): Buffer {
  return seq(certRef(caDer).subjectDer, subjectDer);
}

export interface CertRep {
  status: number;
  failInfo?: number;
  transactionId?: string;
  recipientNonce?: Buffer;
  senderNonce?: Buffer;
  verified: boolean;
  /** Certificates of a SUCCESS answer (decrypted with the device key). */
  certs: Buffer[];
  /** Raw decrypted content (GetCRL). */
  content?: Buffer;
  signerDer: Buffer;
}

/** Verifies and opens a CertRep with the device's key. */
export function readCertRep(der: Buffer, dev: Device): CertRep {
  const m = parseSignedMessage(der);
  const rep: CertRep = {
    status: Number(attrString(m, ATTR.pkiStatus)),
    failInfo: attrString(m, ATTR.failInfo) !== undefined ? Number(attrString(m, ATTR.failInfo)) : undefined,
    transactionId: attrString(m, ATTR.transactionID),
    recipientNonce: attrOctets(m, ATTR.recipientNonce),
    senderNonce: attrOctets(m, ATTR.senderNonce),
    verified: verifySignedMessage(m) === undefined,
    certs: [],
    signerDer: m.signer.cert.der,
  };
  if (rep.status === 0) {
    const env = parseEnvelope(m.content);
    const ri = recipientFor(env, certRef(dev.certDer));
    if (!ri) throw new Error('CertRep not encrypted to the device');
    const key = privateDecrypt({ key: createPrivateKey(dev.keyPem), padding: constants.RSA_NO_PADDING }, ri.encryptedKey);
    // Strip PKCS#1 v1.5 type-2 padding by hand (node 20 refuses RSA_PKCS1_PADDING for private decryption).
    const sep = key.indexOf(0, 2);
    const cek = key.subarray(sep + 1);
    const content = decryptContent(env.contentEncryptionOid, cek, env.iv, env.encryptedContent);
    rep.content = content;
    try {
      rep.certs = signedDataCertificates(content);
    } catch {
      rep.certs = [];
    }
  }
  return rep;
}
