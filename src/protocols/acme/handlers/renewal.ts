/**
 * RFC 9773 ACME Renewal Information (ARI). certID = base64url(AKI keyIdentifier) "." base64url(serial DER
 * content octets). The suggested window is the last third of the validity period, or "now" when the
 * certificate is revoked (or on hold) or its issuing CA is retiring (rollover).
 */
import { normalizeSerial } from '../../../core/serial.js';
import { parseCertificate } from '../../../pki/certificate.js';
import type { CertificateRecord } from '../../../store/types.js';
import { AcmeError } from '../errors.js';
import type { AcmeDeps } from '../ports.js';

export const ARI_RETRY_AFTER_SECONDS = 6 * 3600;
const B64URL = /^[A-Za-z0-9_-]+$/;

export interface CertId {
  aki: Buffer;
  /** Lower-case hex as the store keys it. */
  serial: string;
}

export function parseCertId(v: string): CertId {
  const parts = v.split('.');
  if (parts.length !== 2 || !parts.every((p) => B64URL.test(p))) throw new AcmeError('malformed', 'certID must be base64url(AKI keyIdentifier).base64url(serial)');
  const aki = Buffer.from(parts[0]!, 'base64url');
  const serialBytes = Buffer.from(parts[1]!, 'base64url');
  if (aki.length === 0 || serialBytes.length === 0 || serialBytes.length > 21) throw new AcmeError('malformed', 'certID has an empty or oversized part');
  return { aki, serial: normalizeSerial(serialBytes.toString('hex')) };
}

export function certIdOf(der: Buffer): string {
  const c = parseCertificate(der);
  if (!c.authorityKeyId) throw new Error('certificate has no authority key identifier');
  const serial = Buffer.from(c.serialHex.length % 2 ? `0${c.serialHex}` : c.serialHex, 'hex');
  const withSign = serial[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), serial]) : serial;
  return `${Buffer.from(c.authorityKeyId).toString('base64url')}.${withSign.toString('base64url')}`;
}

/** The certificate a certID names (its AKI must match too); notFound problem otherwise. */
export async function certificateByCertId(deps: Pick<AcmeDeps, 'certificates'>, certId: string): Promise<CertificateRecord> {
  const id = parseCertId(certId);
  const cert = await deps.certificates.get(id.serial);
  const aki = cert ? parseCertificate(cert.der).authorityKeyId : undefined;
  if (!cert || !aki || !Buffer.from(aki).equals(id.aki)) throw new AcmeError('malformed', 'no certificate with this certID', { status: 404 });
  return cert;
}

/** `issuerRetiring`: the issuing CA is being rolled over (key ceremony `rollover`), so renew now too. */
export function suggestedWindow(cert: Pick<CertificateRecord, 'notBefore' | 'notAfter' | 'status'>, now: Date, issuerRetiring = false): { start: string; end: string } {
  if (cert.status !== 'valid' || issuerRetiring) return { start: new Date(now.getTime() - 3_600_000).toISOString(), end: new Date(now.getTime() + 3_600_000).toISOString() };
  const nb = cert.notBefore.getTime();
  const na = cert.notAfter.getTime();
  return { start: new Date(nb + ((na - nb) * 2) / 3).toISOString(), end: new Date(na).toISOString() };
}

export async function renewalInfo(deps: Pick<AcmeDeps, 'certificates' | 'clock' | 'issuerRetiring'>, certId: string): Promise<{ json: unknown; retryAfterSeconds: number }> {
  const cert = await certificateByCertId(deps, certId);
  return { json: { suggestedWindow: suggestedWindow(cert, deps.clock(), deps.issuerRetiring?.(cert.issuerId) ?? false) }, retryAfterSeconds: ARI_RETRY_AFTER_SECONDS };
}
