/**
 * EST wire formats (RFC 7030). Operation names, media types, base64 transfer encoding and the
 * CsrAttrs structure; no HTTP framework here.
 */
import { oid, seq, setOf } from '../../pki/der.js';
import { FlintError } from '../../errors/index.js';

/** RFC 7030 §3.2.2 operation path segments. */
export const EST_OPERATIONS = ['cacerts', 'simpleenroll', 'simplereenroll', 'fullcmc', 'serverkeygen', 'csrattrs'] as const;
export type EstOperation = (typeof EST_OPERATIONS)[number];
export const isEstOperation = (s: string): s is EstOperation => (EST_OPERATIONS as readonly string[]).includes(s);

/** GET for cacerts/csrattrs (§4.1, §4.5), POST for the rest. */
export const OPERATION_METHOD: Record<EstOperation, 'GET' | 'POST'> = {
  cacerts: 'GET',
  csrattrs: 'GET',
  simpleenroll: 'POST',
  simplereenroll: 'POST',
  fullcmc: 'POST',
  serverkeygen: 'POST',
};

export const MEDIA = {
  /** §4.1.3, §4.2.3 */
  certsOnly: 'application/pkcs7-mime; smime-type=certs-only',
  /** §4.2.1 */
  pkcs10: 'application/pkcs10',
  /** §4.5.2 */
  csrattrs: 'application/csrattrs',
  /** §4.4.2 */
  pkcs8: 'application/pkcs8',
} as const;

/** The largest base64 CSR body we read (a 4096-bit RSA CSR with many SANs is a few KiB). */
export const MAX_CSR_BODY = 64 * 1024;

/** §4: bodies are base64 (RFC 4648 §4) with Content-Transfer-Encoding: base64; whitespace is tolerated. */
export function decodeBase64Body(body: Buffer | string, what: string): Buffer {
  const text = (typeof body === 'string' ? body : body.toString('latin1')).replace(/[\s]+/g, '');
  if (!text) throw new FlintError('malformed', `empty ${what} body`, { code: 'est.emptyBody' });
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 === 1) throw new FlintError('malformed', `${what} body is not base64`, { code: 'est.notBase64' });
  return Buffer.from(text, 'base64');
}

/** Base64 in 64-character lines (PEM-style), which `openssl base64 -d` also reads. */
export function encodeBase64Body(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return (b64.match(/.{1,64}/g) ?? []).join('\r\n') + '\r\n';
}

/** The base media type without parameters, lower-case ('' when absent). */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

export const OIDS = {
  challengePassword: '1.2.840.113549.1.9.7',
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  'P-256': '1.2.840.10045.3.1.7',
  'P-384': '1.3.132.0.34',
} as const;

/**
 * §4.5.2:
 *   CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID
 *   AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }
 *   Attribute { ATTRIBUTE:IOSet } ::= SEQUENCE { type OID, values SET SIZE(1..MAX) OF ... }
 * An entry is either a bare OID or an attribute with OID values (e.g. ecPublicKey → { P-256 }).
 */
export type AttrOrOid = { oid: string } | { type: string; values: string[] };

export function encodeCsrAttrs(items: readonly AttrOrOid[]): Buffer {
  return seq(...items.map((i) => ('oid' in i ? oid(i.oid) : seq(oid(i.type), setOf(...i.values.map((v) => oid(v)))))));
}

/** Multipart body for serverkeygen (§4.4.2): the private key part, then the certificate part. */
export function multipartMixed(boundary: string, parts: { contentType: string; body: string }[]): string {
  const out: string[] = [];
  for (const p of parts) out.push(`--${boundary}\r\nContent-Type: ${p.contentType}\r\nContent-Transfer-Encoding: base64\r\n\r\n${p.body}`);
  return out.join('') + `--${boundary}--\r\n`;
}

