/**
 * The signing steps of key ceremonies (cli/ceremony/ reads the files and runs them): self-signed
 * roots, subordinate CA and OCSP-responder certificates signed by an offline CA, offline CRLs and
 * CSRs for keys on a token. Deterministic: everything in the TBS comes from the ceremony file
 * (validity is given as dates, not "now + N days"), except the serial and the key.
 */
import { createPublicKey } from 'node:crypto';
import { FlintError } from '../errors/index.js';
import type { Signer } from '../keys/types.js';
import { signatureAlgorithmIdentifier } from '../pki/algorithms.js';
import { assembleCertificate, buildTbsCertificate } from '../pki/certificate.js';
import { assembleCrl, buildTbsCrl, type CrlEntry } from '../pki/crl.js';
import { assembleCsr, buildCsrInfo } from '../pki/csr-build.js';
import { encodeName } from '../pki/name.js';
import type { KeyUsage, NameAttribute, NameConstraints, ParsedCertificate, TbsCertificateInput } from '../pki/types.js';
import { verifySignature } from './signature.js';

const NO_SANS = { dns: [], ip: [], email: [], uri: [] };
const CA_KEY_USAGE: KeyUsage[] = ['digitalSignature', 'keyCertSign', 'cRLSign'];

export interface CaCertificateFields {
  notBefore: Date;
  notAfter: Date;
  pathLength?: number;
  nameConstraints?: NameConstraints;
  policies?: string[];
}

export interface SubordinateUrls {
  crlUrl?: string;
  caIssuersUrl?: string;
  ocspUrl?: string;
}

/** Signs a TBS with `signer` and checks the signature with `issuerPublicKey` (SPKI DER) before assembling. */
async function signChecked(signer: Signer, issuerSpki: Buffer, tbs: Buffer, assemble: (tbs: Buffer, alg: Buffer, sig: Buffer) => Buffer): Promise<Buffer> {
  const sig = await signer.sign(tbs);
  const pub = createPublicKey({ key: issuerSpki, format: 'der', type: 'spki' });
  if (!verifySignature(pub, signer.algorithm, tbs, sig)) {
    throw new FlintError('internal', `the signature of key ${signer.keyUri} does not verify with the issuer certificate's public key (wrong key?)`, { code: 'ceremony.signatureMismatch' });
  }
  return assemble(tbs, signatureAlgorithmIdentifier(signer.algorithm), sig);
}

/** The TBS of a self-signed root (RFC 5280 §4.2.1.9: CA, pathLen; §4.2.1.3 keyCertSign + cRLSign). */
export function rootTbs(serial: Uint8Array, signer: Pick<Signer, 'algorithm' | 'publicKey'>, subject: NameAttribute[], f: CaCertificateFields): Buffer {
  return buildTbsCertificate({
    serial,
    signatureAlgorithm: signatureAlgorithmIdentifier(signer.algorithm),
    issuer: encodeName(subject),
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    subject,
    subjectPublicKeyInfo: signer.publicKey,
    sans: NO_SANS,
    keyUsage: CA_KEY_USAGE,
    extKeyUsage: [],
    basicConstraints: { ca: true, pathLen: f.pathLength },
    subjectKeyId: true,
    nameConstraints: f.nameConstraints,
    policies: f.policies?.length ? f.policies : undefined,
  });
}

export async function selfSignRoot(serial: Uint8Array, signer: Signer, subject: NameAttribute[], f: CaCertificateFields): Promise<Buffer> {
  return signChecked(signer, signer.publicKey, rootTbs(serial, signer, subject, f), assembleCertificate);
}

function checkIssuer(issuer: ParsedCertificate, signer: Signer, notAfter: Date): void {
  if (!issuer.isCA) throw new FlintError('invalidConfig', 'issuer.certificate is not a CA certificate');
  if (!issuer.subjectPublicKeyInfo.equals(signer.publicKey)) {
    throw new FlintError('invalidConfig', `issuer.keyLabel: key ${signer.keyUri} does not belong to issuer.certificate (public keys differ)`);
  }
  if (notAfter > issuer.notAfter) throw new FlintError('invalidConfig', `validity.notAfter: after the issuer certificate's notAfter (${issuer.notAfter.toISOString()})`);
}

/** TBS of a certificate signed by an offline CA: a subordinate CA or a delegated OCSP responder. */
export function subordinateTbs(
  serial: Uint8Array,
  issuer: ParsedCertificate,
  algorithm: Signer['algorithm'],
  spki: Buffer,
  subject: { attrs: NameAttribute[]; der?: Buffer },
  kind: { ca: CaCertificateFields & SubordinateUrls } | { ocsp: { notBefore: Date; notAfter: Date } },
): Buffer {
  const base: Omit<TbsCertificateInput, 'notBefore' | 'notAfter' | 'keyUsage' | 'extKeyUsage'> = {
    serial,
    signatureAlgorithm: signatureAlgorithmIdentifier(algorithm),
    issuer: issuer.subjectDer,
    subject: subject.attrs,
    subjectDer: subject.der,
    subjectPublicKeyInfo: spki,
    sans: NO_SANS,
    authorityKeyId: requireSki(issuer),
    subjectKeyId: true,
  };
  if ('ocsp' in kind) {
    // RFC 6960 §4.2.2.2: id-kp-OCSPSigning, issued directly by the CA; §4.2.2.2.1 id-pkix-ocsp-nocheck.
    return buildTbsCertificate({ ...base, ...kind.ocsp, keyUsage: ['digitalSignature'], extKeyUsage: ['ocspSigning'], basicConstraints: { ca: false }, ocspNoCheck: true });
  }
  const f = kind.ca;
  return buildTbsCertificate({
    ...base,
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    keyUsage: CA_KEY_USAGE,
    extKeyUsage: [],
    basicConstraints: { ca: true, pathLen: f.pathLength },
    nameConstraints: f.nameConstraints,
    policies: f.policies?.length ? f.policies : undefined,
    crlDistributionPoints: f.crlUrl ? [f.crlUrl] : undefined,
    caIssuersUrls: f.caIssuersUrl ? [f.caIssuersUrl] : undefined,
    ocspUrls: f.ocspUrl ? [f.ocspUrl] : undefined,
  });
}

export async function signSubordinate(
  serial: Uint8Array,
  signer: Signer,
  issuer: ParsedCertificate,
  spki: Buffer,
  subject: { attrs: NameAttribute[]; der?: Buffer },
  kind: { ca: CaCertificateFields & SubordinateUrls } | { ocsp: { notBefore: Date; notAfter: Date } },
): Promise<Buffer> {
  checkIssuer(issuer, signer, 'ca' in kind ? kind.ca.notAfter : kind.ocsp.notAfter);
  return signChecked(signer, issuer.subjectPublicKeyInfo, subordinateTbs(serial, issuer, signer.algorithm, spki, subject, kind), assembleCertificate);
}

function requireSki(issuer: ParsedCertificate): Buffer {
  if (!issuer.subjectKeyId) throw new FlintError('invalidConfig', 'issuer.certificate has no subject key identifier (RFC 5280 §4.2.1.2)');
  return issuer.subjectKeyId;
}

/** A CRL signed by an offline CA (RFC 5280 §5) listing exactly the given entries. */
export async function signOfflineCrl(signer: Signer, issuer: ParsedCertificate, c: { number: number; thisUpdate: Date; nextUpdate: Date; entries: CrlEntry[] }): Promise<Buffer> {
  checkIssuer(issuer, signer, issuer.notAfter);
  const tbs = buildTbsCrl({
    signatureAlgorithm: signatureAlgorithmIdentifier(signer.algorithm),
    issuerDer: issuer.subjectDer,
    thisUpdate: c.thisUpdate,
    nextUpdate: c.nextUpdate,
    entries: c.entries,
    authorityKeyId: requireSki(issuer),
    crlNumber: c.number,
  });
  return signChecked(signer, issuer.subjectPublicKeyInfo, tbs, assembleCrl);
}

/** PKCS#10 request signed by the key it names (proof of possession for the offline signer). */
export async function makeCsr(signer: Signer, subject: NameAttribute[]): Promise<Buffer> {
  const info = buildCsrInfo(encodeName(subject), signer.publicKey);
  return signChecked(signer, signer.publicKey, info, assembleCsr);
}
