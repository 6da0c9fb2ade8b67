/** Checks a signature we just produced against the CA certificate's public key (issuance step "verify"). */
import { constants, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { hashOf, type SignatureAlgorithm } from '../pki/algorithms.js';

function verifyArgs(publicKey: KeyObject, alg: SignatureAlgorithm): [string | null, KeyObject | VerifyKeyObjectInput] {
  const hash = hashOf(alg);
  if (alg.startsWith('rsa-pss')) return [hash, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha256' ? 32 : 48 }];
  return [hash, publicKey];
}

export function verifySignature(publicKey: KeyObject, alg: SignatureAlgorithm, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    const [hash, key] = verifyArgs(publicKey, alg);
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}

/**
 * verifySignature on the libuv thread pool (node:crypto's callback form): the issuance path's
 * check (~0.1 ms for ECDSA P-256) runs in parallel with the event loop instead of on it.
 */
export function verifySignatureAsync(publicKey: KeyObject, alg: SignatureAlgorithm, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      const [hash, key] = verifyArgs(publicKey, alg);
      verify(hash, data, key, signature, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}
