/** simplereenroll identity check (RFC 7030 §4.2.2) and serverkeygen key generation (§4.4). */
import { generateKeyPairSync, randomBytes, type KeyPairKeyObjectResult } from 'node:crypto';
import { trustedKeyRequest } from '../../core/authority.js';
import { parseCertificate } from '../../pki/certificate.js';
import { nameToString } from '../../pki/name.js';
import type { ParsedCsr, SubjectAltNames } from '../../pki/types.js';
import type { Profile } from '../../profiles/index.js';
import type { EstResponse } from './ports.js';
import { buildCertsOnly } from '../../pki/cms-certs-only.js';
import { encodeBase64Body, MEDIA, multipartMixed } from './wire.js';

const norm = (s: SubjectAltNames): string =>
  JSON.stringify([...s.dns.map((d) => `dns:${d.toLowerCase()}`), ...s.ip.map((i) => `ip:${i}`), ...s.email.map((e) => `email:${e.toLowerCase()}`), ...s.uri.map((u) => `uri:${u}`)].sort());

/**
 * §4.2.2: "the Subject field and SubjectAltName extension MUST be identical to the corresponding
 * fields in the certificate being renewed/rekeyed". Returns why not, or undefined when they are.
 */
export function reenrollMismatch(currentDer: Buffer, csr: ParsedCsr): string | undefined {
  const cert = parseCertificate(currentDer);
  if (!cert.subjectDer.equals(csr.subjectDer) && nameToString(cert.subject) !== nameToString(csr.subject)) {
    return `CSR subject "${nameToString(csr.subject)}" differs from the current certificate's subject "${nameToString(cert.subject)}" (RFC 7030 §4.2.2)`;
  }
  if (norm(cert.sans) !== norm(csr.sans)) return 'CSR subjectAltName differs from the current certificate (RFC 7030 §4.2.2)';
  return undefined;
}

/**
 * Generates the key the profile prefers (first EC curve, else the smallest RSA size, else
 * Ed25519), has it certified for the CSR's subject and SANs, and answers multipart/mixed:
 * the unencrypted PKCS#8 key (the TLS session protects it, §4.4.2) then the certs-only CMS.
 */
export async function serverKeyGen(profile: Profile, csr: ParsedCsr, issue: (req: ParsedCsr) => Promise<{ der: Buffer }>): Promise<EstResponse> {
  let pair: KeyPairKeyObjectResult;
  let keyType: ParsedCsr['keyType'];
  let bits: number;
  if (profile.keyTypes.ec) {
    const curve = profile.keyTypes.ec.curves[0]!;
    pair = generateKeyPairSync('ec', { namedCurve: curve });
    keyType = curve;
    bits = curve === 'P-256' ? 256 : 384;
  } else if (profile.keyTypes.rsa) {
    bits = Math.max(2048, profile.keyTypes.rsa.minBits);
    pair = generateKeyPairSync('rsa', { modulusLength: bits });
    keyType = `RSA-${bits}` as ParsedCsr['keyType'];
  } else {
    pair = generateKeyPairSync('ed25519');
    keyType = 'Ed25519';
    bits = 256;
  }
  // The key is ours, not the client's: the CSR's own signature was already checked by the caller.
  const issued = await issue(trustedKeyRequest(pair.publicKey.export({ type: 'spki', format: 'der' }), csr.subject, csr.sans, keyType, bits));
  const boundary = `est-${randomBytes(12).toString('hex')}`;
  return {
    status: 200,
    headers: { 'Content-Type': `multipart/mixed; boundary=${boundary}` },
    body: multipartMixed(boundary, [
      { contentType: MEDIA.pkcs8, body: encodeBase64Body(pair.privateKey.export({ type: 'pkcs8', format: 'der' })) },
      { contentType: MEDIA.certsOnly, body: encodeBase64Body(buildCertsOnly([issued.der])) },
    ]),
  };
}
