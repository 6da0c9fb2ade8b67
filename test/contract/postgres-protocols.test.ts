/**
 * PostgreSQL ACME and enrollment repositories: what only several nodes on one database can show
 * (the single-node behaviour is the store contract, run against PgStore in postgres.test.ts). Two
 * PgStores on one throwaway database stand for two `flintca serve` nodes; each races the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/index.js';
import { PgStore, type AuditInput } from '../../src/store/index.js';
import type { AcmeAuthzRecord, AcmeOrderRecord } from '../../src/store/acme-types.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';

let cluster: PgCluster;
let url: string;
let a: PgStore;
let b: PgStore;

beforeAll(async () => {
  cluster = await startPostgres();
  url = await cluster.database();
  [a, b] = await Promise.all([PgStore.open(url), PgStore.open(url)]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await cluster?.destroy();
});

const headSeq = async () => (await a.audit.head())?.seq ?? 0;
const ev = (action: string): AuditInput[] => [{ actor: 't', action, object: 'o', result: 'ok' }];
/** Runs fn n times at once, alternating between node A (even i) and node B (odd i). */
const onNodes = <T>(n: number, fn: (node: PgStore, i: number) => Promise<T>) => Promise.allSettled(Array.from({ length: n }, (_, i) => fn(i % 2 ? b : a, i)));
const fulfilled = <T>(rs: PromiseSettledResult<T>[]) => rs.filter((r): r is PromiseFulfilledResult<T> => r.status === 'fulfilled').map((r) => r.value);
const rejectedKinds = (rs: PromiseSettledResult<unknown>[]) => rs.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as { kind?: string }).kind);

const HOUR = 3_600_000;
const t0 = new Date('2026-03-01T10:00:00Z');
const acct = (id: string) => ({ id, thumbprint: `tp-${id}`, jwk: { kty: 'OKP' }, contact: [], status: 'valid' as const, createdAt: t0, provisioner: 'acme' });
const order = (id: string, accountId: string, over: Partial<AcmeOrderRecord> = {}): AcmeOrderRecord => ({
  id, accountId, status: 'pending', identifiers: [{ type: 'dns', value: `${id}.example` }], notBefore: null, notAfter: null,
  expires: new Date(t0.getTime() + 24 * HOUR), certSerial: null, error: null, profile: 'tls-server', replaces: null, createdAt: t0, ...over,
});
const authz = (id: string, orderId: string, accountId: string, value: string): AcmeAuthzRecord => ({
  id, orderId, accountId, identifier: { type: 'dns', value }, status: 'pending', expires: new Date(t0.getTime() + 48 * HOUR), wildcard: false,
  challenges: [
    { id: `${id}-c`, authzId: id, type: 'http-01', token: `tok-${id}`, status: 'pending', validated: null, error: null },
    { id: `${id}-d`, authzId: id, type: 'dns-01', token: `tok-${id}`, status: 'pending', validated: null, error: null },
  ],
});

describe('postgres enrollment repository across nodes', () => {
  it('a SCEP transaction claimed from both nodes at once is created by exactly one, and every caller sees its row', async () => {
    const tx = { label: 'iot', transactionId: 'tid-race', signerKey: 'k', csrHash: 'c', messageType: 19, status: 'processing' as const, serial: null, failInfo: null, approvalId: null, createdAt: new Date() };
    const rs = fulfilled(await onNodes(8, (n, i) => n.enrollment.claimScepTransaction({ ...tx, signerKey: `k${i}` })));
    expect(rs).toHaveLength(8);
    expect(rs.filter((r) => r.created)).toHaveLength(1);
    const winner = rs.find((r) => r.created)!.tx.signerKey;
    expect(rs.every((r) => r.tx.signerKey === winner)).toBe(true);
    const moved = fulfilled(await onNodes(4, (n) => n.enrollment.updateScepTransaction('iot', 'tid-race', { status: 'success', serial: 'ab' }, ['processing'], ev('scep.pkiOperation'))));
    expect(moved.filter(Boolean)).toHaveLength(1);
  });

  it('a one-time challenge is consumed once across nodes, with one audit record; a token is revoked once', async () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const ch = { hash: 'h'.repeat(64), label: 'iot', subject: null, sans: null, createdBy: 'cli:t', createdAt: now, expiresAt: new Date(now.getTime() + HOUR) };
    await a.enrollment.createScepChallenge(ch);
    const head = await headSeq();
    const used = fulfilled(await onNodes(6, (n, i) => n.enrollment.consumeScepChallenge(ch.hash, 'iot', now, `tx-${i}`, ev('scep.challenge.use'))));
    expect(used.filter(Boolean)).toHaveLength(1);
    expect(await headSeq()).toBe(head + 1);

    await a.enrollment.createAdminToken({ id: 'tok-race', hash: 'f'.repeat(64), scopes: [], description: null, createdBy: 't', createdAt: now });
    expect(fulfilled(await onNodes(4, (n) => n.enrollment.revokeAdminToken('tok-race', now, ev('admin.token.revoke')))).filter(Boolean)).toHaveLength(1);
  });
});

describe('postgres acme repository across nodes', () => {
  it('a nonce sent to both nodes at once is accepted exactly once; both nodes get the same shared secret', async () => {
    const exp = new Date(Date.now() + HOUR);
    for (let round = 0; round < 5; round++) {
      const rs = fulfilled(await onNodes(6, (n) => n.acme.useNonce(`n-race-${round}`, exp)));
      expect(rs).toHaveLength(6);
      expect(rs.filter(Boolean)).toHaveLength(1);
    }
    const secrets = fulfilled(await onNodes(4, (n) => n.acme.sharedSecret('race-secret')));
    expect(secrets.every((s) => s.equals(secrets[0]!))).toBe(true);
  });

  it('a challenge or order lease is taken by exactly one node; one validation result is recorded', async () => {
    await a.acme.createAccount(acct('ca1'));
    await a.acme.createOrder(order('co1', 'ca1'), [authz('cz1', 'co1', 'ca1', 'c.example')]);
    expect(fulfilled(await onNodes(4, (n) => n.acme.startChallenge('cz1-c', t0))).filter(Boolean)).toHaveLength(1);
    const until = new Date(t0.getTime() + 60_000);
    expect(fulfilled(await onNodes(6, (n) => n.acme.claimChallenge('cz1-c', t0, until))).filter((x) => x !== undefined)).toEqual([1]);
    const head = await headSeq();
    const done = fulfilled(await onNodes(4, (n, i) => n.acme.completeChallenge('cz1-c', i % 2 ? { ok: true, validated: t0 } : { ok: false, error: { type: 'x', detail: 'no' } }, ev('acme.challenge.validate'))));
    expect(done.filter(Boolean)).toHaveLength(1);
    expect(await headSeq()).toBe(head + 1);

    await a.acme.createOrder(order('co2', 'ca1', { status: 'ready' }), []);
    expect(fulfilled(await onNodes(4, (n) => n.acme.updateOrder('co2', ['ready'], { status: 'processing', claimedUntil: t0 }, ev('acme.order.finalize')))).filter(Boolean)).toHaveLength(1);
    const later = new Date(t0.getTime() + 1);
    expect(fulfilled(await onNodes(6, (n) => n.acme.claimOrder('co2', later, until))).filter((x) => x !== undefined)).toEqual([1]);
  });

  it('the last two authorizations of an order validated on two nodes at once still ready the order', async () => {
    await a.acme.createAccount(acct('ta1'));
    for (let i = 0; i < 8; i++) {
      const o = `to${i}`;
      await a.acme.createOrder(order(o, 'ta1'), [authz(`${o}a`, o, 'ta1', `a${i}.example`), authz(`${o}b`, o, 'ta1', `b${i}.example`)]);
      await a.acme.startChallenge(`${o}a-c`, t0);
      await b.acme.startChallenge(`${o}b-c`, t0);
      expect(await Promise.all([a.acme.completeChallenge(`${o}a-c`, { ok: true, validated: t0 }), b.acme.completeChallenge(`${o}b-c`, { ok: true, validated: t0 })])).toEqual([true, true]);
      expect((await a.acme.getOrder(o))?.status).toBe('ready');
    }
  });

  it('an order reusing an authorization that another node deactivates meanwhile is refused or ends invalid', async () => {
    await a.acme.createAccount(acct('da1'));
    for (let i = 0; i < 8; i++) {
      await a.acme.createOrder(order(`dbase${i}`, 'da1'), [authz(`dz${i}`, `dbase${i}`, 'da1', `d${i}.example`)]);
      const [created, deactivated] = await Promise.allSettled([a.acme.createOrder(order(`dnew${i}`, 'da1'), [], [], { now: t0, reuse: [`dz${i}`] }), b.acme.deactivateAuthz(`dz${i}`)]);
      expect(deactivated).toEqual({ status: 'fulfilled', value: true });
      if (created.status === 'rejected') expect(created.reason).toMatchObject({ kind: 'conflict', code: 'acme.authzChanged' });
      else expect((await a.acme.getOrder(`dnew${i}`))?.status).toBe('invalid');
    }
  });

  it('an order reusing an authorization that another node validates meanwhile ends ready', async () => {
    await a.acme.createAccount(acct('va1'));
    for (let i = 0; i < 8; i++) {
      await a.acme.createOrder(order(`vbase${i}`, 'va1'), [authz(`vz${i}`, `vbase${i}`, 'va1', `v${i}.example`)]);
      await a.acme.startChallenge(`vz${i}-c`, t0);
      const [, done] = await Promise.all([a.acme.createOrder(order(`vnew${i}`, 'va1'), [], [], { now: t0, reuse: [`vz${i}`] }), b.acme.completeChallenge(`vz${i}-c`, { ok: true, validated: t0 })]);
      expect(done).toBe(true);
      expect((await a.acme.getOrder(`vnew${i}`))?.status).toBe('ready');
    }
  });

  it('rate-limit counters and EAB keys hold across nodes: exactly the allowed number of actions pass, without deadlocks', async () => {
    const lim = [{ key: 'k:race', name: 'newAccountsPerIp', limit: 3, windowMs: HOUR }];
    const rs = await onNodes(10, (n, i) => n.acme.createAccount(acct(`rl${i}`), ev('acme.account.create'), undefined, { now: t0, limits: lim }));
    expect(fulfilled(rs)).toHaveLength(3);
    expect(rejectedKinds(rs)).toEqual(Array(7).fill('rateLimited'));

    // A finalization counts each of its domains; orders naming them in opposite orders must not deadlock.
    await a.acme.createAccount(acct('fa1'));
    for (let i = 0; i < 8; i++) await a.acme.createOrder(order(`fo${i}`, 'fa1', { status: 'ready' }), []);
    const doms = ['k:dom-a', 'k:dom-b', 'k:dom-c'].map((key) => ({ key, name: 'certificatesPerDomain', limit: 100, windowMs: HOUR }));
    const fins = await onNodes(8, (n, i) => n.acme.updateOrder(`fo${i}`, ['ready'], { status: 'processing' }, [], { now: t0, limits: i % 2 ? [...doms].reverse() : doms }));
    expect(fins).toEqual(Array(8).fill({ status: 'fulfilled', value: true }));

    await a.acme.createEabKey({ kid: 'kid-race', provisioner: 'acme', hmacKey: Buffer.alloc(32, 1), createdAt: t0, accountId: null, usedAt: null });
    const bound = await onNodes(6, (n, i) => n.acme.createAccount(acct(`eb${i}`), [], { kid: 'kid-race', provisioner: 'acme' }));
    expect(fulfilled(bound)).toHaveLength(1);
    expect(rejectedKinds(bound)).toEqual(Array(5).fill('unauthorized'));
  });

  it('a key rollover onto a key another account holds is a conflict, not an internal error', async () => {
    await a.acme.createAccount(acct('kr1'));
    await a.acme.createAccount(acct('kr2'));
    await expect(b.acme.updateAccount('kr1', { jwk: { kty: 'EC' }, thumbprint: 'tp-kr2' }, ev('acme.account.keyChange'))).rejects.toMatchObject({ kind: 'conflict', code: 'acme.keyInUse' });
    expect((await a.acme.getAccount('kr1'))?.thumbprint).toBe('tp-kr1');
  });

  it('expired used nonces and rate counters are pruned every 500 writes', async () => {
    const fresh = await PgStore.open(url); // its own write counter, starting at 0
    try {
      const past = new Date(Date.now() - 1000);
      for (let i = 0; i < 498; i++) await fresh.acme.useNonce(`old-${i}`, past);
      expect(await fresh.acme.useNonce('old-0', past)).toBe(false); // 499th write: still there
      expect(await fresh.acme.useNonce('new-0', new Date(Date.now() + HOUR))).toBe(true); // the 500th prunes first
      expect(await fresh.acme.useNonce('old-0', past)).toBe(true); // gone
    } finally {
      await fresh.close();
    }
    const old = new Date(t0.getTime() - 10 * HOUR);
    const check = [{ key: 'k:old', name: 'x', limit: 1, windowMs: HOUR, mode: 'check' as const }];
    await a.acme.createAccount(acct('pr-old'), [], undefined, { now: old, limits: [{ ...check[0]!, mode: 'take' }] });
    await expect(a.acme.createAccount(acct('pr-old2'), [], undefined, { now: old, limits: check })).rejects.toMatchObject({ kind: 'rateLimited' });
    for (let i = 0; i < 500; i++) await a.acme.createAccount(acct(`pr-${i}`), [], undefined, { now: t0, limits: [{ key: 'k:prune', name: 'x', limit: 1, windowMs: HOUR, mode: 'count' }] });
    await a.acme.createAccount(acct('pr-old2'), [], undefined, { now: old, limits: check }); // the old window's counter was pruned
  });

  it('every audit record the protocol repositories wrote from both nodes forms one verifiable chain', async () => {
    expect(await verifyAuditChain(a.audit)).toMatchObject({ ok: true });
  });
});
