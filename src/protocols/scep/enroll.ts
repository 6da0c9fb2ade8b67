/**
 * PKIOperation message types once the envelope is open (RFC 8894 §3.3): PKCSReq (19) and
 * RenewalReq (17) issue, CertPoll (20) reports a pending or finished transaction, GetCert (21)
 * and GetCRL (22) hand out stored objects. Transactions are claimed in the store first, so a
 * replayed transactionID gets the stored outcome and never a second issuance.
 */
import { createHash } from 'node:crypto';
import { normalizeSerial } from '../../core/serial.js';
import { FlintError } from '../../errors/index.js';
import { certRef, parseIssuerAnd, type ContentCipher } from '../../pki/cms-read.js';
import { buildCrlsOnly } from '../../pki/cms-write.js';
import { parseCertificate } from '../../pki/certificate.js';
import { parseCsr, verifyCsrSignature } from '../../pki/csr.js';
import { nameToString } from '../../pki/name.js';
import type { ParsedCsr } from '../../pki/types.js';
import type { ScepTransaction } from '../../store/enrollment-types.js';
import type { ApprovalRequest, AuditInput } from '../../store/types.js';
import type { ScepChallenges } from './challenges.js';
import type { ScepLabel } from './config.js';
import type { CertRepOutcome, ScepMessage } from './message.js';
import type { ScepPorts } from './ports.js';
import { FAIL_INFO, MESSAGE_TYPE, type FailInfo } from './wire.js';

const SUPERSEDED = 4;
/** A transaction still `processing` after this long was abandoned (the node died mid-request). */
export const ABANDONED_MS = 5 * 60_000;

export interface OperationContext {
  labelName: string;
  label: ScepLabel;
  issuerId: string;
  msg: ScepMessage;
  /** Decrypted pkcsPKIEnvelope content. */
  content: Buffer;
  cipher: ContentCipher;
  requester: string;
  /** Client address (challenge failure throttling). */
  ip: string;
  /** The `scep.pkiOperation` ok record, committed with the outcome when one is stored. */
  auditOk: (extra?: Record<string, unknown>) => AuditInput;
  /** Set when auditOk was committed already. */
  audited?: boolean;
}

export const approvalIdFor = (label: string, transactionId: string): string => createHash('sha256').update(`scep\0${label}\0${transactionId}`).digest('hex');
const sanList = (c: ParsedCsr) => [...c.sans.dns.map((d) => `dns:${d}`), ...c.sans.ip.map((i) => `ip:${i}`), ...c.sans.email.map((e) => `email:${e}`), ...c.sans.uri.map((u) => `uri:${u}`)];
const commonName = (attrs: { type: string; value: string }[]) => attrs.find((a) => a.type === 'CN')?.value;

export class ScepEnrollment {

  constructor(private readonly p: ScepPorts, private readonly challenges: ScepChallenges) {}

  process(ctx: OperationContext): Promise<CertRepOutcome> {
    switch (ctx.msg.messageType) {
      case MESSAGE_TYPE.PKCSReq:
      case MESSAGE_TYPE.RenewalReq:
        return this.enroll(ctx);
      case MESSAGE_TYPE.CertPoll:
        return this.poll(ctx);
      case MESSAGE_TYPE.GetCert:
        return this.getCert(ctx);
      case MESSAGE_TYPE.GetCRL:
        return this.getCrl(ctx);
      default:
        throw new FlintError('malformed', `unsupported messageType ${ctx.msg.messageType}`, { code: 'scep.badMessageType' });
    }
  }

  private chainCerts(issuerId: string): Buffer[] {
    const chain = this.p.authority.chain(issuerId);
    return chain.slice(0, Math.max(1, chain.length - 1)); // issuing CA(s), without the root
  }

  private async success(ctx: OperationContext, serial: string): Promise<CertRepOutcome> {
    const rec = await this.p.certificates.get(serial);
    if (!rec) throw new FlintError('internal', `certificate ${serial} of a finished transaction is missing`);
    return { status: 'SUCCESS', certs: [rec.der, ...this.chainCerts(rec.issuerId)], cipher: ctx.cipher };
  }

  private readCsr(content: Buffer): ParsedCsr {
    const csr = parseCsr(content);
    if (!verifyCsrSignature(csr)) throw new FlintError('badCSR', 'CSR signature does not verify (no proof of possession of the private key)', { code: 'csr.badSignature' });
    return csr;
  }

  /** §3.3.1: PKCSReq (challenge password) and RenewalReq (signed by the certificate being renewed). */
  private async enroll(ctx: OperationContext): Promise<CertRepOutcome> {
    const { msg, labelName, label } = ctx;
    const csr = this.readCsr(ctx.content);
    const csrHash = createHash('sha256').update(csr.der).digest('hex');
    const now = this.p.clock();
    const fresh = { label: labelName, transactionId: msg.transactionId, signerKey: msg.signerKey, csrHash, messageType: msg.messageType, status: 'processing' as const, serial: null, failInfo: null, approvalId: null, createdAt: now };
    let claim = await this.p.enrollment.claimScepTransaction(fresh);
    if (!claim.created && claim.tx.status === 'processing' && now.getTime() - claim.tx.updatedAt.getTime() > ABANDONED_MS && claim.tx.signerKey === msg.signerKey) {
      // Left behind by a crash mid-request: start over instead of answering PENDING forever.
      await this.p.enrollment.deleteScepTransaction(labelName, msg.transactionId, ['processing']);
      claim = await this.p.enrollment.claimScepTransaction(fresh);
    }
    if (!claim.created && !(await this.renewsFinished(ctx, claim.tx, csrHash))) {
      if (claim.tx.csrHash !== csrHash) throw new FlintError('malformed', 'this transactionID was used with another CSR', { code: 'scep.transactionMismatch' });
      return this.outcomeOf(ctx, claim.tx);
    }
    try {
      let replaces: string | undefined;
      if (msg.messageType === MESSAGE_TYPE.RenewalReq) replaces = await this.checkRenewal(ctx, csr);
      else await this.challenges.verify(labelName, label, csr, `${labelName}:${msg.transactionId}`, ctx.ip);
      if (label.requireApproval && msg.messageType === MESSAGE_TYPE.PKCSReq) {
        const id = approvalIdFor(labelName, msg.transactionId);
        const subject = nameToString(csr.subject);
        await this.p.approvals.submit({ id, protocol: 'scep', label: labelName, profile: label.profile, requester: ctx.requester, subject, sans: sanList(csr), csrDer: csr.der, createdAt: now, extra: { transactionId: msg.transactionId, issuer: ctx.issuerId } });
        await this.p.enrollment.updateScepTransaction(labelName, msg.transactionId, { status: 'pending', approvalId: id }, ['processing'],
          this.p.audit.emitted([{ actor: ctx.requester, action: 'approval.submit', object: `approval:${id}`, result: 'ok', data: { protocol: 'scep', label: labelName, subject, transactionId: msg.transactionId } }]));
        return { status: 'PENDING' };
      }
      const issued = await this.p.authority.issue({ csr, profile: label.profile, protocol: 'scep', requester: ctx.requester, provisioner: labelName, replaces, issuerId: ctx.issuerId });
      // The certificate is already durable; the outcome rides on the next synchronous commit
      // (a power loss in between leaves the transaction in `processing`: replays answer PENDING).
      await this.p.enrollment.updateScepTransaction(labelName, msg.transactionId, { status: 'success', serial: issued.serial }, ['processing'], this.p.audit.emitted([ctx.auditOk({ serial: issued.serial })]), { durable: false });
      ctx.audited = true;
      return { status: 'SUCCESS', certs: [issued.der, ...this.chainCerts(issued.issuerId)], cipher: ctx.cipher };
    } catch (e) {
      // No outcome was stored: a corrected retry with the same transactionID is evaluated afresh.
      await this.p.enrollment.deleteScepTransaction(labelName, msg.transactionId, ['processing']).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Some clients (micromdm scepclient) derive the transactionID from the public key, so a
   * same-key RenewalReq reuses the transactionID of the enrollment that issued the certificate
   * it is signed with. That is a new transaction, not a replay: a replay is signed by the same
   * certificate as the original request. Restarts such a finished transaction (conditionally).
   */
  private async renewsFinished(ctx: OperationContext, tx: ScepTransaction, csrHash: string): Promise<boolean> {
    const { msg } = ctx;
    if (msg.messageType !== MESSAGE_TYPE.RenewalReq || tx.status !== 'success' || tx.signerKey !== msg.signerKey) return false;
    if (tx.serial !== normalizeSerial(msg.signerCert.serial.toString('hex'))) return false;
    return this.p.enrollment.updateScepTransaction(ctx.labelName, msg.transactionId, { status: 'processing', messageType: msg.messageType, csrHash }, ['success']);
  }

  /**
   * RenewalReq (§3.3.1.2): signed by a currently valid, unrevoked certificate this CA issued, for
   * the same common name as the CSR. Returns its serial (recorded as `replaces`).
   */
  private async checkRenewal(ctx: OperationContext, csr: ParsedCsr): Promise<string> {
    const signer = ctx.msg.signerCert;
    const serial = normalizeSerial(signer.serial.toString('hex'));
    const rec = serial ? await this.p.certificates.get(serial) : undefined;
    if (!rec || !rec.der.equals(signer.der)) throw new FlintError('forbidden', 'RenewalReq must be signed by a certificate this CA issued', { code: 'scep.renewalForeign' });
    if (rec.status !== 'valid') throw new FlintError('forbidden', `the certificate signing the RenewalReq is ${rec.status}`, { code: 'scep.renewalRevoked' });
    const now = this.p.clock();
    if (rec.notAfter <= now || rec.notBefore > now) throw new FlintError('forbidden', 'the certificate signing the RenewalReq is expired or not yet valid', { code: 'scep.renewalExpired' });
    const current = commonName(parseCertificate(rec.der).subject);
    if (current !== commonName(csr.subject)) throw new FlintError('forbidden', `RenewalReq CSR common name "${commonName(csr.subject) ?? ''}" differs from the current certificate's "${current ?? ''}"`, { code: 'scep.renewalMismatch' });
    return rec.serial;
  }

  /** §3.3.3 CertPoll (GetCertInitial): the state of this requester's transaction. */
  private async poll(ctx: OperationContext): Promise<CertRepOutcome> {
    parseIssuerAnd(ctx.content, 'IssuerAndSubject');
    const tx = await this.p.enrollment.getScepTransaction(ctx.labelName, ctx.msg.transactionId);
    if (!tx) throw new FlintError('notFound', `no transaction ${ctx.msg.transactionId} on this label`, { code: 'scep.badCertId' });
    return this.outcomeOf(ctx, tx);
  }

  /** The stored outcome of a transaction (replay or poll); pending ones look at the approval queue. */
  private async outcomeOf(ctx: OperationContext, tx: ScepTransaction): Promise<CertRepOutcome> {
    if (tx.signerKey !== ctx.msg.signerKey) throw new FlintError('forbidden', 'this transactionID belongs to another requester key', { code: 'scep.transactionOwner' });
    switch (tx.status) {
      case 'processing':
        return { status: 'PENDING' };
      case 'success':
        return this.success(ctx, tx.serial!);
      case 'failure':
        return { status: 'FAILURE', failInfo: (tx.failInfo ?? FAIL_INFO.badRequest) as FailInfo };
      case 'pending':
        return this.fromApproval(ctx, tx);
    }
  }

  private async fromApproval(ctx: OperationContext, tx: ScepTransaction): Promise<CertRepOutcome> {
    const a = await this.approval(tx.approvalId!);
    return a.status === 'approved' ? this.issueApproved(ctx, tx, a.id) : this.settled(ctx, tx, a);
  }

  private async approval(id: string): Promise<ApprovalRequest> {
    const a = await this.p.approvals.get(id);
    if (!a) throw new FlintError('internal', `approval ${id} disappeared`);
    return a;
  }

  /**
   * The answer for an approval that is not waiting to be issued. Never calls back into
   * issueApproved: issueOnce uses it inside its own exclusive turn, where re-entering the same
   * turn key would wait on itself.
   */
  private async settled(ctx: OperationContext, tx: ScepTransaction, a: ApprovalRequest): Promise<CertRepOutcome> {
    switch (a.status) {
      case 'rejected':
        await this.p.enrollment.updateScepTransaction(tx.label, tx.transactionId, { status: 'failure', failInfo: FAIL_INFO.badRequest }, ['pending']);
        return { status: 'FAILURE', failInfo: FAIL_INFO.badRequest };
      case 'issued':
        await this.p.enrollment.updateScepTransaction(tx.label, tx.transactionId, { status: 'success', serial: a.serial }, ['pending']);
        return this.success(ctx, a.serial!);
      default: // pending, or approved and being issued by another turn or node
        return { status: 'PENDING' };
    }
  }

  /**
   * Issues an approved request exactly once: serialized per approval id in-process, and across
   * nodes by a store lease per approval id — a node that finds it taken answers PENDING and the
   * device's next CertPoll gets the certificate. The store's conditional approved → issued update
   * stays the last word: a holder that outlived its lease and loses it revokes its extra
   * certificate (superseded) and answers with the winner's (as EST does).
   */
  private async issueApproved(ctx: OperationContext, tx: ScepTransaction, id: string): Promise<CertRepOutcome> {
    const issueOnce = async (): Promise<CertRepOutcome> => {
      const a = await this.approval(id);
      if (a.status !== 'approved') return this.settled(ctx, tx, a);
      const issued = await this.p.authority.issue({ csr: a.csrDer, profile: a.profile, protocol: 'scep', requester: a.requester, provisioner: a.label, issuerId: ctx.issuerId });
      let serial = issued.serial;
      if (!(await this.p.approvals.markIssued(id, issued.serial))) {
        await this.p.authority.revoke(issued.serial, { reason: SUPERSEDED, actor: `scep:${a.label}:approval:${id}` }).catch(() => undefined);
        serial = (await this.p.approvals.get(id))?.serial ?? serial;
      }
      await this.p.enrollment.updateScepTransaction(tx.label, tx.transactionId, { status: 'success', serial }, ['pending']);
      return this.success(ctx, serial);
    };
    const a = await this.p.approvals.get(id);
    if (a?.status === 'issued') return this.success(ctx, a.serial!); // from the store, no lease needed
    const once = await this.p.exclusive(`approval:${id}`, issueOnce);
    return once.ran ? once.value : { status: 'PENDING' };
  }

  /** §3.3.3 GetCert: a certificate this CA issued, by issuer and serial number. */
  private async getCert(ctx: OperationContext): Promise<CertRepOutcome> {
    const ias = parseIssuerAnd(ctx.content, 'IssuerAndSerialNumber');
    const serial = ias.serialHex ? normalizeSerial(ias.serialHex) : '';
    const rec = serial ? await this.p.certificates.get(serial) : undefined;
    if (!rec || !certRef(rec.der).issuerDer.equals(ias.issuerDer)) throw new FlintError('notFound', 'no certificate with this issuer and serial number', { code: 'scep.badCertId' });
    return { status: 'SUCCESS', certs: [rec.der], cipher: ctx.cipher };
  }

  /** §3.3.4 GetCRL: the latest full CRL of the CA that issued the named certificate. */
  private async getCrl(ctx: OperationContext): Promise<CertRepOutcome> {
    const ias = parseIssuerAnd(ctx.content, 'IssuerAndSerialNumber');
    const caDer = this.p.authority.chain(ctx.issuerId)[0]!;
    if (!certRef(caDer).subjectDer.equals(ias.issuerDer)) throw new FlintError('notFound', 'the certificate was not issued by this CA', { code: 'scep.badCertId' });
    const crl = await this.p.revocation.latestCrl(ctx.issuerId, 'full');
    if (!crl) throw new FlintError('notFound', 'no CRL has been published yet', { code: 'scep.badCertId' });
    return { status: 'SUCCESS', content: buildCrlsOnly([crl.der]), cipher: ctx.cipher };
  }
}
