/**
 * Store-backed finalization (RFC 8555 §7.4): `finalize` moves the order ready → processing with its
 * CSR and a lease, then issues. Any node's sweeper finishes an order whose lease lapsed (the node
 * finishing it died), so an order never stays processing for good.
 *
 * Exactly once: the certificate is issued with requester `acme:<account>/order/<order>`; before
 * issuing, a node looks for a certificate stored with that requester (a node that died after the
 * store commit but before marking the order valid) and links it instead of issuing again. A node
 * that signed but died before its store commit returned nothing to anyone; its audit intent remains.
 * If two nodes still both issue (a lease lapsed while its holder was alive), only one wins the
 * conditional processing → valid update; the loser revokes its own certificate (superseded).
 */
import { isFlintError } from '../../errors/index.js';
import type { ParsedCsr } from '../../pki/types.js';
import type { AcmeOrderRecord } from '../../store/acme-types.js';
import type { AcmeProvisioner } from './config.js';
import { toProblem } from './errors.js';
import type { AcmeDeps } from './ports.js';

export const DEFAULT_LEASE_MS = 60_000;
/** Claims of one order or challenge (node deaths, transient failures) before it is given up as invalid. */
export const MAX_ATTEMPTS = 3;

export function orderRequester(o: Pick<AcmeOrderRecord, 'id' | 'accountId'>): string {
  return `acme:${o.accountId}/order/${o.id}`;
}

export type FinishDeps = Pick<AcmeDeps, 'authority' | 'repo' | 'audit' | 'clock' | 'logger'> & { leaseMs?: number };

/** Transient failures (key store or store unavailable, unexpected errors) are retried; client errors are final. */
function transient(e: unknown): boolean {
  return !isFlintError(e) ? true : e.kind === 'unavailable' || e.kind === 'internal';
}

/**
 * Issues the certificate of a processing order whose lease this node holds, and records the result.
 * Never throws for issuance problems: they end up on the order (invalid) or leave it processing
 * for a retry after the lease. `parsed`: the order's CSR already parsed by finalize (else it is
 * parsed from the stored bytes).
 */
export async function finishOrder(d: FinishDeps, orderId: string, prov: Pick<AcmeProvisioner, 'issuer' | 'name'> | undefined, attempt = 1, parsed?: ParsedCsr): Promise<void> {
  const o = await d.repo.getOrder(orderId);
  if (!o || o.status !== 'processing') return;
  const actor = `acme:${o.accountId}`;
  const requester = orderRequester(o);
  const event = { actor, action: 'acme.order.finalize', object: `acme-order:${o.id}` };
  let serial = await d.repo.findSerialByRequester(requester);
  const recovered = serial !== undefined;
  try {
    if (!serial) {
      if (!o.csr) throw new Error('processing order without a CSR');
      const issued = await d.authority.issue({
        csr: parsed ?? o.csr, profile: o.profile, protocol: 'acme', requester, provisioner: prov?.name,
        notBefore: o.notBefore ?? undefined, notAfter: o.notAfter ?? undefined,
        ...(o.replaces ? { replaces: o.replaces } : {}),
        ...(prov?.issuer ? { issuerId: prov.issuer } : {}),
      });
      serial = issued.serial;
    }
  } catch (e) {
    const pr = toProblem(e);
    if (transient(e) && attempt < MAX_ATTEMPTS) {
      // Leave it processing; the sweeper (this or another node) retries once the short lease lapses.
      d.logger?.warn({ err: e, order: o.id, attempt }, 'acme: finalization failed, will retry');
      await d.repo.updateOrder(o.id, ['processing'], { claimedUntil: new Date(d.clock().getTime() + 2000) });
      return;
    }
    await d.repo.updateOrder(o.id, ['processing'], { status: 'invalid', csr: null, claimedUntil: null, error: { type: pr.type, detail: pr.detail, status: pr.status } },
      d.audit.emitted([{ ...event, result: isFlintError(e) && !transient(e) ? 'denied' : 'failed', reason: pr.detail }]));
    return;
  }
  // Not flushed on its own: the certificate's commit (with its audit records) already is, and if a
  // power loss drops this update, the order stays processing and the sweeper links that certificate.
  const won = await d.repo.updateOrder(o.id, ['processing'], { status: 'valid', certSerial: serial, csr: null, claimedUntil: null },
    d.audit.emitted([{ ...event, result: 'ok', data: { serial, ...(recovered ? { recovered: true } : {}) } }]), { durable: false });
  if (!won && !recovered) {
    const now = await d.repo.getOrder(o.id);
    if (now?.certSerial !== serial) {
      await d.authority.revoke(serial, { reason: 4, actor: 'system:acme-finalizer' }).catch((err) => d.logger?.warn({ err, serial }, 'acme: cannot revoke a duplicate certificate'));
    }
  }
}
