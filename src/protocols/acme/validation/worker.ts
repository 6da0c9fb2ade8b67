/** A small in-process pool that validates challenges; the store is the source of truth. */
import type { AuditSink } from '../../../core/ports.js';
import type { AcmeRepository } from '../../../store/acme-types.js';
import { toProblem } from '../errors.js';
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
  clock?: () => Date;
  logger?: { warn(obj: object, msg: string): void };
}

export class ValidationPool {
  private readonly queue: string[] = [];
  private active = 0;
  private closed = false;
  private readonly idle: (() => void)[] = [];

  constructor(private readonly o: ValidatorOptions) {}

  enqueue(challengeId: string): void {
    if (this.closed) return;
    this.queue.push(challengeId);
    this.pump();
  }

  private pump(): void {
    while (this.active < (this.o.concurrency ?? 4) && this.queue.length > 0) {
      const id = this.queue.shift()!;
      this.active++;
      void this.validate(id)
        .catch((e) => this.o.logger?.warn({ err: e, challenge: id }, 'acme validation bookkeeping failed'))
        .finally(() => {
          this.active--;
          this.pump();
          if (this.active === 0 && this.queue.length === 0) this.idle.splice(0).forEach((f) => f());
        });
    }
  }

  private async validate(id: string): Promise<void> {
    const { repo } = this.o;
    const ch = await repo.getChallenge(id);
    if (!ch || ch.status !== 'processing') return;
    const authz = await repo.getAuthz(ch.authzId);
    const acct = authz && (await repo.getAccount(authz.accountId));
    if (!authz || !acct) return;
    const keyAuth = `${ch.token}.${acct.thumbprint}`;
    const event = { actor: 'system:acme-validator', action: 'acme.challenge.validate', object: `acme-challenge:${id}`, data: { type: ch.type, identifier: `${authz.identifier.type}:${authz.identifier.value}` } };
    try {
      if (ch.type === 'http-01') await validateHttp01(authz.identifier, ch.token, keyAuth, this.o.resolver, { port: this.o.http01Port });
      else if (ch.type === 'dns-01') await validateDns01(authz.identifier, keyAuth, this.o.resolver);
      else await validateTlsAlpn01(authz.identifier, keyAuth, this.o.resolver, { port: this.o.tlsAlpn01Port });
      await repo.completeChallenge(id, { ok: true, validated: (this.o.clock ?? (() => new Date()))() }, this.o.audit.emitted([{ ...event, result: 'ok' }]));
    } catch (e) {
      const p = toProblem(e);
      await repo.completeChallenge(id, { ok: false, error: { type: p.type, detail: p.detail, status: p.status } }, this.o.audit.emitted([{ ...event, result: 'denied', reason: p.detail }]));
    }
  }

  /** Stops taking work and waits for in-flight validations. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    if (this.active === 0) return;
    await new Promise<void>((r) => this.idle.push(r));
  }
}
