/**
 * EST operations (RFC 7030 §4), framework-free: EstRequest in, EstResponse out. Every denial is
 * audited here (issuance itself is audited by Authority.issue).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { toFlintError, FlintError } from '../../errors/index.js';
import { buildCertsOnly } from '../../pki/cms-certs-only.js';
import { parseCsr, verifyCsrSignature } from '../../pki/csr.js';
import { nameToString } from '../../pki/name.js';
import type { ParsedCsr, SubjectAltNames } from '../../pki/types.js';
import { EstAuthenticator, type EstClient } from './auth.js';
import { verifySecret } from '../../config/password.js';
import type { EstLabel } from './config.js';
import { errorResponse } from './errors.js';
import type { EstPorts, EstRequest, EstResponse } from './ports.js';
import { reenrollMismatch, serverKeyGen } from './reenroll.js';
import { decodeBase64Body, encodeBase64Body, encodeCsrAttrs, MAX_CSR_BODY, MEDIA, mediaType, OIDS, type AttrOrOid, type EstOperation } from './wire.js';

const RETRY_AFTER_SECONDS = 60;
const SUPERSEDED = 4;

export function sanList(s: SubjectAltNames): string[] {
  return [...s.dns.map((d) => `dns:${d}`), ...s.ip.map((i) => `ip:${i}`), ...s.email.map((e) => `email:${e}`), ...s.uri.map((u) => `uri:${u}`)];
}

const certsOnlyResponse = (status: number, certs: Buffer[]): EstResponse => ({
  status,
  headers: { 'Content-Type': MEDIA.certsOnly, 'Content-Transfer-Encoding': 'base64' },
  body: encodeBase64Body(buildCertsOnly(certs)),
});

const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * §3.5: the CSR's challengePassword must be the base64 of this connection's channel binding, so a
 * CSR made for one TLS session cannot be replayed through another (e.g. by a TLS-terminating
 * man in the middle). Accepted: tls-unique (RFC 5929; TLS ≤ 1.2) or tls-exporter (RFC 9266).
 */
export function checkChannelBinding(req: EstRequest, csr: ParsedCsr): void {
  const cb = req.channelBinding;
  const expected = [cb?.tlsUnique, cb?.tlsExporter].filter((b): b is Buffer => !!b && b.length > 0).map((b) => b.toString('base64'));
  if (!expected.length) throw new FlintError('malformed', 'this label requires TLS channel binding, but the request did not arrive over a TLS connection that provides one', { code: 'est.channelBinding' });
  const pw = csr.challengePassword?.trim();
  if (pw === undefined || pw === '') throw new FlintError('malformed', 'CSR challengePassword is missing: this label requires it to carry the base64 TLS channel binding (tls-unique or tls-exporter, RFC 7030 §3.5)', { code: 'est.channelBinding' });
  if (!expected.some((e) => sameText(e, pw))) throw new FlintError('malformed', 'CSR challengePassword does not match this TLS connection\'s channel binding (tls-unique or tls-exporter, RFC 7030 §3.5)', { code: 'est.channelBinding' });
}

type Issued = { der: Buffer; chain: Buffer[]; serial: string };

export class EstHandlers {
  readonly auth: EstAuthenticator;

  constructor(private readonly p: EstPorts) {
    this.auth = new EstAuthenticator(p);
  }

  /** Runs one operation; any error becomes its text/plain wire form and an audit record. */
  async handle(op: EstOperation, req: EstRequest): Promise<EstResponse> {
    try {
      switch (op) {
        case 'cacerts':
          return this.cacerts(req);
        case 'csrattrs':
          return this.csrattrs(req);
        case 'simpleenroll':
          return await this.simpleEnroll(req);
        case 'simplereenroll':
          return await this.simpleReenroll(req);
        case 'serverkeygen':
          return await this.serverKeyGen(req);
        case 'fullcmc':
          throw new FlintError('malformed', 'fullcmc (RFC 7030 §4.3) is not implemented; use simpleenroll', { code: 'est.notImplemented' });
      }
    } catch (err) {
      const e = toFlintError(err);
      await this.p.audit
        .record({ actor: `est:${req.label}:${req.ip}`, action: `est.${op}`, object: `est:${req.label}`, result: e.kind === 'internal' || e.kind === 'unavailable' ? 'failed' : 'denied', reason: e.kind === 'internal' ? 'internal error' : e.detail, data: { code: e.code, ip: req.ip } })
        .catch(() => undefined);
      const label = this.p.config.labels.get(req.label);
      return errorResponse(e, { basicChallenge: label?.auth !== 'cert' });
    }
  }

  label(name: string): EstLabel {
    const l = this.p.config.labels.get(name);
    if (!l) throw new FlintError('notFound', `unknown EST label "${name}"`, { code: 'est.unknownLabel' });
    return l;
  }

  private issuerFor(label: EstLabel): string {
    return this.p.authority.profile(label.profile).issuer ?? this.p.defaultIssuer;
  }

  /** §4.1: the current CA certificates (issuing CA … root), no authentication. */
  cacerts(req: EstRequest): EstResponse {
    return certsOnlyResponse(200, this.p.authority.chain(this.issuerFor(this.label(req.label))));
  }

  /** §4.5: what a CSR should carry, derived from the label's profile; 204 when nothing. */
  csrattrs(req: EstRequest): EstResponse {
    const label = this.label(req.label);
    const profile = this.p.authority.profile(label.profile);
    const items: AttrOrOid[] = [];
    if (label.requireChallengePassword || label.channelBinding) items.push({ oid: OIDS.challengePassword });
    if (profile.keyTypes.ec) {
      items.push({ type: OIDS.ecPublicKey, values: profile.keyTypes.ec.curves.map((c) => OIDS[c]) });
      items.push({ oid: profile.keyTypes.ec.curves.includes('P-384') && !profile.keyTypes.ec.curves.includes('P-256') ? OIDS.ecdsaWithSHA384 : OIDS.ecdsaWithSHA256 });
    }
    if (profile.keyTypes.rsa) items.push({ oid: OIDS.rsaEncryption }, { oid: OIDS.sha256WithRSAEncryption });
    if (!items.length) return { status: 204, headers: {}, body: '' };
    return { status: 200, headers: { 'Content-Type': MEDIA.csrattrs, 'Content-Transfer-Encoding': 'base64' }, body: encodeBase64Body(encodeCsrAttrs(items)) };
  }

  /** §4.2.1: a base64 DER PKCS#10 body with a verifying self-signature. */
  private readCsr(req: EstRequest, label: EstLabel): ParsedCsr {
    const type = mediaType(req.contentType);
    if (type !== MEDIA.pkcs10) throw new FlintError('malformed', `Content-Type must be ${MEDIA.pkcs10} (got "${type || 'none'}")`, { code: 'est.unsupportedMediaType' });
    if (req.body.length > MAX_CSR_BODY) throw new FlintError('malformed', `CSR body larger than ${MAX_CSR_BODY} bytes`, { code: 'est.bodyTooLarge' });
    const der = decodeBase64Body(req.body, 'CSR');
    const csr = parseCsr(der);
    if (!verifyCsrSignature(csr)) throw new FlintError('badCSR', 'CSR signature does not verify (no proof of possession of the private key)', { code: 'csr.badSignature' });
    if (label.requireChallengePassword) {
      const pw = csr.challengePassword;
      if (pw === undefined || !this.p.config.users.some((u) => verifySecret(pw, u.passwordHash))) {
        throw new FlintError('forbidden', 'CSR challengePassword is missing or wrong', { code: 'est.badChallengePassword' });
      }
    }
    if (label.channelBinding) checkChannelBinding(req, csr);
    return csr;
  }

  private requester(req: EstRequest, client: EstClient): string {
    const who = client.kind === 'basic' ? client.user : client.kind === 'cert' ? `cert:${client.record.serial}` : `bootstrap:${client.serial}`;
    return `est:${req.label}:${who}`;
  }

  private async issue(req: EstRequest, label: EstLabel, csr: ParsedCsr, requester: string, replaces?: string): Promise<Issued> {
    return this.p.authority.issue({ csr, profile: label.profile, protocol: 'est', requester, provisioner: req.label, replaces });
  }

  /** §4.2.1 simpleenroll, with the manual-approval queue when the label asks for it (§4.2.3: 202 + Retry-After). */
  async simpleEnroll(req: EstRequest): Promise<EstResponse> {
    const label = this.label(req.label);
    const client = await this.auth.authenticate(req, label, this.p.config.bootstrapCas.get(req.label));
    const csr = this.readCsr(req, label);
    const requester = this.requester(req, client);
    if (client.kind === 'bootstrap') {
      await this.p.audit
        .record({ actor: requester, action: 'est.bootstrap', object: `est:${req.label}`, result: 'ok', data: { subject: client.subject, serial: client.serial, issuer: client.issuer, fingerprint256: client.fingerprint256 } })
        .catch(() => undefined);
    }
    if (!label.requireApproval) return certsOnlyResponse(200, [(await this.issue(req, label, csr, requester)).der]);
    return this.viaApproval(req, label, csr, requester);
  }

  private async viaApproval(req: EstRequest, label: EstLabel, csr: ParsedCsr, requester: string): Promise<EstResponse> {
    const id = createHash('sha256').update(csr.der).digest('hex');
    const pending = (): EstResponse => ({ status: 202, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS), 'Content-Type': 'text/plain; charset=utf-8' }, body: `request ${id} is waiting for operator approval\n` });
    const existing = await this.p.approvals.get(id);
    if (!existing) {
      await this.p.approvals.submit({ id, protocol: 'est', label: req.label, profile: label.profile, requester, subject: nameToString(csr.subject), sans: sanList(csr.sans), csrDer: csr.der, createdAt: this.p.clock(), extra: null });
      await this.p.audit.record({ actor: requester, action: 'approval.submit', object: `approval:${id}`, result: 'ok', data: { protocol: 'est', label: req.label, subject: nameToString(csr.subject) } });
      return pending();
    }
    if (existing.protocol !== 'est' || existing.label !== req.label) throw new FlintError('conflict', `request ${id} belongs to another enrollment label`, { code: 'est.approvalLabel' });
    switch (existing.status) {
      case 'pending':
        return pending();
      case 'rejected':
        throw new FlintError('forbidden', `request ${id} was rejected by an operator${existing.reason ? `: ${existing.reason}` : ''}`, { code: 'est.rejected' });
      case 'issued':
        return this.storedCertificate(existing.serial);
      case 'approved':
        return this.issueApproved(req, label, csr, id, pending);
    }
  }

  /**
   * Issues an approved request once: `exclusive` serializes retries on this node and lets one node
   * sign across HA nodes (a store lease per approval id); a node that finds it taken answers 202
   * (§4.2.3) and the client's next poll gets the certificate. Inside, the approval is read again (an
   * earlier turn may have issued it). The store's conditional markIssued (approved → issued) stays
   * the last word.
   */
  private async issueApproved(req: EstRequest, label: EstLabel, csr: ParsedCsr, id: string, pending: () => EstResponse): Promise<EstResponse> {
    const seen = await this.p.approvals.get(id);
    if (seen?.status === 'issued') return this.storedCertificate(seen.serial); // from the store, no lease needed
    const once = await this.p.exclusive(`approval:${id}`, async () => {
      const current = await this.p.approvals.get(id);
      if (!current) throw new FlintError('internal', `approval ${id} disappeared`);
      if (current.status === 'issued') return this.storedCertificate(current.serial);
      if (current.status !== 'approved') throw new FlintError('conflict', `request ${id} is ${current.status}`, { code: 'est.approvalState' });
      const issued = await this.issue(req, label, csr, current.requester);
      if (await this.p.approvals.markIssued(id, issued.serial)) return certsOnlyResponse(200, [issued.der]);
      // Only if a lease holder outlived its lease: ours is an extra certificate for the same request.
      await this.p.authority.revoke(issued.serial, { reason: SUPERSEDED, actor: `est:${req.label}:approval:${id}` }).catch(() => undefined);
      const winner = await this.p.approvals.get(id);
      if (winner?.status === 'issued') return this.storedCertificate(winner.serial);
      throw new FlintError('conflict', `request ${id} changed state while it was being issued (now ${winner?.status ?? 'gone'}); retry`, { code: 'est.approvalState' });
    });
    return once.ran ? once.value : pending();
  }

  private async storedCertificate(serial: string | null): Promise<EstResponse> {
    const rec = serial ? await this.p.certificates.get(serial) : undefined;
    if (!rec) throw new FlintError('internal', `approved request has no stored certificate ${serial}`);
    return certsOnlyResponse(200, [rec.der]);
  }

  /**
   * §4.2.2 simplereenroll: the TLS client certificate (ours, current, unrevoked) is required; the
   * CSR must keep its subject and subjectAltName. The old certificate is revoked as superseded.
   * Renewal by the certificate holder skips the label's manual approval (the identity was approved).
   */
  async simpleReenroll(req: EstRequest): Promise<EstResponse> {
    const label = this.label(req.label);
    const current = await this.auth.cert(req);
    if (!current) throw new FlintError('unauthorized', 'simplereenroll requires the TLS client certificate being renewed', { code: 'est.certRequired' });
    const csr = this.readCsr(req, label);
    const mismatch = reenrollMismatch(current.der, csr);
    if (mismatch) throw new FlintError('malformed', mismatch, { code: 'est.reenrollMismatch' });
    const requester = this.requester(req, { kind: 'cert', record: current });
    const issued = await this.issue(req, label, csr, requester, current.serial);
    await this.p.authority.revoke(current.serial, { reason: SUPERSEDED, actor: requester }).catch(() => undefined);
    return certsOnlyResponse(200, [issued.der]);
  }

  /** §4.4 serverkeygen: the CA generates the key; multipart/mixed with the PKCS#8 key and the certificate. */
  async serverKeyGen(req: EstRequest): Promise<EstResponse> {
    const label = this.label(req.label);
    const client = await this.auth.authenticate(req, label);
    const csr = this.readCsr(req, label);
    const requester = this.requester(req, client);
    const profile = this.p.authority.profile(label.profile);
    return serverKeyGen(profile, csr, (generated) =>
      this.p.authority.issue({ csr: generated, profile: label.profile, protocol: 'est', requester, provisioner: req.label, trustedKey: true }),
    );
  }
}
