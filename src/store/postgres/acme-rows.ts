/** Loading ACME authorizations with their challenges in PostgreSQL; the row mapping is shared (../acme-rows.ts). */
import { toAuthz, toChallenge } from '../acme-rows.js';
import type { AcmeAuthzRecord, AcmeChallengeRecord } from '../acme-types.js';
import { query, type Queryable, type Row } from './db.js';

export { problemText, toAccount, toChallenge, toEabKey, toOrder } from '../acme-rows.js';

/** Authorization rows with their challenges (one query for all of them, in their stored order). */
export async function loadAuthzs(db: Queryable, rows: Row[]): Promise<AcmeAuthzRecord[]> {
  if (rows.length === 0) return [];
  const chs = await query(db, 'SELECT * FROM acme_challenges WHERE authz_id = ANY($1::text[]) ORDER BY position', [rows.map((r) => r.id)]);
  const byAuthz = new Map<string, AcmeChallengeRecord[]>();
  for (const c of chs.rows.map(toChallenge)) {
    const list = byAuthz.get(c.authzId);
    if (list) list.push(c);
    else byAuthz.set(c.authzId, [c]);
  }
  return rows.map((r) => toAuthz(r, byAuthz.get(r.id as string) ?? []));
}
