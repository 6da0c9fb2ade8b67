/** SQLite implementation of the revocation repositories. CRL numbers are stored as decimal text (up to 20 octets, RFC 5280 §5.2.3). */
import type Database from 'better-sqlite3';
import type { RevocationRepository, StoredCrl } from '../revocation-types.js';
import { toStoredCrl } from '../rows.js';
import type { StoreChange } from '../ha-types.js';
import type { WriteBatcher } from './batch.js';

type Row = Record<string, unknown>;

export function sqliteRevocationRepository(db: Database.Database, writer: WriteBatcher, emit: (c: StoreChange) => void): RevocationRepository {
  // Both read only the partial index certificates_revoked (migration 101): no table rows, no sort.
  const page = db
    .prepare(
      `SELECT serial, status, revoked_at, created_at, revocation_reason FROM certificates
       WHERE issuer_id = ? AND status IN ('revoked', 'hold') AND serial > ? AND not_after > ? ORDER BY serial LIMIT ?`,
    )
    .raw(true);
  const digest = db.prepare(
    `SELECT count(*) AS n, total(status = 'hold') AS h, max(revoked_at) AS m, total(revoked_at) AS t, total(revocation_reason) AS r
     FROM certificates WHERE issuer_id = ? AND status IN ('revoked', 'hold')`,
  );
  const crlNumber = db.prepare('SELECT number FROM crls WHERE ca_id = ? AND kind = ?');
  const crlRow = db.prepare('SELECT * FROM crls WHERE ca_id = ? AND kind = ?');
  return {
    // Rows as arrays (raw): a million-entry CRL reads a million rows, object rows cost twice as much.
    revokedPage: async (caId, notAfterAfter, afterSerial, limit) =>
      (page.all(caId, afterSerial ?? '', notAfterAfter.getTime(), limit) as unknown[][]).map((r) => ({
        serial: r[0] as string,
        status: r[1] as 'revoked' | 'hold',
        revokedAt: new Date((r[2] ?? r[3]) as number),
        reason: (r[4] as number | null) ?? null,
      })),
    revokedDigest: async (caId) => {
      const r = digest.get(caId) as Row;
      return `${r.n}:${r.h}:${r.m ?? 0}:${r.t}:${r.r}`;
    },
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
    latestCrl: async (caId, kind, newerThan) => {
      if (newerThan !== undefined) {
        const n = crlNumber.get(caId, kind) as Row | undefined;
        if (!n || BigInt(n.number as string) <= newerThan) return undefined;
      }
      const r = crlRow.get(caId, kind) as Row | undefined;
      return r ? toStoredCrl(caId, kind, r) : undefined;
    },
  };
}
