/**
 * Delegated OCSP responders (RFC 6960 §4.2.2.2): per CA, a P-256 key in the key store (label
 * `ocsp-<caId>`) and a short-lived certificate issued by that CA with id-kp-OCSPSigning, KU
 * digitalSignature and id-pkix-ocsp-nocheck (profile `ocsp-responder`). The certificate is kept in
 * DATA/ocsp/<caId>.crt (and in the certificate store like every issued certificate) and re-issued
 * when less than a third of its lifetime is left. While a CA has no usable responder identity,
 * OcspResponder falls back to signing with the CA key (§2.6).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { trustedKeyRequest, type Authority } from '../../core/authority.js';
import type { Issuer, IssuerRegistry } from '../../core/issuers.js';
import type { AuditSink, Clock } from '../../core/ports.js';
import type { KeyStore, Signer } from '../../keys/types.js';
import { signatureAlgorithmIdentifier } from '../../pki/algorithms.js';
import { parseCertificate } from '../../pki/certificate.js';
import { subjectPublicKeyBits } from '../../pki/extensions.js';
import { toPem } from '../../pki/pem.js';
import type { ParsedCertificate } from '../../pki/types.js';

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
  /** Directory for the responder certificates (created when missing). */
  dir: string;
  logger?: Logger;
}

export const responderKeyLabel = (caId: string) => `ocsp-${caId}`;

/** True when less than a third of [notBefore, notAfter] is left at `now`. */
export function renewalDue(notBefore: Date, notAfter: Date, now: Date): boolean {
  const life = notAfter.getTime() - notBefore.getTime();
  return notAfter.getTime() - now.getTime() < life / 3;
}

export class DelegatedResponders {
  private readonly ids = new Map<string, ResponderIdentity>();
  private readonly renewing = new Map<string, Promise<void>>();

  constructor(private readonly d: DelegatedDeps) {}

  /** Loads or issues a responder identity for every CA that can sign. Failures are logged; that CA falls back to CA signing. */
  async start(): Promise<void> {
    for (const issuer of this.d.issuers.list()) {
      if (!issuer.signer) {
        await this.loadOffline(issuer).catch((e) => this.d.logger?.warn({ err: e, ca: issuer.id }, 'offline CA responder certificate unusable'));
        continue;
      }
      if (issuer.record.status !== 'active') continue;
      await this.ensure(issuer).catch((e) => this.d.logger?.warn({ err: e, ca: issuer.id }, 'delegated OCSP responder unavailable; signing OCSP with the CA key'));
    }
  }

  /** The current identity for a CA (synchronous, hot path); starts a background re-issue when due. */
  current(caId: string): ResponderIdentity | undefined {
    const id = this.ids.get(caId);
    // Offline CAs (key ceremonies) cannot re-issue: their responder certificate is renewed offline.
    if (id && renewalDue(id.notBefore, id.notAfter, this.d.clock()) && !this.renewing.has(caId) && this.d.issuers.get(caId).signer) {
      const p = this.ensure(this.d.issuers.get(caId))
        .catch((e) => this.d.logger?.warn({ err: e, ca: caId }, 'OCSP responder certificate renewal failed'))
        .finally(() => this.renewing.delete(caId));
      this.renewing.set(caId, p);
    }
    if (id && id.notAfter.getTime() <= this.d.clock().getTime()) return undefined; // expired: CA signs
    return id;
  }

  /** Waits for background renewals (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.renewing.values()]);
  }

  private certFile(caId: string): string {
    return join(this.d.dir, `${caId}.crt`);
  }

  private stored(issuer: Issuer, signer: Signer): ParsedCertificate | undefined {
    let cert: ParsedCertificate;
    try {
      cert = parseCertificate(readFileSync(this.certFile(issuer.id), 'utf8'));
    } catch {
      return undefined;
    }
    const aki = issuer.cert.subjectKeyId;
    const ok = cert.issuerDer.equals(issuer.cert.subjectDer) && (!aki || !cert.authorityKeyId || cert.authorityKeyId.equals(aki)) && cert.subjectPublicKeyInfo.equals(signer.publicKey);
    return ok ? cert : undefined;
  }

  /**
   * An offline CA (root on an offline token) answers OCSP only through a responder certificate it
   * signed in a key ceremony (`ocsp-signer`): DATA/ocsp/<caId>.crt with key `ocsp-<caId>` in the key store.
   */
  private async loadOffline(issuer: Issuer): Promise<void> {
    const signer = await this.d.keys.find(responderKeyLabel(issuer.id));
    const cert = signer ? this.stored(issuer, signer) : undefined;
    if (!signer || !cert) return;
    this.ids.set(issuer.id, this.identity(signer, cert));
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

  /** Finds/generates the key, reuses the stored certificate unless renewal is due, else issues one. */
  async ensure(issuer: Issuer): Promise<void> {
    const label = responderKeyLabel(issuer.id);
    const signer = (await this.d.keys.find(label)) ?? (await this.d.keys.generate(label, 'P-256'));
    const now = this.d.clock();
    let cert = this.stored(issuer, signer);
    if (!cert || renewalDue(cert.notBefore, cert.notAfter, now)) {
      const issued = await this.d.authority.issue({
        csr: trustedKeyRequest(signer.publicKey, [{ type: 'CN', value: `${issuer.cert.subject.find((a) => a.type === 'CN')?.value ?? issuer.id} OCSP Responder`.slice(0, 64) }], {}, 'P-256', 256),
        trustedKey: true,
        profile: OCSP_RESPONDER_PROFILE,
        protocol: 'cli',
        requester: 'system:ocsp',
        issuerId: issuer.id,
      });
      mkdirSync(this.d.dir, { recursive: true });
      const file = this.certFile(issuer.id);
      writeFileSync(`${file}.tmp`, toPem(issued.der, 'CERTIFICATE'));
      renameSync(`${file}.tmp`, file);
      cert = parseCertificate(issued.der);
      await this.d.audit
        .record({ actor: 'system:ocsp', action: 'ocsp.responder.issue', object: `ca:${issuer.id}`, result: 'ok', data: { serial: issued.serial, keyUri: signer.keyUri, notAfter: issued.notAfter.toISOString() } })
        .catch((e) => this.d.logger?.warn({ err: e }, 'audit ocsp.responder.issue failed'));
      this.d.logger?.info({ ca: issuer.id, serial: issued.serial, notAfter: issued.notAfter }, 'OCSP responder certificate issued');
    }
    this.ids.set(issuer.id, this.identity(signer, cert));
  }
}
