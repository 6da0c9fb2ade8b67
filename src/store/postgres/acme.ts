/**
 * PostgreSQL implementation of the acme repositories (mirrors sqlite/acme.ts). Nodes share
 * everything through the database: single-use nonces and leases are single conditional statements
 * (INSERT … ON CONFLICT DO NOTHING, UPDATE … WHERE … RETURNING), and transactions that change an
 * authorization lock the rows whose status depends on it (see acme-rules.ts).
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { AcmeAccountRecord, AcmeRepository } from '../acme-types.js';
import { FlintError } from '../../errors/index.js';
import { appendAudit, inTx, isUniqueViolation, query } from './db.js';
import { lazyQuery } from './lazy-commit.js';
import { toAccount, toEabKey } from './acme-rows.js';
import { applyRateLimits } from './acme-rules.js';
import { pgAcmeOrders } from './acme-orders.js';

type AccountPatch = Parameters<AcmeRepository['updateAccount']>[1];

function keyInUse(e: unknown): unknown {
  return isUniqueViolation(e) ? new FlintError('conflict', 'the key is already in use by another account', { code: 'acme.keyInUse', cause: e }) : e;
}

function accountSets(patch: AccountPatch): { sets: string[]; args: unknown[] } {
  const sets: string[] = [];
  const args: unknown[] = [];
  const set = (col: string, v: unknown) => (args.push(v), sets.push(`${col} = $${args.length}`));
  if (patch.contact) set('contact', JSON.stringify(patch.contact));
  if (patch.status) set('status', patch.status);
  if (patch.jwk && patch.thumbprint) (set('jwk', JSON.stringify(patch.jwk)), set('thumbprint', patch.thumbprint));
  return { sets, args };
}

export function pgAcmeRepository(pool: pg.Pool): AcmeRepository {
  let nonceInserts = 0;
  const account = async (where: string, v: string): Promise<AcmeAccountRecord | undefined> => {
    const r = (await query(pool, `SELECT * FROM acme_accounts WHERE ${where} = $1`, [v])).rows[0];
    return r ? toAccount(r) : undefined;
  };
  return {
    // Used nonces commit without their own flush (as in SQLite: a crash of PostgreSQL can at worst
    // bring back a nonce used in the last moments, whose request's effects were not durable either).
    // Single use across nodes: the primary key lets exactly one INSERT through.
    useNonce: async (nonce, expires) => {
      if (++nonceInserts % 500 === 0) {
        // Pruned in bounded steps; SKIP LOCKED lets nodes pruning at once take disjoint rows (no waits, no deadlocks).
        await query(pool, 'DELETE FROM acme_used_nonces WHERE nonce IN (SELECT nonce FROM acme_used_nonces WHERE expires < $1 LIMIT 1000 FOR UPDATE SKIP LOCKED)', [Date.now()]);
      }
      const res = await lazyQuery(pool, 'INSERT INTO acme_used_nonces (nonce, expires) SELECT $1, $2 FROM lazy_commit ON CONFLICT (nonce) DO NOTHING', [nonce, expires.getTime()]);
      return res.rowCount === 1;
    },
    sharedSecret: async (name) => {
      const get = async () => (await query<{ value: Buffer }>(pool, 'SELECT value FROM acme_secrets WHERE name = $1', [name])).rows[0]?.value;
      const have = await get();
      if (have) return Buffer.from(have);
      // The first node to insert wins; ON CONFLICT waits for it, and the next statement sees its row.
      const ins = await query<{ value: Buffer }>(pool, 'INSERT INTO acme_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING value', [
        name, randomBytes(32), Date.now(),
      ]);
      return Buffer.from(ins.rows[0]?.value ?? (await get())!);
    },
    createAccount: (a, audit = [], eab, opts = {}) =>
      inTx(pool, async (c) => {
        await applyRateLimits(c, opts.limits, opts.now ?? a.createdAt);
        if (eab) {
          // One-time binding: the conditional UPDATE lets exactly one account claim the key.
          const res = await c.query('UPDATE acme_eab_keys SET account_id = $1, used_at = $2 WHERE kid = $3 AND provisioner = $4 AND account_id IS NULL', [
            a.id, a.createdAt.getTime(), eab.kid, eab.provisioner,
          ]);
          if (res.rowCount !== 1) throw new FlintError('unauthorized', 'the external account binding key is unknown or already used');
        }
        await c.query('INSERT INTO acme_accounts (id, thumbprint, jwk, contact, status, created_at, provisioner) VALUES ($1,$2,$3,$4,$5,$6,$7)', [
          a.id, a.thumbprint, JSON.stringify(a.jwk), JSON.stringify(a.contact), a.status, a.createdAt.getTime(), a.provisioner ?? 'acme',
        ]);
        await appendAudit(c, audit);
      }),
    createEabKey: (k, audit = []) =>
      inTx(pool, async (c) => {
        await c.query('INSERT INTO acme_eab_keys (kid, provisioner, hmac_key, created_at, account_id, used_at) VALUES ($1,$2,$3,$4,$5,$6)', [
          k.kid, k.provisioner, k.hmacKey, k.createdAt.getTime(), k.accountId, k.usedAt?.getTime() ?? null,
        ]);
        await appendAudit(c, audit);
      }),
    getEabKey: async (kid) => {
      const r = (await query(pool, 'SELECT * FROM acme_eab_keys WHERE kid = $1', [kid])).rows[0];
      return r ? toEabKey(r) : undefined;
    },
    getAccount: (id) => account('id', id),
    getAccountByThumbprint: (tp) => account('thumbprint', tp),
    updateAccount: (id, patch, audit = []) =>
      inTx(pool, async (c) => {
        const { sets, args } = accountSets(patch);
        if (sets.length) await c.query(`UPDATE acme_accounts SET ${sets.join(', ')} WHERE id = $${args.length + 1}`, [...args, id]);
        await appendAudit(c, audit);
      }).catch((e: unknown) => {
        // Key rollover racing another account onto the same key (the unique thumbprint): a conflict, not a 500.
        throw keyInUse(e);
      }),
    ...pgAcmeOrders(pool),
  };
}
