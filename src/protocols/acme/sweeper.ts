/**
 * Runs on every node: re-runs challenge validations and finalizations stuck in `processing` past
 * their lease (the node working on them died) or never leased (a node died between accepting the
 * request and starting the job). Leases in the store make sure one node works on each at a time.
 */
import type { AcmeProvisioner } from './config.js';
import { DEFAULT_LEASE_MS, finishOrder, MAX_ATTEMPTS, type FinishDeps } from './processing.js';
import type { ValidationPool } from './validation/worker.js';

export interface SweeperOptions {
  deps: FinishDeps;
  pool: Pick<ValidationPool, 'enqueue' | 'load'>;
  provisioners: Map<string, AcmeProvisioner>;
  intervalMs?: number;
  /** A processing challenge never leased for this long is taken over (default: the lease). */
  unleasedGraceMs?: number;
  /** At most this many jobs picked up per sweep (bounded work). */
  batch?: number;
}

export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: SweeperOptions) {}

  start(): void {
    const tick = () => {
      this.running = this.sweep()
        .then(() => undefined)
        .catch((err) => this.o.deps.logger?.warn({ err }, 'acme: sweep failed'))
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.o.intervalMs ?? 5000).unref();
        });
    };
    this.timer = setTimeout(tick, this.o.intervalMs ?? 5000).unref();
  }

  /** One pass; exported for tests. */
  async sweep(): Promise<{ challenges: number; orders: number }> {
    const { deps, pool } = this.o;
    const now = deps.clock();
    const lease = deps.leaseMs ?? DEFAULT_LEASE_MS;
    const batch = this.o.batch ?? 50;
    let challenges = 0;
    const room = Math.max(0, batch - pool.load);
    if (room > 0) {
      for (const id of await deps.repo.listStaleChallenges(now, new Date(now.getTime() - (this.o.unleasedGraceMs ?? lease)), room)) if (pool.enqueue(id)) challenges++;
    }
    let orders = 0;
    for (const id of await deps.repo.listStaleOrders(now, batch)) {
      const attempt = await deps.repo.claimOrder(id, now, new Date(now.getTime() + lease));
      if (attempt === undefined) continue;
      orders++;
      const o = await deps.repo.getOrder(id);
      if (!o) continue;
      if (attempt > MAX_ATTEMPTS) {
        await deps.repo.updateOrder(id, ['processing'], { status: 'invalid', csr: null, claimedUntil: null, error: { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'issuance could not be completed', status: 500 } },
          deps.audit.emitted([{ actor: 'system:acme-sweeper', action: 'acme.order.finalize', object: `acme-order:${id}`, result: 'failed', reason: `abandoned after ${MAX_ATTEMPTS} attempts` }]));
        continue;
      }
      const acct = await deps.repo.getAccount(o.accountId);
      await finishOrder(deps, id, this.o.provisioners.get(acct?.provisioner ?? 'acme'), attempt);
    }
    return { challenges, orders };
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
