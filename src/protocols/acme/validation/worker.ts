/**
 * Challenge validation jobs, store-backed (the store is the source of truth, so validation survives a
 * node dying mid-way): a challenge in `processing` is validated by whichever node holds its lease
 * (claimChallenge). This node's bounded pool runs what its handlers start; the sweeper (every node)
 * picks up challenges and orders whose lease lapsed or that were never leased, with a bounded
 * number of attempts. Transient failures (connection, dns) are retried in place a few times.
 */
import type { AuditSink } from '../../../core/ports.js';
import type { AcmeRepository } from '../../../store/acme-types.js';
import { toProblem } from '../errors.js';
import { DEFAULT_LEASE_MS, MAX_ATTEMPTS } from '../processing.js';
import { validateDns01 } from './dns01.js';
import { validateHttp01 } from './http01.js';
import type { NameResolver } from './resolve.js';
import { validateTlsAlpn01 } from './tlsalpn01.js';

export interface ValidatorOptions {
  repo: AcmeRepository;
  audit: Pick<AuditSink, 'emitted'>;
  resolver: NameResolver;
  http01Port: number;
  tlsAlpn01Port: number;
  concurrency?: number;
  /** Jobs waiting beyond the running ones; more stay in the store for the sweeper. */
  maxQueue?: number;
  /** Extra tries after a transient (connection / dns) failure, and the pause before each. */
  retries?: number;
  retryDelayMs?: number;
  leaseMs?: number;
  clock?: () => Date;
  /** Counter for the failedValidationsPerIdentifier rate limit of the account's provisioner. */
  failureLimit?: (provisioner: string) => { limit: number; windowMs: number } | undefined;
  logger?: { warn(obj: object, msg: string): void };
}

const TRANSIENT = new Set(['urn:ietf:params:acme:error:connection', 'urn:ietf:params:acme:error:dns']);

export class ValidationPool {
  private readonly queue: string[] = [];
  /** Queued or running here (the sweeper must not queue them twice), with what their waiters wait on. */
  private readonly known = new Map<string, { done: Promise<void>; resolve: () => void }>();
  private active = 0;
  private closed = false;
  private readonly idle: (() => void)[] = [];

  constructor(private readonly o: ValidatorOptions) {}

  /** False when closed, already queued here, or the queue is full (the challenge then stays processing in the store for a sweeper). */
  enqueue(challengeId: string): boolean {
    if (this.closed || this.known.has(challengeId)) return false;
    if (this.queue.length >= (this.o.maxQueue ?? 1000)) return false;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.known.set(challengeId, { done, resolve });
    this.queue.push(challengeId);
    this.pump();
    return true;
  }

  /** Resolves when this node's job for the challenge has finished (at once when there is none). */
  settled(challengeId: string): Promise<void> {
    return this.known.get(challengeId)?.done ?? Promise.resolve();
  }

  get load(): number {
    return this.active + this.queue.length;
  }

  private pump(): void {
    while (this.active < (this.o.concurrency ?? 8) && this.queue.length > 0) {
      const id = this.queue.shift()!;
      this.active++;
      void this.validate(id)
        .catch((e) => this.o.logger?.warn({ err: e, challenge: id }, 'acme validation bookkeeping failed'))
        .finally(() => {
          this.known.get(id)?.resolve();
          this.known.delete(id);
          this.active--;
          this.pump();
          if (this.active === 0 && this.queue.length === 0) this.idle.splice(0).forEach((f) => f());
        });
    }
  }

  private now(): Date {
    return (this.o.clock ?? (() => new Date()))();
  }

  private async validate(id: string): Promise<void> {
    const { repo } = this.o;
    const now = this.now();
    const attempt = await repo.claimChallenge(id, now, new Date(now.getTime() + (this.o.leaseMs ?? DEFAULT_LEASE_MS)));
    if (attempt === undefined) return; // done, or another node holds the lease
    const ch = await repo.getChallenge(id);
    const authz = ch && (await repo.getAuthz(ch.authzId));
    const acct = authz && (await repo.getAccount(authz.accountId));
    if (!ch || !authz || !acct) return;
    const keyAuth = `${ch.token}.${acct.thumbprint}`;
    const ident = `${authz.identifier.type}:${authz.identifier.value}`;
    const event = { actor: 'system:acme-validator', action: 'acme.challenge.validate', object: `acme-challenge:${id}`, data: { type: ch.type, identifier: ident, attempt } };
    let error: unknown;
    if (attempt > MAX_ATTEMPTS) {
      error = new Error(`validation abandoned after ${MAX_ATTEMPTS} attempts`);
    } else {
      for (let tryNo = 0; ; tryNo++) {
        try {
          if (ch.type === 'http-01') await validateHttp01(authz.identifier, ch.token, keyAuth, this.o.resolver, { port: this.o.http01Port });
          else if (ch.type === 'dns-01') await validateDns01(authz.identifier, keyAuth, this.o.resolver);
          else await validateTlsAlpn01(authz.identifier, keyAuth, this.o.resolver, { port: this.o.tlsAlpn01Port });
          error = undefined;
          break;
        } catch (e) {
          error = e;
          if (this.closed || tryNo >= (this.o.retries ?? 2) || !TRANSIENT.has(toProblem(e).type)) break;
          await new Promise((r) => setTimeout(r, this.o.retryDelayMs ?? 1000));
        }
      }
    }
    // Results commit without their own fsync (safe against a process crash): a power loss can only
    // take an authorization back to pending (the client's finalize then fails and it retries),
    // never make one valid; finalize's issuance is durable and syncs the whole WAL before it.
    if (error === undefined) {
      await repo.completeChallenge(id, { ok: true, validated: this.now() }, this.o.audit.emitted([{ ...event, result: 'ok' }]), { durable: false });
      return;
    }
    const p = toProblem(error);
    const prov = acct.provisioner ?? 'acme';
    const fl = this.o.failureLimit?.(prov);
    const limits = fl ? [{ key: `${prov}:failedValidationsPerIdentifier:${acct.id}:${authz.identifier.type}:${authz.identifier.value}`, name: 'failedValidationsPerIdentifier', limit: fl.limit, windowMs: fl.windowMs, mode: 'count' as const }] : [];
    await repo.completeChallenge(id, { ok: false, error: { type: p.type, detail: p.detail, status: p.status } }, this.o.audit.emitted([{ ...event, result: 'denied', reason: p.detail }]), { now: this.now(), limits, durable: false });
  }

  /** Stops taking work and waits for in-flight validations. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.splice(0).forEach((id) => (this.known.get(id)?.resolve(), this.known.delete(id)));
    if (this.active === 0) return;
    await new Promise<void>((r) => this.idle.push(r));
  }
}
