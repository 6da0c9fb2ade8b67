/**
 * SCEP operations (RFC 8894 §4), framework-free: ScepRequest in, ScepResponse out. Every answer
 * to a PKIOperation is audited here (issuance itself is audited by Authority.issue).
 */
import { toFlintError, FlintError } from '../../errors/index.js';
import { buildCertsOnly } from '../../pki/cms-certs-only.js';
import { ScepChallenges } from './challenges.js';
import type { ScepLabel } from './config.js';
import { ScepEnrollment, type OperationContext } from './enroll.js';
import type { AuditInput } from '../../store/types.js';
import { errorResponse, failInfoFor } from './errors.js';
import { buildCertRep, checkRequestAttributes, openEnvelope, readSignedRequest, type CertRepOutcome, type ScepMessage } from './message.js';
import type { Responder, ScepPorts, ScepRequest, ScepResponse } from './ports.js';
import { capabilities, failInfoName, MEDIA, messageTypeName } from './wire.js';

export class ScepHandlers {
  readonly challenges: ScepChallenges;
  private readonly enrollment: ScepEnrollment;

  constructor(private readonly p: ScepPorts) {
    this.challenges = new ScepChallenges(p);
    this.enrollment = new ScepEnrollment(p, this.challenges);
  }

  async handle(req: ScepRequest): Promise<ScepResponse> {
    try {
      switch (req.operation) {
        case 'GetCACaps':
          return this.getCACaps(req);
        case 'GetCACert':
          return this.getCACert(req);
        case 'PKIOperation':
          return await this.pkiOperation(req);
        default:
          throw new FlintError('malformed', `unknown or unsupported SCEP operation "${req.operation}" (GetCACaps, GetCACert, PKIOperation)`, { code: 'scep.unknownOperation' });
      }
    } catch (err) {
      const e = toFlintError(err);
      await this.p.audit
        .record({ actor: `scep:${req.label}:${req.ip}`, action: `scep.${req.operation || 'unknown'}`.slice(0, 64), object: `scep:${req.label}`, result: e.kind === 'internal' || e.kind === 'unavailable' ? 'failed' : 'denied', reason: e.kind === 'internal' ? 'internal error' : e.detail, data: { code: e.code, ip: req.ip } })
        .catch(() => undefined);
      return errorResponse(e);
    }
  }

  label(name: string): ScepLabel {
    const l = this.p.config.labels.get(name);
    if (!l) throw new FlintError('notFound', `unknown SCEP label "${name}"`, { code: 'scep.unknownLabel' });
    return l;
  }

  issuerFor(label: ScepLabel): string {
    return label.issuer ?? this.p.authority.profile(label.profile).issuer ?? this.p.defaultIssuer;
  }

  private responderFor(label: ScepLabel): { issuerId: string; responder: Responder } {
    const issuerId = this.issuerFor(label);
    const responder = this.p.responder(issuerId);
    if (!responder) throw new FlintError('unavailable', `CA ${issuerId} has no RSA key and no SCEP RA certificate`, { code: 'scep.noResponder' });
    return { issuerId, responder };
  }

  /** §4.1 GetCACaps: one capability per line. */
  getCACaps(req: ScepRequest): ScepResponse {
    return { status: 200, headers: { 'Content-Type': MEDIA.caps }, body: capabilities(this.label(req.label).allowDES3).join('\n') + '\n' };
  }

  /** §4.2 GetCACert: the CA certificate, or CA + RA as a degenerate certs-only SignedData. */
  getCACert(req: ScepRequest): ScepResponse {
    const { issuerId, responder } = this.responderFor(this.label(req.label));
    const caDer = this.p.authority.chain(issuerId)[0]!;
    if (!responder.isRa) return { status: 200, headers: { 'Content-Type': MEDIA.caCert }, body: caDer };
    return { status: 200, headers: { 'Content-Type': MEDIA.caRaCert }, body: buildCertsOnly([caDer, responder.certDer]) };
  }

  /**
   * §4.3 PKIOperation. Until the outer signature verifies the requester is unknown: errors are
   * 400 text/plain. After that every answer is a CertRep (FAILURE with a failInfo for bad input).
   */
  async pkiOperation(req: ScepRequest): Promise<ScepResponse> {
    const label = this.label(req.label);
    if (!req.message || req.message.length === 0) throw new FlintError('malformed', 'PKIOperation without a message', { code: 'scep.noMessage' });
    if (req.message.length > this.p.config.maxMessageBytes) throw new FlintError('malformed', `message larger than ${this.p.config.maxMessageBytes} bytes`, { code: 'scep.messageTooLarge' });
    const { issuerId, responder } = this.responderFor(label);
    const msg = readSignedRequest(req.message);
    const requester = `scep:${req.label}:${msg.signerKey.slice(0, 16)}`;
    const object = `scep-transaction:${req.label}:${msg.transactionId.slice(0, 128)}`;
    let outcome: CertRepOutcome | undefined;
    let code: string | undefined;
    let audited = false;
    const auditOk = (extra: Record<string, unknown> = {}): AuditInput => ({ actor: requester, action: 'scep.pkiOperation', object, result: 'ok', data: { messageType: messageTypeName(msg.messageType), pkiStatus: outcome?.status ?? 'SUCCESS', ip: req.ip, ...extra } });
    try {
      checkRequestAttributes(msg);
      const { content, cipher } = await openEnvelope(msg, responder, label.allowDES3);
      const ctx: OperationContext = { labelName: req.label, label, issuerId, msg, content, cipher, requester, ip: req.ip, auditOk };
      outcome = await this.enrollment.process(ctx);
      audited = ctx.audited === true;
    } catch (err) {
      const e = toFlintError(err);
      if (e.kind === 'internal' || e.kind === 'unavailable') throw e;
      outcome = { status: 'FAILURE', failInfo: failInfoFor(e) };
      code = e.code;
      await this.p.audit
        .record({ actor: requester, action: 'scep.pkiOperation', object, result: 'denied', reason: e.detail, data: { messageType: messageTypeName(msg.messageType), failInfo: failInfoName(outcome.failInfo), code, ip: req.ip } })
        .catch(() => undefined);
    }
    if (!code && !audited) await this.p.audit.record(auditOk()).catch(() => undefined);
    return this.certRep(msg, responder, outcome);
  }

  private async certRep(msg: ScepMessage, responder: Responder, outcome: CertRepOutcome): Promise<ScepResponse> {
    const der = await buildCertRep(msg, responder, outcome, this.p.clock(), this.p.random);
    return { status: 200, headers: { 'Content-Type': MEDIA.pkiMessage }, body: der };
  }
}
