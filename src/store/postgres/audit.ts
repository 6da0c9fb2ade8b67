/** PostgreSQL audit repository: appends go through db.ts appendAudit (the chain head row lock). */
import type pg from 'pg';
import { toAuditRecord } from '../rows.js';
import type { AuditCheckpoint, AuditRepository } from '../types.js';
import { appendAudit, inTx, query } from './db.js';

export function pgAuditRepository(pool: pg.Pool): AuditRepository {
  return {
    append: async (events, opts) => (events.length === 0 ? [] : inTx(pool, (c) => appendAudit(c, events), { durable: opts?.durable ?? true })),
    range: async (fromSeq, limit) =>
      (await query(pool, 'SELECT * FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2', [fromSeq, limit])).rows.map(toAuditRecord),
    head: async () => {
      const r = (await query(pool, 'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1')).rows[0];
      return r ? { seq: Number(r.seq), hash: r.hash as string } : undefined;
    },
    addCheckpoint: async (cp: AuditCheckpoint) => {
      await query(
        pool,
        `INSERT INTO audit_checkpoints (head_seq, head_hash, time, key_uri, signature) VALUES ($1,$2,$3,$4,$5)
         ON CONFLICT (head_seq) DO UPDATE SET head_hash=excluded.head_hash, time=excluded.time, key_uri=excluded.key_uri, signature=excluded.signature`,
        [cp.headSeq, cp.headHash, cp.time, cp.keyUri, cp.signature],
      );
    },
    checkpoints: async () =>
      (await query(pool, 'SELECT * FROM audit_checkpoints ORDER BY head_seq')).rows.map((r) => ({
        headSeq: Number(r.head_seq),
        headHash: r.head_hash as string,
        time: r.time as string,
        keyUri: r.key_uri as string,
        signature: r.signature as string,
      })),
  };
}
