/**
 * The store contract against PostgreSQL (a throwaway cluster, or FLINTCA_TEST_PG_URL), plus what
 * only a shared database shows: one audit chain from several nodes, migrations applied once when
 * nodes start together, changes crossing nodes, and surviving a server restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { verifyAuditChain } from '../../src/audit/index.js';
import { hashAuditRecord, PgStore, type StoreChange } from '../../src/store/index.js';
import { GENESIS_HASH } from '../../src/store/audit-hash.js';
import { postgresMigrations } from '../../src/store/migrations/postgres-index.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { haContract } from './ha-contract.js';
import { revocationContract } from './revocation-contract.js';
import { cert, storeContract } from './store-contract.js';

let cluster: PgCluster;
let url: string;

beforeAll(async () => {
  cluster = await startPostgres();
  url = await cluster.database();
}, 60_000);
afterAll(async () => {
  await cluster?.destroy();
});

const open = () => PgStore.open(url);
storeContract('postgres', open);
haContract('postgres', open);
revocationContract('postgres', open);

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, step?: () => Promise<unknown>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await step?.();
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('PostgreSQL store across nodes', () => {
  it('applies each migration once when three nodes open an empty database together', async () => {
    const fresh = await cluster.database();
    const stores = await Promise.all([1, 2, 3].map(() => PgStore.open(fresh)));
    const c = new pg.Client({ connectionString: fresh });
    await c.connect();
    try {
      const rows = (await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
      expect(rows).toEqual(postgresMigrations.map((m) => m.version));
      expect((await c.query('SELECT seq, hash FROM audit_head')).rows).toEqual([{ seq: 0, hash: GENESIS_HASH }]);
    } finally {
      await c.end();
    }
    for (const s of stores) expect(await s.ping()).toBe(true);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('appends from two nodes at once form one verifiable chain', async () => {
    const db = await cluster.database();
    const [a, b] = await Promise.all([PgStore.open(db), PgStore.open(db)]);
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const s = i % 2 === 0 ? a : b;
          const events = Array.from({ length: 1 + (i % 3) }, (_, k) => ({ actor: `node-${i % 2}`, action: 'test.append', object: `o${i}.${k}`, result: 'ok' as const, data: { i, k } }));
          return i % 4 === 0
            ? s.audit.append(events, { durable: false })
            : s.certificates.insert(cert(`5e${i.toString(16).padStart(2, '0')}`), events);
        }),
      );
      const recs = await a.audit.range(1, 1000);
      const expected = Array.from({ length: 20 }, (_, i) => 1 + (i % 3)).reduce((x, y) => x + y, 0);
      expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
      let prev = GENESIS_HASH;
      for (const r of recs) {
        expect(r.prevHash).toBe(prev);
        const { hash, ...rest } = r;
        expect(hashAuditRecord(rest)).toBe(hash);
        prev = hash;
      }
      expect(await b.audit.head()).toEqual({ seq: expected, hash: prev });
      expect((await verifyAuditChain(b.audit)).ok).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('hands out CRL numbers and leases once across nodes', async () => {
    const [a, b] = await Promise.all([PgStore.open(url), PgStore.open(url)]);
    try {
      const numbers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).revocation.nextCrlNumber('ca-multi')));
      expect(numbers.map(Number).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const won = await Promise.all([a.leases.acquire('crl:multi', 'node-a', 60_000), b.leases.acquire('crl:multi', 'node-b', 60_000)]);
      expect(won.filter(Boolean)).toHaveLength(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a change written on one node reaches subscribers on another, and its own subscribers once', async () => {
    const [a, b] = await Promise.all([PgStore.open(url), PgStore.open(url)]);
    try {
      const atA: StoreChange[] = [];
      const atB: StoreChange[] = [];
      a.subscribe((c) => atA.push(c));
      b.subscribe((c) => atB.push(c));
      await Promise.all([a.whenListening(), b.whenListening()]);
      await a.certificates.insert(cert('6f01', { issuerId: 'ca-x' }));
      expect(await a.certificates.setStatus({ serial: '6f01', status: 'revoked', revokedAt: new Date(), reason: 1, fromStatuses: ['valid'] })).toBe(true);
      await until(() => atB.length >= 1);
      expect(atB).toEqual([{ kind: 'certificateStatus', serial: '6f01', issuerId: 'ca-x', status: 'revoked' }]);
      await b.revocation.saveCrl({ caId: 'ca-x', kind: 'full', number: 3n, baseNumber: null, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 3_600_000), der: Buffer.from([0x30, 0x00]), sourceHash: 'h' });
      await until(() => atA.length >= 2);
      // An older CRL does not replace the newer one and announces nothing.
      await a.revocation.saveCrl({ caId: 'ca-x', kind: 'full', number: 2n, baseNumber: null, thisUpdate: new Date(), nextUpdate: new Date(), der: Buffer.from([0x30, 0x00]), sourceHash: 'old' });
      expect((await b.revocation.latestCrl('ca-x', 'full'))?.sourceHash).toBe('h');
      await new Promise((r) => setTimeout(r, 300));
      expect(atA).toEqual([
        { kind: 'certificateStatus', serial: '6f01', issuerId: 'ca-x', status: 'revoked' },
        { kind: 'crl', caId: 'ca-x' },
      ]);
      expect(atB).toEqual(atA);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  // Last: it stops the cluster.
  it('survives a server restart: unavailable while down, ready again and listening with the same objects', async () => {
    const [a, b] = await Promise.all([PgStore.open(url), PgStore.open(url)]);
    try {
      const atB: StoreChange[] = [];
      b.subscribe((c) => atB.push(c));
      await b.whenListening();
      await a.certificates.insert(cert('7a01'));
      expect(await a.ping()).toBe(true);
      cluster.stop();
      expect(await a.ping()).toBe(false);
      const err = await a.certificates.setStatus({ serial: '7a01', status: 'revoked', revokedAt: new Date(), reason: 1, fromStatuses: ['valid'] }, [{ actor: 't', action: 'x', object: 'o', result: 'ok' }]).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'unavailable', retryAfter: 5 });
      await expect(a.audit.head()).rejects.toMatchObject({ kind: 'unavailable' });
      await new Promise((r) => setTimeout(r, 500)); // the feed keeps retrying while the server is down
      cluster.start();
      await until(() => a.ping());
      // Nothing was half-written while the server was down.
      expect((await a.certificates.get('7a01'))?.status).toBe('valid');
      // The feed reconnects by itself; changes made after that arrive.
      await b.whenListening();
      let n = 10n;
      await until(() => atB.some((c) => c.kind === 'crl' && c.caId === 'ca-restart'), 15_000, () =>
        a.revocation.saveCrl({ caId: 'ca-restart', kind: 'full', number: n++, baseNumber: null, thisUpdate: new Date(), nextUpdate: new Date(), der: Buffer.from([0x30, 0x00]), sourceHash: null }),
      );
      expect(await a.certificates.setStatus({ serial: '7a01', status: 'revoked', revokedAt: new Date(), reason: 1, fromStatuses: ['valid'] })).toBe(true);
      await until(() => atB.some((c) => c.kind === 'certificateStatus' && c.serial === '7a01'));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);
});
