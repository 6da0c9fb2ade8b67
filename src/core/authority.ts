/**
 * Authority: the one issuance path for every protocol and the CLI.
 * issue(): parse CSR → proof of possession → apply profile → build TBS → audit intent →
 * Signer.sign → verify the signature with the CA public key → store + audit result (atomically).
 * A failure at any step leaves an audit record (ARCHITECTURE.md rule 4).
 */
import { performance } from 'node:perf_hooks';
import { FlintError, toFlintError } from '../errors/index.js';
import { assembleCertificate } from '../pki/certificate.js';
import { parseCsr, verifyCsrSignature } from '../pki/csr.js';
import { nameToString } from '../pki/name.js';
import { toPem } from '../pki/pem.js';
import type { NameAttribute, ParsedCsr, SubjectAltNames } from '../pki/types.js';
import { apply, type Draft, type Profile, type Protocol } from '../profiles/index.js';
import type { AuditInput, CertificateRecord, Store } from '../store/types.js';
import type { Issuer, IssuerRegistry } from './issuers.js';
import type { AuditSink, Clock, IssuanceObserver, PublicUrls, RandomBytes } from './ports.js';
import { reasonName, REVOCATION_REASONS } from './revocation-reasons.js';
import { newSerial, normalizeSerial, serialBucket } from './serial.js';
import { verifySignatureAsync } from './signature.js';
import { TemplateCache } from './templates.js';

export interface IssueRequest {
  /** PKCS#10 CSR, PEM or DER (or already parsed). */
  csr: Buffer | string | ParsedCsr;
  profile: string;
  protocol: Protocol;
  /** Who asked: `cli:<user>`, `acme:<account>`, `est:<label>:<client>` ... */
  requester: string;
  provisioner?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Serial of the certificate this one renews. */
  replaces?: string;
  /** Issue from this CA instead of the profile's / default issuer. */
  issuerId?: string;
  /**
   * The caller holds the key itself (init's TLS certificate, responder and RA certificates):
   * skip the CSR proof of possession. Never set from protocol input.
   */
  trustedKey?: boolean;
}

export interface IssuedCertificate {
  serial: string;
  der: Buffer;
  pem: string;
  /** Issuer chain (issuing CA … root), DER. */
  chain: Buffer[];
  issuerId: string;
  notBefore: Date;
  notAfter: Date;
  record: CertificateRecord;
}

export interface RevokeOptions {
  reason?: number;
  actor: string;
  /** When revoking on behalf of a protocol: the serial must belong to this issuer. */
  issuerId?: string;
  revokedAt?: Date;
}

export type RevocationListener = (cert: CertificateRecord) => void;

export interface AuthorityDeps {
  store: Store;
  audit: AuditSink;
  issuers: IssuerRegistry;
  profiles: ReadonlyMap<string, Profile>;
  defaultIssuer: string;
  urls: PublicUrls;
  clock: Clock;
  random: RandomBytes;
  observer?: IssuanceObserver;
  /**
   * Partitioned CRLs (RFC 5280 §5.2.5, revocation.crlPartitions.bySerialBuckets): N > 0 points each
   * certificate's CRL distribution point at partition serialBucket(serial, N) instead of the full
   * CRL; the Freshest CRL pointer is dropped (deltas cover the full CRL's scope only, §5.2.4).
   */
  crlPartitions?: number;
}

/** A CSR-shaped value for keys the caller holds (trustedKey requests). */
export function trustedKeyRequest(spki: Buffer, subject: NameAttribute[], sans: Partial<SubjectAltNames>, keyType: ParsedCsr['keyType'], keyBits: number): ParsedCsr {
  return {
    der: Buffer.alloc(0),
    subjectDer: Buffer.alloc(0),
    subject,
    subjectPublicKeyInfo: spki,
    keyType,
    keyBits,
    sans: { dns: sans.dns ?? [], ip: sans.ip ?? [], email: sans.email ?? [], uri: sans.uri ?? [] },
    requestedExtensions: new Map(),
    signatureAlgorithmOid: '',
  };
}

function sanList(s: SubjectAltNames): string[] {
  return [...s.dns.map((d) => `dns:${d}`), ...s.ip.map((i) => `ip:${i}`), ...s.email.map((e) => `email:${e}`), ...s.uri.map((u) => `uri:${u}`)];
}

export class Authority {
  private readonly templates: TemplateCache;
  private readonly listeners: RevocationListener[] = [];

  constructor(private readonly d: AuthorityDeps) {
    this.templates = new TemplateCache(d.urls);
  }

  get profiles(): ReadonlyMap<string, Profile> {
    return this.d.profiles;
  }

  get issuers(): IssuerRegistry {
    return this.d.issuers;
  }

  profile(name: string): Profile {
    const p = this.d.profiles.get(name);
    if (!p) throw new FlintError('notFound', `unknown profile "${name}" (known: ${[...this.d.profiles.keys()].join(', ')})`, { code: 'profile.unknown' });
    return p;
  }

  /** The issuer chain (issuing CA … root) as DER, for protocol responses. */
  chain(issuerId = this.d.defaultIssuer): Buffer[] {
    return this.d.issuers.get(issuerId).chain;
  }

  onRevocation(listener: RevocationListener): void {
    this.listeners.push(listener);
  }

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    const started = performance.now();
    const object = `request:${req.requester}`;
    const deny = async (e: unknown): Promise<never> => {
      const fe = toFlintError(e);
      const denied = fe.kind !== 'internal' && fe.kind !== 'unavailable';
      await this.d.audit
        .record({
          actor: req.requester,
          action: 'certificate.issue',
          object,
          result: denied ? 'denied' : 'failed',
          reason: denied ? fe.detail : `${fe.kind}: ${fe.code}`,
          data: { profile: req.profile, protocol: req.protocol, reasons: fe.reasons.length ? fe.reasons : undefined },
        })
        .catch(() => undefined);
      this.d.observer?.issued(req.profile, req.protocol, denied ? 'denied' : 'failed', (performance.now() - started) / 1000);
      throw fe;
    };

    let csr: ParsedCsr;
    let draft: Draft;
    let issuer: Issuer;
    try {
      csr = typeof req.csr === 'object' && 'subjectPublicKeyInfo' in req.csr ? req.csr : parseCsr(req.csr);
      if (!req.trustedKey && !verifyCsrSignature(csr)) throw new FlintError('badCSR', 'CSR signature does not verify (no proof of possession of the private key)', { code: 'csr.badSignature' });
      const profile = this.profile(req.profile);
      issuer = this.d.issuers.get(req.issuerId ?? profile.issuer ?? this.d.defaultIssuer);
      if (!issuer.signer || issuer.record.status !== 'active') throw new FlintError('unavailable', `CA ${issuer.id} cannot issue (${issuer.record.status})`, { code: 'ca.notActive' });
      draft = apply(profile, { csr, protocol: req.protocol, provisioner: req.provisioner, now: this.d.clock(), notBefore: req.notBefore, notAfter: req.notAfter });
      if (draft.notAfter > issuer.record.notAfter) draft = { ...draft, notAfter: issuer.record.notAfter };
    } catch (e) {
      return deny(e);
    }

    const signer = issuer.signer!;
    const algorithm = draft.signatureAlgorithm ?? signer.algorithm;
    const template = this.templates.get(issuer, draft, algorithm);
    const subject = nameToString(draft.subject);
    const sans = sanList(draft.sans);
    for (let attempt = 0; ; attempt++) {
      const serial = newSerial(this.d.random);
      const parts = draft.crl ? (this.d.crlPartitions ?? 0) : 0;
      const tbs = template.build({
        serial: serial.bytes,
        notBefore: draft.notBefore,
        notAfter: draft.notAfter,
        subject: draft.subject,
        subjectPublicKeyInfo: draft.subjectPublicKeyInfo,
        sans: draft.sans,
        ...(parts > 0 ? { crlDistributionPoints: [this.d.urls.crlPartition(issuer.id, serialBucket(serial.hex, parts))], freshestCrl: [] } : {}),
      });
      const intent: AuditInput = {
        actor: req.requester,
        action: 'certificate.issue',
        object: `certificate:${serial.hex}`,
        result: 'intent',
        data: { profile: draft.profile, protocol: req.protocol, issuer: issuer.id, subject, sans },
      };
      try {
        await this.d.audit.intent(intent);
        const signature = await signer.sign(tbs, algorithm);
        if (!(await verifySignatureAsync(issuer.publicKey, algorithm, tbs, signature))) {
          throw new FlintError('internal', `signature by ${issuer.id} does not verify with the CA certificate's key`, { code: 'ca.signatureMismatch' });
        }
        const der = assembleCertificate(tbs, template.signatureAlgorithmDer, signature);
        const record: CertificateRecord = {
          serial: serial.hex,
          issuerId: issuer.id,
          subject,
          sans,
          notBefore: draft.notBefore,
          notAfter: draft.notAfter,
          profile: draft.profile,
          requester: req.requester,
          protocol: req.protocol,
          status: 'valid',
          revokedAt: null,
          revocationReason: null,
          der,
          createdAt: this.d.clock(),
          replaces: req.replaces ? normalizeSerial(req.replaces) : null,
        };
        const result: AuditInput = { ...intent, result: 'ok', data: { ...intent.data, notAfter: draft.notAfter.toISOString() } };
        await this.d.store.certificates.insert(record, this.d.audit.emitted([result]));
        this.d.observer?.issued(draft.profile, req.protocol, 'ok', (performance.now() - started) / 1000);
        return { serial: serial.hex, der, pem: toPem(der, 'CERTIFICATE'), chain: issuer.chain, issuerId: issuer.id, notBefore: draft.notBefore, notAfter: draft.notAfter, record };
      } catch (e) {
        const fe = toFlintError(e);
        if (fe.code === 'store.duplicateSerial' && attempt < 3) continue; // astronomically rare: draw a new serial
        await this.d.audit
          .record({ ...intent, result: 'failed', reason: `${fe.kind}: ${fe.detail}` })
          .catch(() => undefined);
        this.d.observer?.issued(draft.profile, req.protocol, 'failed', (performance.now() - started) / 1000);
        throw fe;
      }
    }
  }

  /** Revokes a certificate (status in the store; OCSP/CRL publication listens via onRevocation). */
  async revoke(serialInput: string, opts: RevokeOptions): Promise<CertificateRecord> {
    const serial = normalizeSerial(serialInput);
    const reason = opts.reason ?? REVOCATION_REASONS.unspecified;
    const object = `certificate:${serial || serialInput}`;
    const deny = async (e: FlintError): Promise<never> => {
      await this.d.audit.record({ actor: opts.actor, action: 'certificate.revoke', object, result: 'denied', reason: e.detail }).catch(() => undefined);
      throw e;
    };
    if (!serial) return deny(new FlintError('malformed', `"${serialInput}" is not a hexadecimal serial number`, { code: 'serial.malformed' }));
    if (!reasonName(reason) || reason === REVOCATION_REASONS.removeFromCRL) return deny(new FlintError('malformed', `revocation reason ${reason} is not allowed`, { code: 'revocation.badReason' }));
    const cert = await this.d.store.certificates.get(serial);
    if (!cert || (opts.issuerId && cert.issuerId !== opts.issuerId)) return deny(new FlintError('notFound', `no certificate with serial ${serial}`, { code: 'certificate.unknown' }));
    if (cert.status === 'revoked') return deny(new FlintError('alreadyRevoked', `certificate ${serial} is already revoked`, { code: 'certificate.alreadyRevoked' }));
    const hold = reason === REVOCATION_REASONS.certificateHold;
    if (cert.status === 'hold' && hold) return deny(new FlintError('alreadyRevoked', `certificate ${serial} is already on hold`, { code: 'certificate.alreadyRevoked' }));
    const revokedAt = opts.revokedAt ?? this.d.clock();
    const event: AuditInput = { actor: opts.actor, action: 'certificate.revoke', object, result: 'ok', data: { reason: reasonName(reason), issuer: cert.issuerId } };
    const changed = await this.d.store.certificates.setStatus(
      { serial, status: hold ? 'hold' : 'revoked', revokedAt, reason, fromStatuses: hold ? ['valid'] : ['valid', 'hold'] },
      this.d.audit.emitted([event]),
    );
    if (!changed) return deny(new FlintError('alreadyRevoked', `certificate ${serial} is already revoked`, { code: 'certificate.alreadyRevoked' }));
    const updated: CertificateRecord = { ...cert, status: hold ? 'hold' : 'revoked', revokedAt, revocationReason: reason };
    for (const l of this.listeners) l(updated);
    return updated;
  }

  /** Releases a certificate from certificateHold (RFC 5280 §5.3.1: only hold can be undone). */
  async unrevoke(serialInput: string, actor: string): Promise<CertificateRecord> {
    const serial = normalizeSerial(serialInput);
    const cert = serial ? await this.d.store.certificates.get(serial) : undefined;
    const object = `certificate:${serial || serialInput}`;
    if (!cert || cert.status !== 'hold') {
      const e = !cert ? new FlintError('notFound', `no certificate with serial ${serialInput}`, { code: 'certificate.unknown' }) : new FlintError('conflict', `certificate ${serial} is not on hold (status ${cert.status}); only certificateHold can be undone`, { code: 'certificate.notOnHold' });
      await this.d.audit.record({ actor, action: 'certificate.unrevoke', object, result: 'denied', reason: e.detail }).catch(() => undefined);
      throw e;
    }
    const ok = await this.d.store.certificates.setStatus(
      { serial, status: 'valid', revokedAt: null, reason: null, fromStatuses: ['hold'] },
      this.d.audit.emitted([{ actor, action: 'certificate.unrevoke', object, result: 'ok' }]),
    );
    if (!ok) throw new FlintError('conflict', `certificate ${serial} changed status concurrently`);
    const updated: CertificateRecord = { ...cert, status: 'valid', revokedAt: null, revocationReason: null };
    for (const l of this.listeners) l(updated);
    return updated;
  }
}
