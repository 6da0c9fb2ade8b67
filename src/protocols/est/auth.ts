/**
 * EST client authentication (RFC 7030 §3.2.3, §3.3.2): HTTP Basic against the configured users
 * (scrypt hashes), or a TLS client certificate that this CA issued and that is still valid.
 *
 * Basic: a verified Authorization header is cached for a short while keyed by its SHA-256, so
 * scrypt is not paid on every request; repeated failures from one client address are throttled.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { verifySecret } from '../../config/password.js';
import { FailureThrottle } from '../../core/failure-throttle.js';
import { normalizeSerial } from '../../core/serial.js';
import { FlintError } from '../../errors/index.js';
import { certificateSerialHex } from '../../pki/certificate.js';
import type { CertificateRecord } from '../../store/types.js';
import type { EstLabel } from './config.js';
import type { EstPorts, EstRequest } from './ports.js';

export type EstClient =
  | { kind: 'basic'; user: string }
  | { kind: 'cert'; record: CertificateRecord }
  /** A manufacturer (IDevID-style) certificate issued by one of the label's bootstrap CAs. */
  | { kind: 'bootstrap'; subject: string; serial: string; issuer: string; fingerprint256: string };

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 1_000;
export const FAILURE_WINDOW_MS = 60_000;
export const MAX_FAILURES = 5;

/** Failures that count against an address's guesses. */
const GUESS_CODES = new Set(['est.badCredentials', 'est.badClientCert']);

export class EstAuthenticator {
  private readonly cache = new Map<string, { user: string; expires: number }>();
  private readonly throttle: FailureThrottle;

  constructor(private readonly p: Pick<EstPorts, 'config' | 'certificates' | 'audit' | 'clock' | 'recentEvents'>) {
    this.throttle = new FailureThrottle(p.recentEvents, 'est-auth', p.clock, MAX_FAILURES, FAILURE_WINDOW_MS);
  }

  /** Throws rateLimited when this address has failed too often recently (at any node). */
  async checkRate(ip: string): Promise<void> {
    const retryAfter = await this.throttle.retryAfter(ip);
    if (retryAfter !== undefined) throw new FlintError('rateLimited', 'too many failed authentication attempts; retry later', { code: 'est.authRateLimited', retryAfter });
  }

  /**
   * The Basic user, undefined when no Basic header was sent; throws unauthorized on a bad one. Only
   * credentials that must be verified (not cached) meet the guess throttle: a throttled address is
   * refused before the scrypt check.
   */
  async basic(req: EstRequest): Promise<string | undefined> {
    const h = req.authorization;
    if (!h || !/^basic\s/i.test(h)) return undefined;
    const key = createHash('sha256').update(h).digest('hex');
    const now = this.p.clock().getTime();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.user;
    await this.checkRate(req.ip);
    const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const name = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    const user = this.p.config.users.find((u) => u.name === name);
    if (!user || !verifySecret(password, user.passwordHash)) throw new FlintError('unauthorized', 'wrong EST user name or password', { code: 'est.badCredentials' });
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { user: name, expires: now + CACHE_TTL_MS });
    return name;
  }

  /**
   * The certificate record behind the TLS client certificate, undefined when none was presented;
   * throws unauthorized when it is not one of ours, expired, or revoked.
   */
  async cert(req: EstRequest): Promise<CertificateRecord | undefined> {
    const c = req.clientCert;
    if (!c || c.der.length === 0) return undefined;
    const deny = (why: string) => new FlintError('unauthorized', `TLS client certificate not accepted: ${why}`, { code: 'est.badClientCert' });
    if (!c.authorized) throw deny('it does not chain to this CA or is outside its validity period');
    let serial: string;
    try {
      serial = normalizeSerial(certificateSerialHex(c.der));
    } catch {
      throw deny('it cannot be parsed');
    }
    const rec = await this.p.certificates.get(serial);
    if (!rec || !rec.der.equals(c.der)) throw deny('it was not issued by this CA');
    if (rec.status !== 'valid') throw deny(`it is ${rec.status}`);
    const now = this.p.clock();
    if (rec.notAfter <= now || rec.notBefore > now) throw deny('it is expired or not yet valid');
    return rec;
  }

  /**
   * A TLS client certificate issued directly by one of `cas` (the label's bootstrapCaFile): the
   * listener only asks for (and OpenSSL only verifies against) this CA's own issuers, so such a
   * certificate arrives with `authorized === false` and is verified here: issuer name/key match,
   * signature under the bootstrap CA key, and both certificates within their validity period.
   * Undefined when no bootstrap CA signed it; throws unauthorized when one did but it is not
   * currently valid. Revocation of manufacturer certificates is not checked (no CRL/OCSP source).
   */
  bootstrap(req: EstRequest, cas: readonly X509Certificate[]): Extract<EstClient, { kind: 'bootstrap' }> | undefined {
    const c = req.clientCert;
    if (!c || c.der.length === 0 || !cas.length) return undefined;
    let device: X509Certificate;
    try {
      device = new X509Certificate(c.der);
    } catch {
      return undefined; // cert() reports the parse failure
    }
    const now = this.p.clock().getTime();
    const current = (x: X509Certificate) => Date.parse(x.validFrom) <= now && now < Date.parse(x.validTo);
    for (const ca of cas) {
      let signed = false;
      try {
        signed = device.checkIssued(ca) && device.verify(ca.publicKey);
      } catch {
        signed = false;
      }
      if (!signed) continue;
      if (!current(device) || !current(ca)) {
        throw new FlintError('unauthorized', 'TLS client certificate not accepted: the bootstrap certificate or its CA is expired or not yet valid', { code: 'est.badClientCert' });
      }
      return { kind: 'bootstrap', subject: device.subject.replace(/\n/g, ', '), serial: device.serialNumber.toLowerCase(), issuer: ca.subject.replace(/\n/g, ', '), fingerprint256: device.fingerprint256 };
    }
    return undefined;
  }

  /**
   * Authenticates for a label's auth mode (§3.3.2); unauthorized when nothing acceptable was sent.
   * `bootstrapCas` (simpleenroll on a label with bootstrapCaFile only) additionally accepts a
   * manufacturer certificate, whatever the label's auth mode.
   */
  async authenticate(req: EstRequest, label: EstLabel, bootstrapCas?: readonly X509Certificate[]): Promise<EstClient> {
    try {
      return await this.identify(req, label, bootstrapCas);
    } catch (e) {
      // Wrong credentials and unacceptable certificates count as guesses; sending none does not.
      if (e instanceof FlintError && GUESS_CODES.has(e.code)) await this.throttle.fail(req.ip);
      throw e;
    }
  }

  private async identify(req: EstRequest, label: EstLabel, bootstrapCas?: readonly X509Certificate[]): Promise<EstClient> {
    if (bootstrapCas?.length && req.clientCert && !req.clientCert.authorized) {
      const b = this.bootstrap(req, bootstrapCas);
      if (b) return b;
    }
    const allowBasic = label.auth !== 'cert';
    const allowCert = label.auth !== 'basic';
    if (allowCert) {
      try {
        const rec = await this.cert(req);
        if (rec) return { kind: 'cert', record: rec };
      } catch (e) {
        // A stale or foreign client certificate does not spoil valid Basic credentials.
        if (!allowBasic || !req.authorization) throw e;
      }
    }
    const user = await this.basic(req);
    if (user !== undefined) {
      if (!allowBasic) throw new FlintError('forbidden', 'this EST label requires a TLS client certificate', { code: 'est.certRequired' });
      return { kind: 'basic', user };
    }
    throw new FlintError('unauthorized', allowBasic ? 'authentication required (HTTP Basic or a TLS client certificate)' : 'a TLS client certificate issued by this CA is required', { code: 'est.unauthenticated' });
  }
}
