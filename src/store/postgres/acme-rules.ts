/**
 * Statements the PostgreSQL acme repository runs inside a caller's transaction: rate-limit counters
 * and the order-status consequences of an authorization change (RFC 8555 §7.1.6). Mirrors the
 * helpers of sqlite/acme.ts; the locking comments say what replaces SQLite's single writer.
 */
import type pg from 'pg';
import type { AcmeRateLimit, AcmeStoredProblem } from '../acme-types.js';
import { FlintError } from '../../errors/index.js';
import { problemText } from './acme-rows.js';

let counterWrites = 0;

/**
 * Rate-limit counters upserted inside the caller's transaction. The upsert takes the counter row's
 * lock, so nodes counting the same key queue on it and each sees the count including the others';
 * throwing rolls the whole action back (its count with it).
 */
export async function applyRateLimits(c: pg.PoolClient, limits: AcmeRateLimit[] | undefined, now: Date): Promise<void> {
  if (!limits?.length) return;
  const t = now.getTime();
  // In key order: two transactions counting the same keys (a finalization's domains) lock them in one order, no deadlock.
  for (const l of [...limits].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const start = Math.floor(t / l.windowMs) * l.windowMs;
    const retryAfter = Math.max(1, Math.ceil((start + l.windowMs - t) / 1000));
    const refuse = () => {
      throw new FlintError('rateLimited', `rate limit ${l.name} exceeded: at most ${l.limit} per ${Math.round(l.windowMs / 1000)} s`, { code: 'acme.rateLimited', retryAfter });
    };
    if (l.mode === 'check') {
      const r = (await c.query<{ count: number }>('SELECT count FROM acme_rate_counters WHERE key = $1 AND window_start = $2', [l.key, start])).rows[0];
      if ((r?.count ?? 0) >= l.limit) refuse();
      continue;
    }
    const r = (
      await c.query<{ count: number }>(
        `INSERT INTO acme_rate_counters (key, window_start, count, expires) VALUES ($1, $2, 1, $3)
         ON CONFLICT (key, window_start) DO UPDATE SET count = acme_rate_counters.count + 1 RETURNING count`,
        [l.key, start, start + l.windowMs],
      )
    ).rows[0]!;
    if (l.mode !== 'count' && r.count > l.limit) refuse();
  }
  if (++counterWrites % 500 === 0) {
    // SKIP LOCKED: nodes pruning at once take disjoint rows instead of waiting on (or deadlocking with) each other.
    await c.query('DELETE FROM acme_rate_counters WHERE (key, window_start) IN (SELECT key, window_start FROM acme_rate_counters WHERE expires < $1 LIMIT 1000 FOR UPDATE SKIP LOCKED)', [t]);
  }
}

/**
 * Locks every order linked to this authorization (in id order: no deadlocks between nodes). Called
 * after the authorization row changed: two nodes completing two authorizations of one order then
 * decide its status one after the other, the second seeing the first's committed change (READ
 * COMMITTED gives each later statement a fresh snapshot), so an order whose last two
 * authorizations become valid at once still becomes ready.
 */
async function lockLinkedOrders(c: pg.PoolClient, authzId: string): Promise<void> {
  await c.query('SELECT id FROM acme_orders WHERE id IN (SELECT order_id FROM acme_order_authzs WHERE authz_id = $1) ORDER BY id FOR UPDATE', [authzId]);
}

/** §7.1.6: every pending order linked to this authorization whose authorizations are all valid becomes ready. */
export async function promoteLinkedOrders(c: pg.PoolClient, authzId: string): Promise<void> {
  await lockLinkedOrders(c, authzId);
  await c.query(
    `UPDATE acme_orders SET status = 'ready' WHERE status = 'pending'
       AND id IN (SELECT order_id FROM acme_order_authzs WHERE authz_id = $1)
       AND NOT EXISTS (SELECT 1 FROM acme_order_authzs l JOIN acme_authzs a ON a.id = l.authz_id WHERE l.order_id = acme_orders.id AND a.status != 'valid')`,
    [authzId],
  );
}

export async function invalidateLinkedOrders(c: pg.PoolClient, authzId: string, error: AcmeStoredProblem | null): Promise<void> {
  await lockLinkedOrders(c, authzId);
  await c.query(
    "UPDATE acme_orders SET status = 'invalid', error = COALESCE($1, error) WHERE status IN ('pending','ready') AND id IN (SELECT order_id FROM acme_order_authzs WHERE authz_id = $2)",
    [problemText(error), authzId],
  );
}
