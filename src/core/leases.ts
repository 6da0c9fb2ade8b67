/**
 * Leases for work that must happen on exactly one node (issue 7: CRL generation, OCSP responder
 * certificate issuance). A `LeaseKeeper` is this node's view: it tries to take or renew each lease
 * it was asked to hold every ttl/3, and `holds(name)` answers synchronously from what it last
 * learned. Safety rule: never act on a lease that cannot be renewed — a store error, a refused
 * renewal, or a renewal still unanswered when the lease's time is up all mean "not holding" at
 * once. The lease's time is counted from when the acquire request was *sent*, on this process's
 * monotonic clock, so it never outlasts the row the store wrote (which starts later).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { LeaseRepository } from '../store/ha-types.js';

export interface LeaseOptions {
  ttlMs: number;
  /** Called when this node starts holding the lease (also after regaining it). */
  onAcquire?: () => void;
  /** Called when this node stops holding it (refused, store error, expired unrenewed, released). */
  onLose?: () => void;
}

interface LeaseLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

interface Held {
  o: LeaseOptions;
  /** Monotonic ms until which the lease is ours; 0 when not held. */
  until: number;
  /** Whether onAcquire fired without an onLose since (edge detection for the callbacks). */
  announced: boolean;
  timer?: NodeJS.Timeout;
  attempt?: Promise<boolean>;
}

/** hostname + pid + random: unique per process start, readable in the leases table. */
export function makeNodeId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export class LeaseKeeper {
  private readonly leases = new Map<string, Held>();
  private closed = false;

  constructor(
    private readonly repo: LeaseRepository,
    readonly nodeId: string = makeNodeId(),
    private readonly logger?: LeaseLogger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Keeps trying to hold lease `name` until release()/close(). Resolves after the first attempt
   * with whether this node holds it now (callers may start their work knowing the answer).
   */
  hold(name: string, o: LeaseOptions): Promise<boolean> {
    if (!(o.ttlMs > 0)) throw new RangeError(`lease ${name}: ttlMs must be positive`);
    if (this.closed) return Promise.resolve(false);
    const existing = this.leases.get(name);
    if (existing) return existing.attempt ?? Promise.resolve(this.holds(name));
    const h: Held = { o, until: 0, announced: false };
    this.leases.set(name, h);
    return this.attempt(name, h);
  }

  /** True while this node holds `name` and its time is not up. */
  holds(name: string): boolean {
    const h = this.leases.get(name);
    if (!h || h.until === 0) return false;
    if (this.now() < h.until) return true;
    this.lose(name, h, 'expired before it could be renewed');
    return false;
  }

  /** Tries at once instead of waiting for the next round (e.g. work is wanted and no one holds the lease). */
  tryNow(name: string): Promise<boolean> {
    const h = this.leases.get(name);
    if (!h || this.closed) return Promise.resolve(false);
    return h.attempt ?? this.attempt(name, h);
  }

  /** Every lease this node is keeping, and whether it holds it (metrics). */
  snapshot(): { name: string; held: boolean }[] {
    return [...this.leases.keys()].map((name) => ({ name, held: this.holds(name) }));
  }

  /** Stops keeping `name` and gives it up in the store when held. */
  async release(name: string): Promise<void> {
    const h = this.leases.get(name);
    if (!h) return;
    this.leases.delete(name);
    if (h.timer) clearTimeout(h.timer);
    await h.attempt?.catch(() => undefined);
    const wasHeld = h.until !== 0;
    this.lose(name, h, 'released');
    if (wasHeld) await this.repo.release(name, this.nodeId).catch((e: unknown) => this.logger?.warn({ err: e, lease: name }, 'lease release failed (it expires by itself)'));
  }

  /** Releases every lease (graceful shutdown: another node takes over at its next attempt). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.leases.keys()].map((n) => this.release(n)));
  }

  private attempt(name: string, h: Held): Promise<boolean> {
    if (h.timer) clearTimeout(h.timer);
    h.timer = undefined;
    const sentAt = this.now();
    const p = this.repo
      .acquire(name, this.nodeId, h.o.ttlMs)
      .catch((e: unknown) => {
        this.logger?.warn({ err: e, lease: name }, 'lease acquire/renew failed; not holding it');
        return false;
      })
      .then((ok) => {
        h.attempt = undefined;
        if (this.leases.get(name) !== h) return false; // released meanwhile
        if (ok && sentAt + h.o.ttlMs > this.now()) {
          h.until = sentAt + h.o.ttlMs;
          if (!h.announced) {
            h.announced = true;
            this.logger?.info({ lease: name, node: this.nodeId, ttlMs: h.o.ttlMs }, 'lease acquired');
            h.o.onAcquire?.();
          }
        } else {
          this.lose(name, h, ok ? 'renewal answered too late' : 'held by another node or store unavailable');
        }
        if (!this.closed) {
          h.timer = setTimeout(() => void this.attempt(name, h), Math.max(1, Math.floor(h.o.ttlMs / 3)));
          h.timer.unref();
        }
        return h.until !== 0;
      });
    h.attempt = p;
    return p;
  }

  private lose(name: string, h: Held, why: string): void {
    h.until = 0;
    if (!h.announced) return;
    h.announced = false;
    this.logger?.warn({ lease: name, node: this.nodeId, why }, 'lease lost');
    h.o.onLose?.();
  }
}

/**
 * Runs `fn` at most once at a time for `key`, across nodes and within this one (e.g. issuing an
 * approved EST/SCEP request: two polls of the same request must not both sign). Callers on this
 * node wait their turn (a store lease would let the same holder in twice); across nodes a store
 * lease decides, and `{ ran: false }` means another node holds it now — the caller answers
 * "pending, retry". The TTL bounds how long a crashed holder blocks the key; `fn` must finish well
 * within it. `fn` re-reads whatever it decides on: an earlier turn may have changed it.
 */
export type RunExclusive = <T>(key: string, fn: () => Promise<T>) => Promise<{ ran: true; value: T } | { ran: false }>;

export function exclusiveRunner(repo: Pick<LeaseRepository, 'acquire' | 'release'>, holder: string, ttlMs = 60_000): RunExclusive {
  const turns = new Map<string, Promise<unknown>>();
  const underLease = async <T>(key: string, fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> => {
    if (!(await repo.acquire(key, holder, ttlMs))) return { ran: false };
    try {
      return { ran: true, value: await fn() };
    } finally {
      await repo.release(key, holder).catch(() => undefined); // it expires by itself
    }
  };
  return (key, fn) => {
    const prev = turns.get(key) ?? Promise.resolve();
    const mine = prev.catch(() => undefined).then(() => underLease(key, fn));
    turns.set(key, mine);
    void mine.catch(() => undefined).finally(() => {
      if (turns.get(key) === mine) turns.delete(key);
    });
    return mine;
  };
}
