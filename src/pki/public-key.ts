/**
 * SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) → node:crypto KeyObject, fast and cached.
 *
 * Hand-written fast path: node:crypto imports an SPKI through OpenSSL 3's generic decoder, which
 * costs ~450 µs per RSA or EC key on our machines — more than verifying a signature with it.
 * For rsaEncryption the subjectPublicKey BIT STRING holds exactly a PKCS#1 RSAPublicKey
 * (RFC 3279 §2.3.1), which node imports in ~20 µs; for P-256/P-384 with an uncompressed point
 * (RFC 5480 §2.2) the JWK import is faster too. Anything else (RSASSA-PSS keys, other curves,
 * compressed points, odd encodings) takes the SPKI import, so nothing is accepted that it rejects.
 *
 *   SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readHeader } from './der.js';

/** AlgorithmIdentifier { rsaEncryption, NULL } (RFC 3279 §2.3.1: parameters MUST be NULL). */
const RSA_ALG = Buffer.from('300d06092a864886f70d0101010500', 'hex');
/** AlgorithmIdentifier { id-ecPublicKey, namedCurve } → JWK crv and coordinate length (RFC 5480 §2.1.1). */
const EC_ALGS: [Buffer, 'P-256' | 'P-384', number][] = [
  [Buffer.from('301306072a8648ce3d020106082a8648ce3d030107', 'hex'), 'P-256', 32],
  [Buffer.from('301006072a8648ce3d020106052b81040022', 'hex'), 'P-384', 48],
];

const CACHE_SIZE = 1000;
const cache = new Map<string, KeyObject>();

/** The imported key for an SPKI; throws what node:crypto throws for a key it cannot import. */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  const der = Buffer.isBuffer(spki) ? spki : Buffer.from(spki);
  const k = der.toString('base64');
  let key = cache.get(k);
  if (!key) {
    key = fastImport(der) ?? createPublicKey({ key: der, format: 'der', type: 'spki' });
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(k, key);
  }
  return key;
}

/** Undefined when the SPKI is not one of the shapes above (the caller then imports it as SPKI). */
function fastImport(der: Buffer): KeyObject | undefined {
  let alg: { end: number };
  let bits: { tag: number; contentStart: number; end: number };
  try {
    const outer = readHeader(der, 0);
    if (der[0] !== 0x30 || outer.end !== der.length) return undefined;
    alg = readHeader(der, outer.contentStart);
    bits = readHeader(der, alg.end);
    if (bits.tag !== 0x03 || bits.end !== der.length || der[bits.contentStart] !== 0) return undefined;
  } catch {
    return undefined;
  }
  const algDer = der.subarray(readHeader(der, 0).contentStart, alg.end);
  const key = der.subarray(bits.contentStart + 1, bits.end);
  try {
    if (algDer.equals(RSA_ALG)) {
      const rsa = readHeader(key, 0);
      if (key[0] !== 0x30 || rsa.end !== key.length) return undefined;
      return createPublicKey({ key, format: 'der', type: 'pkcs1' });
    }
    const ec = EC_ALGS.find(([a]) => a.equals(algDer));
    if (ec && key.length === 1 + 2 * ec[2] && key[0] === 0x04) {
      const n = ec[2];
      return createPublicKey({ key: { kty: 'EC', crv: ec[1], x: key.subarray(1, 1 + n).toString('base64url'), y: key.subarray(1 + n).toString('base64url') }, format: 'jwk' });
    }
  } catch {
    return undefined; // let the SPKI import decide (and word the error)
  }
  return undefined;
}
