/** SQLite implementation of the revocation repositories. CRL numbers are stored as decimal text (up to 20 octets, RFC 5280 §5.2.3). */
import type Database from 'better-sqlite3';
import type { RevocationRepository, StoredCrl } from '../revocation-types.js';
import { toStoredCrl } from '../rows.js';
import type { StoreChange } from '../ha-types.js';
import type { WriteBatcher } from './batch.js';

type Row = Record<string, unknown>;

export function sqliteRevocationRepository(db: Database.Database, writer: WriteBatcher, emit: (c: StoreChange) => void): RevocationRepository {
  const revoked = db.prepare(
    `SELECT serial, status, revoked_at, created_at, revocation_reason FROM certificates
     WHERE issuer_id = ? AND status IN ('revoked', 'hold') AND not_after > ? ORDER BY serial`,
  );
  return {
    listRevoked: async (caId, now) =>
      (revoked.all(caId, now.getTime()) as Row[]).map((r) => ({
        serial: r.serial as string,
        status: r.status as 'revoked' | 'hold',
        revokedAt: new Date((r.revoked_at ?? r.created_at) as number),
        reason: (r.revocation_reason as number | null) ?? null,
      })),
    nextCrlNumber: (caId) =>
      writer.run((d) => {
        const r = d.prepare('SELECT last_number FROM crl_numbers WHERE ca_id = ?').get(caId) as Row | undefined;
        const next = (r ? BigInt(r.last_number as string) : 0n) + 1n;
        d.prepare('INSERT INTO crl_numbers (ca_id, last_number) VALUES (?, ?) ON CONFLICT(ca_id) DO UPDATE SET last_number = excluded.last_number').run(caId, next.toString());
        return next;
      }),
    saveCrl: async (c: StoredCrl) => {
      const saved = await writer.run((d) => {
        const r = d.prepare('SELECT number FROM crls WHERE ca_id = ? AND kind = ?').get(c.caId, c.kind) as Row | undefined;
        if (r && BigInt(r.number as string) > c.number) return false;
        d.prepare(
          `INSERT INTO crls (ca_id, kind, number, base_number, this_update, next_update, der, source_hash) VALUES (?,?,?,?,?,?,?,?)
           ON CONFLICT(ca_id, kind) DO UPDATE SET number=excluded.number, base_number=excluded.base_number,
             this_update=excluded.this_update, next_update=excluded.next_update, der=excluded.der, source_hash=excluded.source_hash`,
        ).run(c.caId, c.kind, c.number.toString(), c.baseNumber?.toString() ?? null, c.thisUpdate.getTime(), c.nextUpdate.getTime(), c.der, c.sourceHash);
        return true;
      });
      if (saved) emit({ kind: 'crl', caId: c.caId });
    },
    latestCrl: async (caId, kind) => {
      const r = db.prepare('SELECT * FROM crls WHERE ca_id = ? AND kind = ?').get(caId, kind) as Row | undefined;
      return r ? toStoredCrl(caId, kind, r) : undefined;
    },
  };
}
