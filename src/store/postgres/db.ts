/**
 * PostgreSQL plumbing shared by every repository in store/postgres/: transactions, the audit
 * chain append, error mapping. Timestamps are stored as BIGINT milliseconds (as in SQLite) so
 * both stores map rows the same way; binary columns are BYTEA, JSON is TEXT.
 */
import pg from 'pg';
import { FlintError } from '../../errors/index.js';
import { GENESIS_HASH, hashAuditRecord } from '../audit-hash.js';
import type { AuditInput, AuditRecord } from '../types.js';

export type Row = Record<string, unknown>;
/** A pool or a client inside a transaction: both run queries. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** int8 (BIGINT, COUNT) as a JS number: our values (ms timestamps, seqs, counters) fit in 2^53. */
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === '23505';
}

/** Connection-level failures (server gone, refused, timeouts): the store is unavailable, not the request bad. */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004'].includes(code) ||
    /Connection terminated|connection timeout|Client has encountered a connection error|Query read timeout/i.test((e as Error | null)?.message ?? '');
}

/**
 * Give-ups of the server that a retry may get past: statement timeout or cancel (57014), deadlock
 * (40P01), serialization failure (40001), lock timeout (55P03). Busy, not a bad request.
 */
export function isTransientError(e: unknown): boolean {
  return ['57014', '40P01', '40001', '55P03'].includes((e as { code?: string } | null)?.code ?? '');
}

/** Wraps connection failures as `unavailable` (→ 503 + Retry-After at the edge); other errors pass through. */
export function mapError(e: unknown): unknown {
  if (e instanceof FlintError) return e;
  if (isConnectionError(e)) return new FlintError('unavailable', 'the database is unreachable', { code: 'store.unavailable', cause: e, retryAfter: 5 });
  if (isTransientError(e)) return new FlintError('unavailable', 'the database is busy', { code: 'store.busy', cause: e, retryAfter: 5 });
  return e;
}

/**
 * Runs `fn` in one transaction (READ COMMITTED; rows that must not race are locked with
 * SELECT … FOR UPDATE or guarded by conditional UPDATEs). `durable: false` commits with
 * synchronous_commit = off (audit intents; see README "Durability"): crash-safe for the server
 * process, made durable by the next synchronous commit.
 */
export async function inTx<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, opts: { durable?: boolean } = {}): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw mapError(e);
  }
  let broken = false;
  try {
    // One round trip either way (no parameters: the simple protocol runs both statements).
    await client.query(opts.durable === false ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    // A lost or timed-out connection is not rolled back but dropped (the server rolls back on disconnect).
    broken = isConnectionError(e);
    if (!broken) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: do not return it to the pool
      }
    }
    throw mapError(e);
  } finally {
    client.release(broken);
  }
}

/** A single statement outside an explicit transaction, with connection errors mapped. */
export async function query<R extends Row = Row>(db: Queryable, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(text, values);
  } catch (e) {
    throw mapError(e);
  }
}

/**
 * Appends chained audit records inside the caller's transaction. The single `audit_head` row is
 * locked FOR UPDATE, which serializes appends from every node into one chain (issue 7 §4); call
 * it as the last statement of the transaction so the lock is held only until COMMIT.
 */
export async function appendAudit(c: pg.PoolClient, events: AuditInput[], now = new Date()): Promise<AuditRecord[]> {
  if (events.length === 0) return [];
  const head = (await c.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE')).rows[0];
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  const out: AuditRecord[] = [];
  for (const e of events) {
    seq += 1;
    const base = { seq, time: now.toISOString(), actor: e.actor, action: e.action, object: e.object, result: e.result, reason: e.reason ?? null, data: e.data ?? null, prevHash };
    const rec: AuditRecord = { ...base, hash: hashAuditRecord(base) };
    out.push(rec);
    prevHash = rec.hash;
  }
  // One multi-row INSERT: 10 columns per record.
  const values: unknown[] = [];
  const tuples = out.map((r, i) => {
    values.push(r.seq, r.time, r.actor, r.action, r.object, r.result, r.reason, r.data ? JSON.stringify(r.data) : null, r.prevHash, r.hash);
    const b = i * 10;
    return `($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5},$${b + 6},$${b + 7},$${b + 8},$${b + 9},$${b + 10})`;
  });
  // Rows and head in one statement (a data-modifying CTE always runs): one round trip less while the head is locked.
  values.push(seq, prevHash);
  await c.query(
    `WITH appended AS (INSERT INTO audit_events (seq, time, actor, action, object, result, reason, data, prev_hash, hash) VALUES ${tuples.join(',')})
     UPDATE audit_head SET seq = $${values.length - 1}, hash = $${values.length} WHERE id = 1`,
    values,
  );
  return out;
}

/** NOTIFY payload channel for StoreChange (sent inside the writing transaction: delivered only on COMMIT). */
export const CHANGE_CHANNEL = 'flintca_changes';

export async function notifyChange(c: pg.PoolClient, change: object): Promise<void> {
  await c.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, JSON.stringify(change)]);
}
