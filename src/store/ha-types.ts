/**
 * What several nodes on one store need to coordinate (issue 7): leases for work that must happen
 * on exactly one node, and a change feed so node-local caches learn about writes made elsewhere.
 */

export interface Lease {
  name: string;
  holder: string;
  expiresAt: Date;
}

export interface LeaseRepository {
  /**
   * Takes lease `name` for `holder` until now + ttlMs when it is free, expired, or already held
   * by `holder` (a renewal). True when `holder` holds it afterwards. One row per lease; the
   * database's clock decides expiry so nodes with skewed clocks still agree.
   */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up at once (graceful shutdown) when `holder` holds it. */
  release(name: string, holder: string): Promise<void>;
  get(name: string): Promise<Lease | undefined>;
}

/**
 * Recent events per key that every node sees (failed password guesses per client address, issue 7
 * §2: rate-limit counts live in the store), for limits over a sliding window. Best effort: written
 * without waiting for a flush, never acknowledged data.
 */
export interface RecentEventRepository {
  /** Records an event for `key` at `at`, forgetting `key`'s events older than `at` - keepMs. */
  record(key: string, at: Date, keepMs: number): Promise<void>;
  /** How many events `key` has after `after`, and the earliest of them. */
  since(key: string, after: Date): Promise<{ count: number; first?: Date }>;
}

/**
 * A committed write other nodes may have cached. PostgreSQL delivers these to every node
 * (LISTEN/NOTIFY, sent in the writing transaction so only committed changes arrive); SQLite only
 * within the writing process, so caches there must also re-check the store (e.g. a short TTL).
 */
export type StoreChange =
  | { kind: 'certificateStatus'; serial: string; issuerId: string; status: 'valid' | 'revoked' | 'hold' }
  | { kind: 'crl'; caId: string };

export type StoreChangeListener = (change: StoreChange) => void;
