/**
 * PKCS#10 certification requests for keys we hold (RFC 2986 §4), for key ceremonies: the
 * intermediate's key is on the online token and the request travels to the offline root.
 * Hand-written on der.ts (a dozen bytes of structure) so the HSM signs exactly these bytes.
 *
 *   CertificationRequest ::= SEQUENCE { certificationRequestInfo CertificationRequestInfo,
 *     signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 *   CertificationRequestInfo ::= SEQUENCE { version INTEGER { v1(0) }, subject Name,
 *     subjectPKInfo SubjectPublicKeyInfo, attributes [0] IMPLICIT SET OF Attribute }
 */
import { bitString, integer, seq } from './der.js';

/** CertificationRequestInfo with no attributes (the CA decides every extension). */
export function buildCsrInfo(subjectDer: Uint8Array, spki: Uint8Array): Buffer {
  return seq(integer(0), subjectDer, spki, Buffer.from([0xa0, 0x00]));
}

export function assembleCsr(info: Uint8Array, signatureAlgorithm: Uint8Array, signature: Uint8Array): Buffer {
  return seq(info, signatureAlgorithm, bitString(signature));
}
