/**
 * Delegated OCSP responders (RFC 6960 §4.2.2.2): per CA, a P-256 key in the key store (label
 * `ocsp-<caId>`) and a short-lived certificate issued by that CA with id-kp-OCSPSigning, KU
 * digitalSignature and id-pkix-ocsp-nocheck (profile `ocsp-responder`), re-issued when less than a
 * third of its lifetime is left. While a CA has no usable responder identity, OcspResponder falls
 * back to signing with the CA key (§2.6).
 *
 * The store is the truth, so every node answers with the same responder (issue 7): a CA's current
 * responder certificate is the newest valid `ocsp-responder` certificate it issued whose public key
 * is the key store's `ocsp-<caId>` key. Generating that key and issuing happen only on the holder
 * of lease `ocsp-responder:<caId>` (when `leases` is given); every node re-reads the store on start
 * and every `pollMs`. Offline CAs (key ceremony) cannot issue online: their certificate, signed in
 * the `ocsp-signer` ceremony, is read from DATA/ocsp/<caId>.crt.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { trustedKeyRequest, type Authority } from '../../core/authority.js';
import type { Issuer, IssuerRegistry } from '../../core/issuers.js';
import type { AuditSink, Clock } from '../../core/ports.js';
import { isFlintError } from '../../errors/index.js';
import type { KeyStore, Signer } from '../../keys/types.js';
import { signatureAlgorithmIdentifier } from '../../pki/algorithms.js';
import { parseCertificate } from '../../pki/certificate.js';
import { subjectPublicKeyBits } from '../../pki/extensions.js';
import type { ParsedCertificate } from '../../pki/types.js';
import type { CertificateRepository } from '../../store/types.js';

export const OCSP_RESPONDER_PROFILE = 'ocsp-responder';

/** What OcspResponder signs with for one CA. */
export interface ResponderIdentity {
  signer: Signer;
  signatureAlgorithmDer: Buffer;
  /** ResponderID byKey: SHA-1 of the responder key's subjectPublicKey bits (§4.2.1). */
  keyHash: Buffer;
  /** Certificates for BasicOCSPResponse.certs (the responder certificate). */
  certs: Buffer[];
  notBefore: Date;
  notAfter: Date;
}

export interface DelegatedDeps {
  issuers: IssuerRegistry;
  keys: Pick<KeyStore, 'find' | 'generate'>;
  authority: Pick<Authority, 'issue'>;
  audit: Pick<AuditSink, 'record'>;
  clock: Clock;
  store: { certificates: Pick<CertificateRepository, 'list'> };
  /** Where the `ocsp-signer` ceremony puts offline CAs' responder certificates (DATA/ocsp). */
  dir: string;
  logger?: Logger;
  /** Several nodes: only the holder of `ocsp-responder:<caId>` generates and issues. Absent: this process does. */
  leases?: { hold(name: string, o: { ttlMs: number; onAcquire?: () => void }): Promise<boolean>; holds(name: string): boolean };
  /** Lease time, default 15 s. */
  leaseMs?: number;
  /** How often the store is re-read for a newer responder certificate (and renewal checked), default 5 s. */
  pollMs?: number;
}

export const responderKeyLabel = (caId: string) => `ocsp-${caId}`;
export const responderLeaseName = (caId: string) => `ocsp-responder:${caId}`;

/** True when less than a third of [notBefore, notAfter] is left at `now`. */
export function renewalDue(notBefore: Date, notAfter: Date, now: Date): boolean {
  const life = notAfter.getTime() - notBefore.getTime();
  return notAfter.getTime() - now.getTime() < life / 3;
}

export class DelegatedResponders {
  private readonly ids = new Map<string, ResponderIdentity>();
  private readonly renewing = new Map<string, Promise<void>>();
  private poller?: NodeJS.Timeout;

  constructor(private readonly d: DelegatedDeps) {}

  /** Online CAs that get a delegated responder (retiring CAs keep signing with the CA key). */
  private online(): Issuer[] {
    return this.d.issuers.list().filter((i) => i.signer && i.record.status === 'active');
  }

  /** May this node generate the key and issue for the CA now? */
  private mayIssue(caId: string): boolean {
    return !this.d.leases || this.d.leases.holds(responderLeaseName(caId));
  }

  /**
   * Loads (from the store) or, on the lease holder, issues a responder identity for every CA that
   * can sign, then keeps polling. Failures are logged; that CA falls back to CA signing meanwhile.
   */
  async start(): Promise<void> {
    for (const issuer of this.d.issuers.list()) {
      if (!issuer.signer) await this.loadOffline(issuer).catch((e) => this.d.logger?.warn({ err: e, ca: issuer.id }, 'offline CA responder certificate unusable'));
    }
    const online = this.online();
    if (this.d.leases) {
      const ttlMs = this.d.leaseMs ?? 15_000;
      await Promise.all(online.map((i) => this.d.leases!.hold(responderLeaseName(i.id), { ttlMs, onAcquire: () => this.refreshInBackground(i) })));
    }
    online.forEach((i) => this.refreshInBackground(i)); // joins a refresh onAcquire already started
    await this.settle();
    this.poller = setInterval(() => online.forEach((i) => this.refreshInBackground(i)), this.d.pollMs ?? 5000);
    this.poller.unref();
  }

  /** Stops polling and waits for background work (shutdown). */
  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    await this.settle();
  }

  /** The current identity for a CA (synchronous, hot path); starts a background re-issue when due. */
  current(caId: string): ResponderIdentity | undefined {
    const id = this.ids.get(caId);
    // Offline CAs (key ceremonies) cannot re-issue: their responder certificate is renewed offline.
    if (id && renewalDue(id.notBefore, id.notAfter, this.d.clock()) && this.mayIssue(caId) && this.d.issuers.get(caId).signer) {
      this.refreshInBackground(this.d.issuers.get(caId));
    }
    if (id && id.notAfter.getTime() <= this.d.clock().getTime()) return undefined; // expired: CA signs
    return id;
  }

  /** Waits for background renewals (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.renewing.values()]);
  }

  /** At most one refresh per CA at a time; errors are logged (the next poll retries). */
  private refreshInBackground(issuer: Issuer): void {
    if (this.renewing.has(issuer.id)) return;
    const p = this.refresh(issuer)
      .catch((e) => this.d.logger?.warn({ err: e, ca: issuer.id }, 'OCSP responder certificate refresh failed; signing OCSP with the CA key until one is usable'))
      .finally(() => this.renewing.delete(issuer.id));
    this.renewing.set(issuer.id, p);
  }

  /** The lease holder ensures a current certificate exists; every other node loads the newest from the store. */
  private async refresh(issuer: Issuer): Promise<void> {
    if (this.mayIssue(issuer.id)) return this.ensure(issuer);
    const signer = await this.d.keys.find(responderKeyLabel(issuer.id));
    const cert = signer ? await this.newestInStore(issuer, signer) : undefined;
    if (signer && cert) this.use(issuer.id, signer, cert);
  }

  /** Replaces the identity when `cert` is a different certificate (keeps memoized state otherwise). */
  private use(caId: string, signer: Signer, cert: ParsedCertificate): void {
    const cur = this.ids.get(caId);
    if (cur && cur.certs[0]!.equals(cert.der) && cur.signer.keyUri === signer.keyUri) return;
    this.ids.set(caId, this.identity(signer, cert));
  }

  /** Whether `cert` was issued by `issuer` to `signer`'s key. */
  private matches(issuer: Issuer, signer: Signer, cert: ParsedCertificate): boolean {
    const aki = issuer.cert.subjectKeyId;
    return cert.issuerDer.equals(issuer.cert.subjectDer) && (!aki || !cert.authorityKeyId || cert.authorityKeyId.equals(aki)) && cert.subjectPublicKeyInfo.equals(signer.publicKey);
  }

  /** The newest valid, currently usable `ocsp-responder` certificate of the CA for the key store's responder key. */
  private async newestInStore(issuer: Issuer, signer: Signer): Promise<ParsedCertificate | undefined> {
    const now = this.d.clock();
    const rows = await this.d.store.certificates.list({ issuerId: issuer.id, profile: OCSP_RESPONDER_PROFILE, status: 'valid', notExpiredAt: now });
    let best: ParsedCertificate | undefined;
    for (const r of rows) {
      if (r.notBefore > now) continue;
      const cert = parseCertificate(r.der);
      if (this.matches(issuer, signer, cert) && (!best || cert.notBefore > best.notBefore)) best = cert;
    }
    return best;
  }

  /**
   * An offline CA (root on an offline token) answers OCSP only through a responder certificate it
   * signed in a key ceremony (`ocsp-signer`): DATA/ocsp/<caId>.crt with key `ocsp-<caId>` in the key store.
   */
  private async loadOffline(issuer: Issuer): Promise<void> {
    const signer = await this.d.keys.find(responderKeyLabel(issuer.id));
    if (!signer) return;
    let cert: ParsedCertificate;
    try {
      cert = parseCertificate(readFileSync(join(this.d.dir, `${issuer.id}.crt`), 'utf8'));
    } catch {
      return;
    }
    if (this.matches(issuer, signer, cert)) this.ids.set(issuer.id, this.identity(signer, cert));
  }

  private identity(signer: Signer, cert: ParsedCertificate): ResponderIdentity {
    return {
      signer,
      signatureAlgorithmDer: signatureAlgorithmIdentifier(signer.algorithm),
      keyHash: createHash('sha1').update(subjectPublicKeyBits(signer.publicKey)).digest(),
      certs: [cert.der],
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    };
  }

  /** Finds/generates the key, reuses the stored certificate unless renewal is due, else issues one (lease holder only). */
  async ensure(issuer: Issuer): Promise<void> {
    const label = responderKeyLabel(issuer.id);
    const signer = (await this.d.keys.find(label)) ?? (await this.generateKey(label));
    const now = this.d.clock();
    let cert = await this.newestInStore(issuer, signer);
    if (!cert || renewalDue(cert.notBefore, cert.notAfter, now)) {
      if (!this.mayIssue(issuer.id)) return; // lost the lease meanwhile: the new holder issues
      const issued = await this.d.authority.issue({
        csr: trustedKeyRequest(signer.publicKey, [{ type: 'CN', value: `${issuer.cert.subject.find((a) => a.type === 'CN')?.value ?? issuer.id} OCSP Responder`.slice(0, 64) }], {}, 'P-256', 256),
        trustedKey: true,
        profile: OCSP_RESPONDER_PROFILE,
        protocol: 'cli',
        requester: 'system:ocsp',
        issuerId: issuer.id,
      });
      cert = parseCertificate(issued.der);
      await this.d.audit
        .record({ actor: 'system:ocsp', action: 'ocsp.responder.issue', object: `ca:${issuer.id}`, result: 'ok', data: { serial: issued.serial, keyUri: signer.keyUri, notAfter: issued.notAfter.toISOString() } })
        .catch((e) => this.d.logger?.warn({ err: e }, 'audit ocsp.responder.issue failed'));
      this.d.logger?.info({ ca: issuer.id, serial: issued.serial, notAfter: issued.notAfter }, 'OCSP responder certificate issued');
    }
    this.use(issuer.id, signer, cert);
  }

  /** A key another node generated a moment ago (shared token) is used rather than failing. */
  private async generateKey(label: string): Promise<Signer> {
    try {
      return await this.d.keys.generate(label, 'P-256');
    } catch (e) {
      const existing = isFlintError(e) && e.kind === 'conflict' ? await this.d.keys.find(label) : undefined;
      if (existing) return existing;
      throw e;
    }
  }
}
