/**
 * EST operations (RFC 7030 §4), framework-free: EstRequest in, EstResponse out. Every denial is
 * audited here (issuance itself is audited by Authority.issue).
 */
import { createHash } from 'node:crypto';
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
    if (label.requireChallengePassword) items.push({ oid: OIDS.challengePassword });
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
    return csr;
  }

  private requester(req: EstRequest, client: EstClient): string {
    return `est:${req.label}:${client.kind === 'basic' ? client.user : `cert:${client.record.serial}`}`;
  }

  private async issue(req: EstRequest, label: EstLabel, csr: ParsedCsr, requester: string, replaces?: string): Promise<Issued> {
    return this.p.authority.issue({ csr, profile: label.profile, protocol: 'est', requester, provisioner: req.label, replaces });
  }

  /** §4.2.1 simpleenroll, with the manual-approval queue when the label asks for it (§4.2.3: 202 + Retry-After). */
  async simpleEnroll(req: EstRequest): Promise<EstResponse> {
    const label = this.label(req.label);
    const client = await this.auth.authenticate(req, label);
    const csr = this.readCsr(req, label);
    const requester = this.requester(req, client);
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
      case 'approved': {
        const issued = await this.issue(req, label, csr, existing.requester);
        if (!(await this.p.approvals.markIssued(id, issued.serial))) {
          // Another retry issued it first: answer with that one (ours stays in the store, audited).
          const again = await this.p.approvals.get(id);
          if (again?.status === 'issued') return this.storedCertificate(again.serial);
        }
        return certsOnlyResponse(200, [issued.der]);
      }
    }
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
