/**
 * The per-request path of parseCsr and spkiKeyType (csr.ts): the CSR's outer structure and the
 * SubjectPublicKeyInfo are walked with the DER header reader; only the small parts whose reading
 * rules live in name.ts / csr.ts (subject Name, attributes) go through asn1js. Hand-written on
 * purpose: asn1js decodes an RSA CSR ~4x slower, most of it spent turning the modulus and the
 * signature into numbers and trying to read BIT STRING contents as nested BER.
 * Both functions return undefined for anything not in the expected shape; csr.ts then decodes with
 * asn1js as before, which words the precise error.
 *
 *   CertificationRequest ::= SEQUENCE { certificationRequestInfo SEQUENCE { version INTEGER (0),
 *     subject Name, subjectPKInfo SubjectPublicKeyInfo, attributes [0] IMPLICIT SET OF Attribute },
 *     signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 */
import type { KeyType } from './algorithms.js';
import { OID } from './algorithms.js';
import { childViews, oidText, readHeader, valueOf } from './der.js';

export interface CsrDerParts {
  /** certificationRequestInfo, subject, SPKI, [0] attributes (if present), signatureAlgorithm: whole TLVs. */
  cri: Buffer;
  subject: Buffer;
  spki: Buffer;
  attributes?: Buffer;
  signatureAlgorithm: Buffer;
  signatureAlgorithmOid: string;
  /** signature BIT STRING content without the unused-bits octet (which is 0). */
  signature: Buffer;
}

/** Exactly one TLV filling `buf`. */
const whole = (buf: Buffer) => readHeader(buf, 0).end === buf.length;

/**
 * The AlgorithmIdentifier shapes of the hot path: { OID }, { OID, NULL } or { OID, OID } (named
 * curve), each OID a valid encoding. Anything else (RSASSA-PSS parameters, ...) is asn1js's.
 */
function simpleAlgId(alg: Buffer): boolean {
  const [id, params, extra] = childViews(alg);
  if (extra || id?.[0] !== 0x06) return false;
  oidText(id); // throws on a bad encoding
  if (!params) return true;
  if (params[0] === 0x05) return params.length === 2 && params[1] === 0;
  if (params[0] === 0x06) return oidText(params) !== '';
  return false;
}

export function walkCsrDer(der: Buffer): CsrDerParts | undefined {
  try {
    if (der[0] !== 0x30 || !whole(der)) return undefined;
    const [cri, sigAlg, sig, extra] = childViews(der);
    if (extra || cri?.[0] !== 0x30 || sigAlg?.[0] !== 0x30 || sig?.[0] !== 0x03) return undefined;
    const [version, subject, spki, attributes, extra2] = childViews(cri);
    if (extra2 || version?.[0] !== 0x02 || !valueOf(version).equals(Buffer.from([0])) || subject?.[0] !== 0x30 || spki?.[0] !== 0x30) return undefined;
    if (attributes && attributes[0] !== 0xa0) return undefined;
    const [algOid] = childViews(sigAlg);
    const bits = valueOf(sig);
    if (algOid?.[0] !== 0x06 || bits.length === 0 || bits[0] !== 0 || !simpleAlgId(sigAlg)) return undefined;
    return { cri, subject, spki, attributes, signatureAlgorithm: sigAlg, signatureAlgorithmOid: oidText(algOid), signature: bits.subarray(1) };
  } catch {
    return undefined;
  }
}

const RSA_SIZES = new Set(['RSA-2048', 'RSA-3072', 'RSA-4096']);

/**
 * What an SPKI's algorithm (and RSA modulus or EC named curve) says about the key: keyType is one
 * we issue for, or 'unsupported'; keyBits the modulus or curve size when known. Shared by both paths.
 */
export function keyTypeOf(algorithmOid: string, curve?: string, modulus?: Buffer): { keyType: KeyType | 'unsupported'; keyBits: number; algorithmOid: string } {
  switch (algorithmOid) {
    case OID.rsaEncryption:
    case OID.rsassaPss: {
      const mod = modulus ?? Buffer.alloc(0);
      let i = 0;
      while (i < mod.length - 1 && mod[i] === 0) i++;
      const keyBits = (mod.length - i - 1) * 8 + (32 - Math.clz32(mod[i] ?? 0));
      const sized = `RSA-${keyBits}`;
      return { keyType: algorithmOid === OID.rsaEncryption && RSA_SIZES.has(sized) ? (sized as KeyType) : 'unsupported', keyBits, algorithmOid };
    }
    case OID.ecPublicKey:
      if (curve === OID.p256) return { keyType: 'P-256', keyBits: 256, algorithmOid };
      if (curve === OID.p384) return { keyType: 'P-384', keyBits: 384, algorithmOid };
      return { keyType: 'unsupported', keyBits: curve === '1.3.132.0.35' ? 521 : 0, algorithmOid };
    case OID.ed25519:
      return { keyType: 'Ed25519', keyBits: 256, algorithmOid };
    default:
      return { keyType: 'unsupported', keyBits: 0, algorithmOid };
  }
}

/** spkiKeyType for well-formed RSA, EC and Ed25519 keys (RFC 3279 §2.3, RFC 5480, RFC 8410). */
export function spkiKeyTypeDer(spki: Buffer): { keyType: KeyType | 'unsupported'; keyBits: number; algorithmOid: string } | undefined {
  try {
    if (spki[0] !== 0x30 || !whole(spki)) return undefined;
    const [alg, key, extra] = childViews(spki);
    if (extra || alg?.[0] !== 0x30 || key?.[0] !== 0x03 || !simpleAlgId(alg)) return undefined;
    const [algOidEl, params] = childViews(alg);
    if (algOidEl?.[0] !== 0x06) return undefined;
    const algorithmOid = oidText(algOidEl);
    const bits = valueOf(key);
    if (bits[0] !== 0) return undefined; // unused bits: asn1js decides
    if (algorithmOid !== OID.rsaEncryption && algorithmOid !== OID.rsassaPss) return keyTypeOf(algorithmOid, params?.[0] === 0x06 ? oidText(params) : undefined);
    const rsa = bits.subarray(1);
    if (rsa[0] !== 0x30 || !whole(rsa)) return undefined;
    const [n, e, more] = childViews(rsa);
    if (more || n?.[0] !== 0x02 || e?.[0] !== 0x02 || n.length < 3) return undefined;
    return keyTypeOf(algorithmOid, undefined, valueOf(n));
  } catch {
    return undefined;
  }
}
