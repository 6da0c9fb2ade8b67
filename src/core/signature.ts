/** Checks a signature we just produced against the CA certificate's public key (issuance step "verify"). */
import { constants, verify, type KeyObject } from 'node:crypto';
import { hashOf, type SignatureAlgorithm } from '../pki/algorithms.js';

export function verifySignature(publicKey: KeyObject, alg: SignatureAlgorithm, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    const hash = hashOf(alg);
    if (alg.startsWith('rsa-pss')) {
      return verify(hash, data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha256' ? 32 : 48 }, signature);
    }
    return verify(hash, data, publicKey, signature);
  } catch {
    return false;
  }
}
