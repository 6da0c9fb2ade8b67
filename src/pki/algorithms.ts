/**
 * Key types and signature algorithms, with their X.509 AlgorithmIdentifier encodings.
 * RFC 3279 / RFC 4055 (RSA, RSASSA-PSS), RFC 5758 (ECDSA with SHA-2), RFC 8410 (Ed25519).
 */
import { nullDer, oid, seq, explicit, integer } from './der.js';

export const KEY_TYPES = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'P-256', 'P-384', 'Ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const SIGNATURE_ALGORITHMS = [
  'rsa-pkcs1-sha256',
  'rsa-pkcs1-sha384',
  'rsa-pkcs1-sha512',
  'rsa-pss-sha256',
  'rsa-pss-sha384',
  'ecdsa-sha256',
  'ecdsa-sha384',
  'ed25519',
] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

export const OID = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  sha384WithRSA: '1.2.840.113549.1.1.12',
  sha512WithRSA: '1.2.840.113549.1.1.13',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  ecPublicKey: '1.2.840.10045.2.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
  ed25519: '1.3.101.112',
} as const;

export function hashOf(alg: SignatureAlgorithm): 'sha256' | 'sha384' | 'sha512' | null {
  if (alg === 'ed25519') return null;
  return alg.endsWith('sha256') ? 'sha256' : alg.endsWith('sha384') ? 'sha384' : 'sha512';
}

export function keyFamily(t: KeyType): 'rsa' | 'ec' | 'ed25519' {
  return t.startsWith('RSA') ? 'rsa' : t === 'Ed25519' ? 'ed25519' : 'ec';
}

/** The signature algorithm a key type signs with unless a profile asks for another. */
export function defaultSignatureAlgorithm(t: KeyType): SignatureAlgorithm {
  switch (t) {
    case 'P-256':
      return 'ecdsa-sha256';
    case 'P-384':
      return 'ecdsa-sha384';
    case 'Ed25519':
      return 'ed25519';
    default:
      return 'rsa-pkcs1-sha256';
  }
}

/** Which signature algorithms a key type can produce. */
export function algorithmsFor(t: KeyType): SignatureAlgorithm[] {
  switch (keyFamily(t)) {
    case 'rsa':
      return ['rsa-pkcs1-sha256', 'rsa-pkcs1-sha384', 'rsa-pkcs1-sha512', 'rsa-pss-sha256', 'rsa-pss-sha384'];
    case 'ed25519':
      return ['ed25519'];
    default:
      return t === 'P-256' ? ['ecdsa-sha256', 'ecdsa-sha384'] : ['ecdsa-sha384', 'ecdsa-sha256'];
  }
}

function pssParams(hash: 'sha256' | 'sha384'): Buffer {
  // RSASSA-PSS-params (RFC 4055 §3.1): hash, MGF1 with the same hash, saltLength = hash length.
  const hashAlg = seq(oid(hash === 'sha256' ? OID.sha256 : OID.sha384));
  return seq(explicit(0, hashAlg), explicit(1, seq(oid(OID.mgf1), hashAlg)), explicit(2, integer(hash === 'sha256' ? 32 : 48)));
}

const algIdCache = new Map<SignatureAlgorithm, Buffer>();

/** DER AlgorithmIdentifier for a signature algorithm (RSA PKCS#1 carries NULL params, ECDSA none). */
export function signatureAlgorithmIdentifier(alg: SignatureAlgorithm): Buffer {
  const cached = algIdCache.get(alg);
  if (cached) return cached;
  let der: Buffer;
  switch (alg) {
    case 'rsa-pkcs1-sha256':
      der = seq(oid(OID.sha256WithRSA), nullDer());
      break;
    case 'rsa-pkcs1-sha384':
      der = seq(oid(OID.sha384WithRSA), nullDer());
      break;
    case 'rsa-pkcs1-sha512':
      der = seq(oid(OID.sha512WithRSA), nullDer());
      break;
    case 'rsa-pss-sha256':
      der = seq(oid(OID.rsassaPss), pssParams('sha256'));
      break;
    case 'rsa-pss-sha384':
      der = seq(oid(OID.rsassaPss), pssParams('sha384'));
      break;
    case 'ecdsa-sha256':
      der = seq(oid(OID.ecdsaSha256));
      break;
    case 'ecdsa-sha384':
      der = seq(oid(OID.ecdsaSha384));
      break;
    case 'ed25519':
      der = seq(oid(OID.ed25519));
      break;
  }
  algIdCache.set(alg, der);
  return der;
}

/**
 * Raw ECDSA signature r||s (PKCS#11 CKM_ECDSA output) → DER ECDSA-Sig-Value (RFC 3279 §2.2.3),
 * the form X.509, CRLs and OCSP carry.
 */
export function ecdsaRawToDer(raw: Uint8Array): Buffer {
  const half = raw.length / 2;
  return seq(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}
