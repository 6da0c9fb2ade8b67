/** PostgreSQL acme repository, orders, authorizations and challenges (RFC 8555 §7.1.3–7.1.6, §7.5). */
import type pg from 'pg';
import type { AcmeAuthzRecord, AcmeOrderPatch, AcmeRepository } from '../acme-types.js';
import { FlintError } from '../../errors/index.js';
import { appendAudit, inTx, query, type Row } from './db.js';
import { lazyQuery } from './lazy-commit.js';
import { loadAuthzs, problemText, toChallenge, toOrder } from './acme-rows.js';
import { applyRateLimits, invalidateLinkedOrders, promoteLinkedOrders } from './acme-rules.js';

type OrderMethods = Omit<AcmeRepository, 'useNonce' | 'sharedSecret' | 'createAccount' | 'createEabKey' | 'getEabKey' | 'getAccount' | 'getAccountByThumbprint' | 'updateAccount'>;

const ids = (rows: Row[]) => rows.map((r) => r.id as string);

function orderSets(patch: AcmeOrderPatch): { sets: string[]; args: unknown[] } {
  const sets: string[] = [];
  const args: unknown[] = [];
  const set = (col: string, v: unknown) => (args.push(v), sets.push(`${col} = $${args.length}`));
  if (patch.status) set('status', patch.status);
  if (patch.certSerial !== undefined) set('cert_serial', patch.certSerial);
  if (patch.error !== undefined) set('error', problemText(patch.error));
  if (patch.csr !== undefined) set('csr', patch.csr);
  if (patch.claimedUntil !== undefined) set('claimed_until', patch.claimedUntil?.getTime() ?? null);
  return { sets, args };
}

/** The new authorizations and their challenges: one multi-row INSERT per table (unnest of column arrays). */
async function insertAuthzs(c: pg.PoolClient, authzs: AcmeAuthzRecord[]): Promise<void> {
  if (authzs.length === 0) return;
  await c.query(
    `INSERT INTO acme_authzs (id, order_id, account_id, identifier, status, expires, wildcard)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::boolean[])`,
    [authzs.map((a) => a.id), authzs.map((a) => a.orderId), authzs.map((a) => a.accountId), authzs.map((a) => JSON.stringify(a.identifier)),
      authzs.map((a) => a.status), authzs.map((a) => a.expires.getTime()), authzs.map((a) => a.wildcard)],
  );
  const chs = authzs.flatMap((a) => a.challenges.map((ch, i) => ({ ...ch, authzId: a.id, position: i })));
  if (chs.length === 0) return;
  await c.query(
    `INSERT INTO acme_challenges (id, authz_id, position, type, token, status)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[])`,
    [chs.map((x) => x.id), chs.map((x) => x.authzId), chs.map((x) => x.position), chs.map((x) => x.type), chs.map((x) => x.token), chs.map((x) => x.status)],
  );
}

export function pgAcmeOrders(pool: pg.Pool): OrderMethods {
  const order = async (where: string, v: string) => {
    const r = (await query(pool, `SELECT * FROM acme_orders WHERE ${where} LIMIT 1`, [v])).rows[0];
    return r ? toOrder(r) : undefined;
  };
  const idList = async (sql: string, args: unknown[]) => ids((await query(pool, sql, args)).rows);
  /**
   * Lease of the node finishing a processing order or challenge: one conditional UPDATE; a
   * concurrent claimer waits on the row lock, then re-checks the WHERE against the winner's
   * claimed_until and gets no row. The attempt number, or undefined when another node holds it.
   */
  const claim = (table: 'acme_orders' | 'acme_challenges') => async (id: string, now: Date, until: Date) =>
    (await lazyQuery<{ attempts: number }>(pool,
      `UPDATE ${table} SET claimed_until = $1, attempts = attempts + 1 FROM lazy_commit
       WHERE id = $2 AND status = 'processing' AND (claimed_until IS NULL OR claimed_until < $3) RETURNING attempts`,
      [until.getTime(), id, now.getTime()],
    )).rows[0]?.attempts;
  return {
    createOrder: (o, authzs, audit = [], opts = {}) =>
      inTx(pool, async (c) => {
        const now = opts.now ?? o.createdAt;
        await applyRateLimits(c, opts.limits, now);
        const reuse = opts.reuse ?? [];
        if (reuse.length) {
          // FOR SHARE (in id order): a node deactivating or validating a reused authorization waits
          // for this order's links to commit, then finds the order among the linked ones.
          const rows = (await c.query<{ id: string; status: string; expires: number }>(
            'SELECT id, status, expires FROM acme_authzs WHERE id = ANY($1::text[]) AND account_id = $2 ORDER BY id FOR SHARE', [reuse, o.accountId],
          )).rows;
          const usable = new Set(rows.filter((r) => ['pending', 'valid'].includes(r.status) && r.expires > now.getTime()).map((r) => r.id));
          if (!reuse.every((id) => usable.has(id))) throw new FlintError('conflict', 'a reused authorization changed meanwhile', { code: 'acme.authzChanged' });
        }
        await c.query(
          `INSERT INTO acme_orders (id, account_id, status, identifiers, not_before, not_after, expires, cert_serial, error, profile, replaces, created_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
          [o.id, o.accountId, o.status, JSON.stringify(o.identifiers), o.notBefore?.getTime() ?? null, o.notAfter?.getTime() ?? null,
            o.expires.getTime(), o.certSerial, problemText(o.error), o.profile, o.replaces, o.createdAt.getTime()],
        );
        await insertAuthzs(c, authzs);
        const links = [...authzs.map((a) => a.id), ...reuse];
        if (links.length) {
          await c.query('INSERT INTO acme_order_authzs (order_id, authz_id, position) SELECT $1, a, p - 1 FROM unnest($2::text[]) WITH ORDINALITY AS t(a, p)', [o.id, links]);
        }
        let status = o.status;
        if (status === 'pending') {
          const res = await c.query(
            `UPDATE acme_orders SET status = 'ready' WHERE id = $1
               AND NOT EXISTS (SELECT 1 FROM acme_order_authzs l JOIN acme_authzs a ON a.id = l.authz_id WHERE l.order_id = $1 AND a.status != 'valid')`,
            [o.id],
          );
          if (res.rowCount === 1) status = 'ready';
        }
        await appendAudit(c, audit);
        return { status };
      }, { durable: opts.durable !== false }),
    findReusableAuthz: async (accountId, identifier, wildcard, opts) => {
      const statuses = opts.includePending ? ['valid', 'pending'] : ['valid'];
      const rows = (await query(pool,
        `SELECT * FROM acme_authzs WHERE account_id = $1 AND identifier = $2 AND wildcard = $3 AND status = ANY($4::text[]) AND expires > $5
         ORDER BY CASE status WHEN 'valid' THEN 0 ELSE 1 END, expires DESC LIMIT 1`,
        [accountId, JSON.stringify({ type: identifier.type, value: identifier.value }), wildcard, statuses, opts.minExpires.getTime()],
      )).rows;
      return (await loadAuthzs(pool, rows))[0];
    },
    getOrder: (id) => order('id = $1', id),
    listOrderIds: (accountId) => idList('SELECT id FROM acme_orders WHERE account_id = $1 ORDER BY created_at, id LIMIT 1000', [accountId]),
    getOrderByCertSerial: (serial) => order('cert_serial = $1', serial),
    getValidOrderReplacing: (serial) => order("replaces = $1 AND status = 'valid'", serial),
    updateOrder: (id, from, patch, audit = [], opts = {}) => {
      const { sets, args } = orderSets(patch);
      if (sets.length === 0) return Promise.resolve(true);
      return inTx(pool, async (c) => {
        const n = args.length;
        const res = await c.query(`UPDATE acme_orders SET ${sets.join(', ')} WHERE id = $${n + 1} AND status = ANY($${n + 2}::text[])`, [...args, id, from]);
        if (res.rowCount === 0) return false;
        // Counted only when the transition happens; a refusal rolls the transition back.
        await applyRateLimits(c, opts.limits, opts.now ?? new Date());
        await appendAudit(c, audit);
        return true;
      }, { durable: opts.durable !== false });
    },
    claimOrder: claim('acme_orders'),
    listStaleOrders: (now, limit) => idList("SELECT id FROM acme_orders WHERE status = 'processing' AND claimed_until < $1 LIMIT $2", [now.getTime(), limit]),
    findSerialByRequester: async (requester) =>
      (await query<{ serial: string }>(pool, 'SELECT serial FROM certificates WHERE requester = $1 LIMIT 1', [requester])).rows[0]?.serial,

    getAuthz: async (id) => (await loadAuthzs(pool, (await query(pool, 'SELECT * FROM acme_authzs WHERE id = $1', [id])).rows))[0],
    listAuthzs: async (orderId) =>
      loadAuthzs(pool, (await query(pool, 'SELECT a.* FROM acme_order_authzs l JOIN acme_authzs a ON a.id = l.authz_id WHERE l.order_id = $1 ORDER BY l.position', [orderId])).rows),
    deactivateAuthz: (id, audit = []) =>
      inTx(pool, async (c) => {
        const res = await c.query("UPDATE acme_authzs SET status = 'deactivated' WHERE id = $1 AND status IN ('pending','valid')", [id]);
        if (res.rowCount === 0) return false;
        await invalidateLinkedOrders(c, id, null);
        await appendAudit(c, audit);
        return true;
      }),
    getChallenge: async (id) => {
      const r = (await query(pool, 'SELECT * FROM acme_challenges WHERE id = $1', [id])).rows[0];
      return r ? toChallenge(r) : undefined;
    },
    listProcessingChallenges: (limit) => idList("SELECT id FROM acme_challenges WHERE status = 'processing' LIMIT $1", [limit]),
    startChallenge: async (id, now = new Date()) =>
      (await lazyQuery(pool,
        `UPDATE acme_challenges SET status = 'processing', started_at = $1, claimed_until = NULL FROM lazy_commit
         WHERE id = $2 AND status = 'pending' AND authz_id IN (SELECT id FROM acme_authzs WHERE status = 'pending')`,
        [now.getTime(), id],
      )).rowCount === 1,
    claimChallenge: claim('acme_challenges'),
    listStaleChallenges: (now, unleasedBefore, limit) =>
      idList(
        "SELECT id FROM acme_challenges WHERE status = 'processing' AND (claimed_until < $1 OR (claimed_until IS NULL AND (started_at IS NULL OR started_at < $2))) LIMIT $3",
        [now.getTime(), unleasedBefore.getTime(), limit],
      ),
    completeChallenge: (id, result, audit = [], opts = {}) =>
      inTx(pool, async (c) => {
        // The first result wins: a second node's UPDATE waits on the row lock, then finds it no longer processing.
        const ch = result.ok
          ? await c.query<{ authz_id: string }>("UPDATE acme_challenges SET status = 'valid', validated = $1, error = NULL, claimed_until = NULL WHERE id = $2 AND status = 'processing' RETURNING authz_id", [
            result.validated.getTime(), id,
          ])
          : await c.query<{ authz_id: string }>("UPDATE acme_challenges SET status = 'invalid', error = $1, claimed_until = NULL WHERE id = $2 AND status = 'processing' RETURNING authz_id", [
            problemText(result.error), id,
          ]);
        const authzId = ch.rows[0]?.authz_id;
        if (authzId === undefined) return false;
        await c.query('UPDATE acme_authzs SET status = $1 WHERE id = $2 AND status = \'pending\'', [result.ok ? 'valid' : 'invalid', authzId]);
        if (result.ok) await promoteLinkedOrders(c, authzId);
        else await invalidateLinkedOrders(c, authzId, result.error);
        await applyRateLimits(c, opts.limits, opts.now ?? new Date());
        await appendAudit(c, audit);
        return true;
      }, { durable: opts.durable !== false }),
  };
}
