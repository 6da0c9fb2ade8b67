/**
 * PostgreSQL ACME and enrollment repositories, called directly on a throwaway cluster: the ACME/SCEP
 * cases of store-contract.ts (until the full contract runs against PgStore), and the cases only
 * several nodes can produce: two pools on one database stand for two `flintca serve` nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { hashAuditRecord, type AuditInput } from '../../src/store/index.js';
import type { AcmeAuthzRecord, AcmeOrderRecord, AcmeRepository } from '../../src/store/acme-types.js';
import type { EnrollmentRepository } from '../../src/store/enrollment-types.js';
import { postgresAcmeMigrations } from '../../src/store/migrations/postgres-acme.js';
import { postgresEnrollmentMigrations } from '../../src/store/migrations/postgres-enrollment.js';
import { pgAcmeRepository } from '../../src/store/postgres/acme.js';
import { pgEnrollmentRepository } from '../../src/store/postgres/enrollment.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';

// The core tables these repositories touch (certificates, the audit chain), as pgcore's v1 creates them.
const CORE_SQL = `
  CREATE TABLE certificates (
    serial TEXT PRIMARY KEY, issuer_id TEXT NOT NULL, subject TEXT NOT NULL, sans TEXT NOT NULL, not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL, profile TEXT NOT NULL, requester TEXT NOT NULL, protocol TEXT NOT NULL, status TEXT NOT NULL,
    revoked_at BIGINT, revocation_reason INTEGER, der BYTEA NOT NULL, created_at BIGINT NOT NULL, replaces TEXT);
  CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, result TEXT NOT NULL,
    reason TEXT, data TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
  CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL);
  INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${'0'.repeat(64)}');
`;

let cluster: PgCluster;
const pools: pg.Pool[] = [];
/** Node A and node B: separate pools (separate connections) on the same database. */
let acme: AcmeRepository, acmeB: AcmeRepository, enr: EnrollmentRepository, enrB: EnrollmentRepository;

beforeAll(async () => {
  cluster = await startPostgres();
  const url = await cluster.database();
  for (let i = 0; i < 2; i++) pools.push(new pg.Pool({ connectionString: url, max: 8 }).on('error', () => undefined)); // idle clients at cluster shutdown
  await pools[0]!.query(CORE_SQL);
  for (const m of [...postgresAcmeMigrations, ...postgresEnrollmentMigrations].sort((a, b) => a.version - b.version)) await pools[0]!.query(m.sql);
  acme = pgAcmeRepository(pools[0]!);
  acmeB = pgAcmeRepository(pools[1]!);
  enr = pgEnrollmentRepository(pools[0]!);
  enrB = pgEnrollmentRepository(pools[1]!);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await cluster?.destroy();
});

const headSeq = async () => (await pools[0]!.query<{ seq: number }>('SELECT seq FROM audit_head WHERE id = 1')).rows[0]!.seq;
const ev = (action: string): AuditInput[] => [{ actor: 't', action, object: 'o', result: 'ok' }];
/** Runs fn on node A for even i and node B for odd i. */
const onNodes = <T>(n: number, fn: (node: { acme: AcmeRepository; enr: EnrollmentRepository }, i: number) => Promise<T>) =>
  Promise.allSettled(Array.from({ length: n }, (_, i) => fn(i % 2 ? { acme: acmeB, enr: enrB } : { acme, enr }, i)));
const fulfilled = <T>(rs: PromiseSettledResult<T>[]) => rs.filter((r): r is PromiseFulfilledResult<T> => r.status === 'fulfilled').map((r) => r.value);

const HOUR = 3_600_000;
const t0 = new Date('2026-03-01T10:00:00Z');
const acct = (id: string) => ({ id, thumbprint: `tp-${id}`, jwk: { kty: 'OKP' }, contact: [], status: 'valid' as const, createdAt: t0, provisioner: 'acme' });
const order = (id: string, accountId: string, over: Partial<AcmeOrderRecord> = {}): AcmeOrderRecord => ({
  id, accountId, status: 'pending', identifiers: [{ type: 'dns', value: `${id}.example` }], notBefore: null, notAfter: null,
  expires: new Date(t0.getTime() + 24 * HOUR), certSerial: null, error: null, profile: 'tls-server', replaces: null, createdAt: t0, ...over,
});
const authz = (id: string, orderId: string, accountId: string, value: string, over: Partial<AcmeAuthzRecord> = {}): AcmeAuthzRecord => ({
  id, orderId, accountId, identifier: { type: 'dns', value }, status: 'pending', expires: new Date(t0.getTime() + 48 * HOUR), wildcard: false,
  challenges: [
    { id: `${id}-c`, authzId: id, type: 'http-01', token: `tok-${id}`, status: 'pending', validated: null, error: null },
    { id: `${id}-d`, authzId: id, type: 'dns-01', token: `tok-${id}`, status: 'pending', validated: null, error: null },
  ],
  ...over,
});

describe('postgres enrollment repository', () => {
  it('SCEP transactions are claimed once and change state only from the expected states', async () => {
    const tx = { label: 'iot', transactionId: 'tid-1', signerKey: 'k1', csrHash: 'c1', messageType: 19, status: 'processing' as const, serial: null, failInfo: null, approvalId: null, createdAt: new Date() };
    expect((await enr.claimScepTransaction(tx)).created).toBe(true);
    expect(await enr.claimScepTransaction({ ...tx, signerKey: 'k2' })).toMatchObject({ created: false, tx: { signerKey: 'k1', status: 'processing' } });
    expect((await enr.claimScepTransaction({ ...tx, label: 'other' })).created).toBe(true);
    const head = await headSeq();
    expect(await enr.updateScepTransaction('iot', 'tid-1', { status: 'success', serial: 'ab' }, ['pending'])).toBe(false);
    expect(await enr.updateScepTransaction('iot', 'tid-1', { status: 'success', serial: 'ab' }, ['processing'], ev('scep.pkiOperation'))).toBe(true);
    expect(await headSeq()).toBe(head + 1);
    expect(await enr.getScepTransaction('iot', 'tid-1')).toMatchObject({ status: 'success', serial: 'ab', messageType: 19 });
    expect(await enr.updateScepTransaction('iot', 'tid-1', { status: 'processing', messageType: 17, csrHash: 'c2' }, ['success'], [], { durable: false })).toBe(true);
    expect(await enr.getScepTransaction('iot', 'tid-1')).toMatchObject({ status: 'processing', messageType: 17, csrHash: 'c2', serial: 'ab' });
    expect(await enr.deleteScepTransaction('iot', 'tid-1', ['success'])).toBe(false);
    expect(await enr.deleteScepTransaction('iot', 'tid-1', ['processing'])).toBe(true);
    expect(await enr.getScepTransaction('iot', 'tid-1')).toBeUndefined();
    await enr.claimScepTransaction({ ...tx, transactionId: 'tid-2' });
    expect(await enr.updateScepTransaction('iot', 'tid-2', { status: 'pending', approvalId: 'ap-1' }, ['processing'])).toBe(true);
    expect(await enr.getScepTransaction('iot', 'tid-2')).toMatchObject({ status: 'pending', approvalId: 'ap-1', failInfo: null });
  });

  it('one-time challenges are consumed once, only on their label and before they expire', async () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const ch = { hash: 'h'.repeat(64), label: 'iot', subject: 'dev-1', sans: ['dns:dev-1.iot'], createdBy: 'cli:t', createdAt: now, expiresAt: new Date(now.getTime() + HOUR) };
    await enr.createScepChallenge(ch, ev('scep.challenge.create'));
    expect(await enr.getScepChallenge(ch.hash)).toMatchObject({ label: 'iot', subject: 'dev-1', sans: ['dns:dev-1.iot'], usedAt: null });
    expect(await enr.consumeScepChallenge(ch.hash, 'other', now, 'x')).toBe(false);
    expect(await enr.consumeScepChallenge(ch.hash, 'iot', new Date(now.getTime() + HOUR), 'x')).toBe(false); // expired
    const head = await headSeq();
    const results = fulfilled(await onNodes(6, (n, i) => n.enr.consumeScepChallenge(ch.hash, 'iot', now, `tx-${i}`, ev('scep.challenge.use'))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await headSeq()).toBe(head + 1); // only the winner's audit record
    expect((await enr.getScepChallenge(ch.hash))?.usedAt).toEqual(now);
    expect(await enr.getScepChallenge('0'.repeat(64))).toBeUndefined();
  });

  it('admin tokens are stored hashed with scopes and revoked once', async () => {
    const t = { id: 'a1b2c3d4e5f60718', hash: 'f'.repeat(64), scopes: ['scep-challenge:iot'], description: 'mdm', createdBy: 'cli:t', createdAt: new Date() };
    await enr.createAdminToken(t, ev('admin.token.create'));
    expect(await enr.getAdminToken(t.id)).toMatchObject({ scopes: ['scep-challenge:iot'], revokedAt: null, lastUsedAt: null });
    await enr.touchAdminToken(t.id, new Date('2026-06-01T00:00:00Z'));
    expect((await enr.getAdminToken(t.id))?.lastUsedAt).toEqual(new Date('2026-06-01T00:00:00Z'));
    expect((await enr.listAdminTokens()).map((x) => x.id)).toContain(t.id);
    const revoked = fulfilled(await onNodes(4, (n) => n.enr.revokeAdminToken(t.id, new Date())));
    expect(revoked.filter(Boolean)).toHaveLength(1);
    expect(await enr.revokeAdminToken('nope', new Date())).toBe(false);
    expect((await enr.getAdminToken(t.id))?.revokedAt).toBeInstanceOf(Date);
  });

  it('a SCEP transaction claimed from many nodes at once is created by exactly one, and all see its row', async () => {
    const tx = { label: 'iot', transactionId: 'tid-race', signerKey: 'k', csrHash: 'c', messageType: 19, status: 'processing' as const, serial: null, failInfo: null, approvalId: null, createdAt: new Date() };
    const rs = fulfilled(await onNodes(8, (n, i) => n.enr.claimScepTransaction({ ...tx, signerKey: `k${i}` })));
    expect(rs).toHaveLength(8);
    expect(rs.filter((r) => r.created)).toHaveLength(1);
    const winner = rs.find((r) => r.created)!.tx.signerKey;
    expect(rs.every((r) => r.tx.signerKey === winner)).toBe(true);
  });
});

describe('postgres acme repository', () => {
  it('links reused authorizations to new orders; validation readies every linked order; failure invalidates them', async () => {
    await acme.createAccount(acct('ra1'));
    expect(await acme.createOrder(order('ro1', 'ra1'), [authz('rz1', 'ro1', 'ra1', 'r.example')], [], { now: t0 })).toEqual({ status: 'pending' });
    const found = await acme.findReusableAuthz('ra1', { type: 'dns', value: 'r.example' }, false, { minExpires: t0, includePending: true });
    expect(found?.id).toBe('rz1');
    expect(found?.challenges.map((c) => c.id)).toEqual(['rz1-c', 'rz1-d']);
    expect(await acme.findReusableAuthz('ra1', { type: 'dns', value: 'r.example' }, false, { minExpires: t0, includePending: false })).toBeUndefined();
    expect(await acme.findReusableAuthz('ra1', { type: 'dns', value: 'r.example' }, true, { minExpires: t0, includePending: true })).toBeUndefined();
    expect(await acme.findReusableAuthz('other', { type: 'dns', value: 'r.example' }, false, { minExpires: t0, includePending: true })).toBeUndefined();
    expect(await acme.findReusableAuthz('ra1', { type: 'dns', value: 'r.example' }, false, { minExpires: new Date(t0.getTime() + 49 * HOUR), includePending: true })).toBeUndefined();
    expect((await acme.createOrder(order('ro2', 'ra1'), [authz('rz2', 'ro2', 'ra1', 's.example')], [], { now: t0, reuse: ['rz1'] })).status).toBe('pending');
    expect((await acme.listAuthzs('ro2')).map((a) => a.id)).toEqual(['rz2', 'rz1']);
    await expect(acme.createOrder(order('ro3', 'ra1'), [], [], { now: t0, reuse: ['nope'] })).rejects.toMatchObject({ kind: 'conflict' });
    await expect(acme.createOrder(order('ro3', 'ra1'), [], [], { now: new Date(t0.getTime() + 49 * HOUR), reuse: ['rz1'] })).rejects.toMatchObject({ kind: 'conflict' });
    expect(await acme.getOrder('ro3')).toBeUndefined();

    expect(await acme.startChallenge('rz1-c', t0)).toBe(true);
    expect(await acme.completeChallenge('rz1-c', { ok: true, validated: t0 }, ev('acme.challenge.validate'))).toBe(true);
    expect(await acme.completeChallenge('rz1-c', { ok: false, error: { type: 'x', detail: 'late' } })).toBe(false);
    expect((await acme.getOrder('ro1'))?.status).toBe('ready');
    expect((await acme.getOrder('ro2'))?.status).toBe('pending');
    expect((await acme.getChallenge('rz1-c'))?.validated).toEqual(t0);
    expect(await acme.startChallenge('rz1-d', t0)).toBe(false); // its authorization is valid already
    expect((await acme.createOrder(order('ro4', 'ra1'), [], [], { now: t0, reuse: ['rz1'] })).status).toBe('ready');

    await acme.startChallenge('rz2-c', t0);
    await acme.completeChallenge('rz2-c', { ok: false, error: { type: 'urn:ietf:params:acme:error:dns', detail: 'no' } });
    expect(await acme.getOrder('ro2')).toMatchObject({ status: 'invalid', error: { detail: 'no' } });
    expect(await acme.deactivateAuthz('rz1')).toBe(true);
    expect(await acme.deactivateAuthz('rz1')).toBe(false);
    expect((await acme.getOrder('ro1'))?.status).toBe('invalid');
    expect((await acme.getOrder('ro4'))?.status).toBe('invalid');
    expect(await acme.listOrderIds('ra1')).toEqual(['ro1', 'ro2', 'ro4']);
  });

  it('rate-limit counters: take refuses past the limit and rolls the action back; check and count', async () => {
    const lim = (mode?: 'take' | 'check' | 'count') => [{ key: 'k:acct', name: 'newAccountsPerIp', limit: 2, windowMs: HOUR, ...(mode ? { mode } : {}) }];
    await acme.createAccount(acct('la1'), [], undefined, { now: t0, limits: lim() });
    await acme.createAccount(acct('la2'), [], undefined, { now: t0, limits: lim('check') });
    await acme.createAccount(acct('la3'), [], undefined, { now: t0, limits: lim() });
    const before = await headSeq();
    const err = await acme.createAccount(acct('la4'), ev('acme.account.create'), undefined, { now: new Date(t0.getTime() + 60_000), limits: lim() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'rateLimited', retryAfter: 3540 });
    expect(await acme.getAccount('la4')).toBeUndefined();
    expect(await headSeq()).toBe(before);
    await expect(acme.createAccount(acct('la4'), [], undefined, { now: t0, limits: lim('check') })).rejects.toMatchObject({ kind: 'rateLimited' });
    await acme.createAccount(acct('la4'), [], undefined, { now: t0, limits: lim('count') });
    await acme.createAccount(acct('la5'), [], undefined, { now: new Date(t0.getTime() + HOUR), limits: lim() });
    await acme.createOrder(order('lo1', 'la1', { status: 'ready' }), []);
    const fin = [{ key: 'k:fin', name: 'certificatesPerDomain', limit: 1, windowMs: HOUR }];
    expect(await acme.updateOrder('lo1', ['pending'], { status: 'processing' }, [], { now: t0, limits: fin })).toBe(false);
    expect(await acme.updateOrder('lo1', ['ready'], { status: 'processing' }, [], { now: t0, limits: fin })).toBe(true);
    await acme.createOrder(order('lo2', 'la1', { status: 'ready' }), []);
    await expect(acme.updateOrder('lo2', ['ready'], { status: 'processing' }, [], { now: t0, limits: fin })).rejects.toMatchObject({ kind: 'rateLimited' });
    expect((await acme.getOrder('lo2'))?.status).toBe('ready');
  });

  it('processing leases for orders and challenges; stale ones are listed; certificates found by requester', async () => {
    await acme.createAccount(acct('pa1'));
    await acme.createOrder(order('po1', 'pa1', { status: 'ready' }), [authz('pz1', 'po1', 'pa1', 'p.example')]);
    const csr = Buffer.from([0x30, 0x01, 0x02]);
    expect(await acme.updateOrder('po1', ['ready'], { status: 'processing', csr, claimedUntil: new Date(t0.getTime() + 1000) })).toBe(true);
    expect((await acme.getOrder('po1'))?.csr?.equals(csr)).toBe(true);
    expect(await acme.listStaleOrders(t0, 10)).not.toContain('po1');
    expect(await acme.claimOrder('po1', t0, new Date(t0.getTime() + 5000))).toBeUndefined();
    const later = new Date(t0.getTime() + 2000);
    expect(await acme.listStaleOrders(later, 10)).toContain('po1');
    expect(await acme.claimOrder('po1', later, new Date(later.getTime() + 5000))).toBe(1);
    expect(await acme.claimOrder('po1', later, new Date(later.getTime() + 5000))).toBeUndefined();
    expect(await acme.updateOrder('po1', ['processing'], { status: 'valid', certSerial: '0d01', csr: null, claimedUntil: null })).toBe(true);
    expect(await acme.getOrder('po1')).toMatchObject({ csr: null, certSerial: '0d01' });
    expect((await acme.getOrderByCertSerial('0d01'))?.id).toBe('po1');
    expect(await acme.claimOrder('po1', later, later)).toBeUndefined();

    await acme.startChallenge('pz1-c', t0);
    expect(await acme.listStaleChallenges(t0, new Date(t0.getTime() - 1), 10)).not.toContain('pz1-c');
    expect(await acme.listStaleChallenges(t0, new Date(t0.getTime() + 1), 10)).toContain('pz1-c');
    expect(await acme.claimChallenge('pz1-c', t0, new Date(t0.getTime() + 1000))).toBe(1);
    expect(await acme.listStaleChallenges(t0, new Date(t0.getTime() + 1), 10)).not.toContain('pz1-c');
    expect(await acme.claimChallenge('pz1-c', later, new Date(later.getTime() + 1000))).toBe(2);
    expect(await acme.listProcessingChallenges(100)).toContain('pz1-c');

    await pools[0]!.query(
      `INSERT INTO certificates (serial, issuer_id, subject, sans, not_before, not_after, profile, requester, protocol, status, der, created_at)
       VALUES ('0d0d02', 'i', 'CN=x', '[]', 0, 0, 'p', 'acme:pa1/order/po9', 'acme', 'valid', '\\x3000', 0)`,
    );
    expect(await acme.findSerialByRequester('acme:pa1/order/po9')).toBe('0d0d02');
    expect(await acme.findSerialByRequester('acme:pa1/order/none')).toBeUndefined();
  });

  it('accounts: EAB keys, key rollover (a key in use elsewhere is a conflict), replacement orders', async () => {
    await acme.createEabKey({ kid: 'kid-1', provisioner: 'acme', hmacKey: Buffer.alloc(32, 7), createdAt: t0, accountId: null, usedAt: null }, ev('acme.eab.create'));
    expect(await acme.getEabKey('kid-1')).toMatchObject({ provisioner: 'acme', accountId: null, usedAt: null });
    expect((await acme.getEabKey('kid-1'))?.hmacKey.equals(Buffer.alloc(32, 7))).toBe(true);
    await expect(acme.createAccount(acct('ea0'), [], { kid: 'kid-1', provisioner: 'other' })).rejects.toMatchObject({ kind: 'unauthorized' });
    expect(await acme.getAccount('ea0')).toBeUndefined();
    await acme.createAccount(acct('ea1'), ev('acme.account.create'), { kid: 'kid-1', provisioner: 'acme' });
    expect(await acme.getEabKey('kid-1')).toMatchObject({ accountId: 'ea1', usedAt: t0 });
    await acme.createAccount(acct('ea2'));
    await acme.updateAccount('ea1', { contact: ['mailto:a@example.com'], status: 'deactivated' }, ev('acme.account.update'));
    expect(await acme.getAccountByThumbprint('tp-ea1')).toMatchObject({ id: 'ea1', contact: ['mailto:a@example.com'], status: 'deactivated', provisioner: 'acme' });
    await expect(acme.updateAccount('ea1', { jwk: { kty: 'EC' }, thumbprint: 'tp-ea2' })).rejects.toMatchObject({ kind: 'conflict', code: 'acme.keyInUse' });
    await acme.updateAccount('ea1', { jwk: { kty: 'EC' }, thumbprint: 'tp-new' });
    expect(await acme.getAccount('ea1')).toMatchObject({ thumbprint: 'tp-new', jwk: { kty: 'EC' } });
    await acme.createOrder(order('eo1', 'ea2', { status: 'valid', replaces: '0e01' }), []);
    await acme.createOrder(order('eo2', 'ea2', { status: 'pending', replaces: '0e02' }), []);
    expect((await acme.getValidOrderReplacing('0e01'))?.id).toBe('eo1');
    expect(await acme.getValidOrderReplacing('0e02')).toBeUndefined();
  });

  it('used nonces are accepted once; shared secrets are created once and the same on every node', async () => {
    const exp = new Date(Date.now() + HOUR);
    expect(await acme.useNonce('n-contract-2', exp)).toBe(true);
    const [a, b] = await Promise.all([acme.sharedSecret('contract-secret'), acmeB.sharedSecret('contract-secret')]);
    expect(a.length).toBe(32);
    expect(a.equals(b)).toBe(true);
    expect((await pgAcmeRepository(pools[1]!).sharedSecret('contract-secret')).equals(a)).toBe(true);
    expect((await acme.sharedSecret('other-secret')).equals(a)).toBe(false);
  });
});

describe('postgres acme repository housekeeping', () => {
  it('expired used nonces and rate counters are pruned every 500 writes', async () => {
    const count = async (sql: string) => Number((await pools[0]!.query<{ n: string }>(sql)).rows[0]!.n);
    const fresh = pgAcmeRepository(pools[1]!);
    const past = new Date(Date.now() - 1000);
    for (let i = 0; i < 499; i++) await fresh.useNonce(`old-${i}`, past);
    expect(await count("SELECT COUNT(*) AS n FROM acme_used_nonces WHERE nonce LIKE 'old-%'")).toBe(499);
    expect(await fresh.useNonce('new-0', new Date(Date.now() + HOUR))).toBe(true); // the 500th write prunes first
    expect(await count("SELECT COUNT(*) AS n FROM acme_used_nonces WHERE nonce LIKE 'old-%'")).toBe(0);

    await acme.createAccount(acct('pr-old'), [], undefined, { now: new Date(t0.getTime() - 10 * HOUR), limits: [{ key: 'k:old', name: 'x', limit: 1, windowMs: HOUR }] });
    const lim = [{ key: 'k:prune', name: 'x', limit: 1, windowMs: HOUR, mode: 'count' as const }];
    for (let i = 0; i < 500; i++) await acme.createAccount(acct(`pr-${i}`), [], undefined, { now: t0, limits: lim });
    expect(await count("SELECT COUNT(*) AS n FROM acme_rate_counters WHERE key = 'k:old'")).toBe(0);
    expect(await count("SELECT count AS n FROM acme_rate_counters WHERE key = 'k:prune'")).toBe(500);
  });
});

describe('postgres acme repository across nodes', () => {
  it('a nonce sent to several nodes at once is accepted exactly once', async () => {
    const exp = new Date(Date.now() + HOUR);
    for (let round = 0; round < 5; round++) {
      const rs = fulfilled(await onNodes(6, (n) => n.acme.useNonce(`n-race-${round}`, exp)));
      expect(rs).toHaveLength(6);
      expect(rs.filter(Boolean)).toHaveLength(1);
    }
  });

  it('a challenge or order lease is taken by exactly one node; one result is recorded', async () => {
    await acme.createAccount(acct('ca1'));
    await acme.createOrder(order('co1', 'ca1'), [authz('cz1', 'co1', 'ca1', 'c.example')]);
    expect(fulfilled(await onNodes(4, (n) => n.acme.startChallenge('cz1-c', t0))).filter(Boolean)).toHaveLength(1);
    const until = new Date(t0.getTime() + 60_000);
    const claims = fulfilled(await onNodes(6, (n) => n.acme.claimChallenge('cz1-c', t0, until)));
    expect(claims.filter((x) => x !== undefined)).toEqual([1]);
    const head = await headSeq();
    const done = fulfilled(await onNodes(4, (n, i) => n.acme.completeChallenge('cz1-c', i % 2 ? { ok: true, validated: t0 } : { ok: false, error: { type: 'x', detail: 'no' } }, ev('acme.challenge.validate'))));
    expect(done.filter(Boolean)).toHaveLength(1);
    expect(await headSeq()).toBe(head + 1);

    await acme.createOrder(order('co2', 'ca1', { status: 'ready' }), []);
    const moved = fulfilled(await onNodes(4, (n) => n.acme.updateOrder('co2', ['ready'], { status: 'processing', claimedUntil: t0 }, ev('acme.order.finalize'))));
    expect(moved.filter(Boolean)).toHaveLength(1);
    const later = new Date(t0.getTime() + 1);
    const orderClaims = fulfilled(await onNodes(6, (n) => n.acme.claimOrder('co2', later, until)));
    expect(orderClaims.filter((x) => x !== undefined)).toEqual([1]);
  });

  it('the last two authorizations of an order validated on two nodes at once still ready the order', async () => {
    await acme.createAccount(acct('ta1'));
    for (let i = 0; i < 8; i++) {
      const o = `to${i}`;
      await acme.createOrder(order(o, 'ta1'), [authz(`${o}a`, o, 'ta1', `a${i}.example`), authz(`${o}b`, o, 'ta1', `b${i}.example`)]);
      await acme.startChallenge(`${o}a-c`, t0);
      await acmeB.startChallenge(`${o}b-c`, t0);
      const rs = await Promise.all([acme.completeChallenge(`${o}a-c`, { ok: true, validated: t0 }), acmeB.completeChallenge(`${o}b-c`, { ok: true, validated: t0 })]);
      expect(rs).toEqual([true, true]);
      expect((await acme.getOrder(o))?.status).toBe('ready');
    }
  });

  it('an order reusing an authorization that another node deactivates meanwhile is refused or ends invalid', async () => {
    await acme.createAccount(acct('da1'));
    for (let i = 0; i < 8; i++) {
      await acme.createOrder(order(`dbase${i}`, 'da1'), [authz(`dz${i}`, `dbase${i}`, 'da1', `d${i}.example`)]);
      const [created, deactivated] = await Promise.allSettled([
        acme.createOrder(order(`dnew${i}`, 'da1'), [], [], { now: t0, reuse: [`dz${i}`] }),
        acmeB.deactivateAuthz(`dz${i}`),
      ]);
      expect(deactivated).toEqual({ status: 'fulfilled', value: true });
      if (created.status === 'rejected') expect(created.reason).toMatchObject({ kind: 'conflict', code: 'acme.authzChanged' });
      else expect((await acme.getOrder(`dnew${i}`))?.status).toBe('invalid');
    }
  });

  it('an order reusing an authorization that another node validates meanwhile ends ready', async () => {
    await acme.createAccount(acct('va1'));
    for (let i = 0; i < 8; i++) {
      await acme.createOrder(order(`vbase${i}`, 'va1'), [authz(`vz${i}`, `vbase${i}`, 'va1', `v${i}.example`)]);
      await acme.startChallenge(`vz${i}-c`, t0);
      const [created, done] = await Promise.all([
        acme.createOrder(order(`vnew${i}`, 'va1'), [], [], { now: t0, reuse: [`vz${i}`] }),
        acmeB.completeChallenge(`vz${i}-c`, { ok: true, validated: t0 }),
      ]);
      expect(done).toBe(true);
      expect(created.status === 'ready' || created.status === 'pending').toBe(true);
      expect((await acme.getOrder(`vnew${i}`))?.status).toBe('ready');
    }
  });

  it('rate-limit counters and EAB keys hold across nodes: exactly the allowed number of actions pass', async () => {
    const lim = [{ key: 'k:race', name: 'newAccountsPerIp', limit: 3, windowMs: HOUR }];
    const rs = await onNodes(10, (n, i) => n.acme.createAccount(acct(`rl${i}`), ev('acme.account.create'), undefined, { now: t0, limits: lim }));
    expect(rs.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(rs.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.kind === 'rateLimited')).toBe(true);

    // A finalization counts each of its domains; orders naming them in opposite orders never deadlock.
    await acme.createAccount(acct('fa1'));
    for (let i = 0; i < 8; i++) await acme.createOrder(order(`fo${i}`, 'fa1', { status: 'ready' }), []);
    const doms = ['k:dom-a', 'k:dom-b', 'k:dom-c'].map((key) => ({ key, name: 'certificatesPerDomain', limit: 100, windowMs: HOUR }));
    const fins = await onNodes(8, (n, i) => n.acme.updateOrder(`fo${i}`, ['ready'], { status: 'processing' }, [], { now: t0, limits: i % 2 ? [...doms].reverse() : doms }));
    expect(fins).toEqual(Array(8).fill({ status: 'fulfilled', value: true }));

    await acme.createEabKey({ kid: 'kid-race', provisioner: 'acme', hmacKey: Buffer.alloc(32, 1), createdAt: t0, accountId: null, usedAt: null });
    const bound = await onNodes(6, (n, i) => n.acme.createAccount(acct(`eb${i}`), [], { kid: 'kid-race', provisioner: 'acme' }));
    expect(bound.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(bound.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.kind === 'unauthorized')).toBe(true);
  });

  it('every audit record written from both nodes forms one verifiable chain', async () => {
    await onNodes(20, (n, i) => n.enr.createAdminToken({ id: `chain-${i}`, hash: 'a'.repeat(64), scopes: [], description: null, createdBy: 't', createdAt: new Date() }, ev('admin.token.create')));
    const rows = (await pools[0]!.query('SELECT * FROM audit_events ORDER BY seq')).rows as Record<string, unknown>[];
    expect(rows.length).toBeGreaterThan(20);
    let prev = '0'.repeat(64);
    rows.forEach((r, i) => {
      expect(Number(r.seq)).toBe(i + 1);
      const base = { seq: Number(r.seq), time: r.time as string, actor: r.actor as string, action: r.action as string, object: r.object as string,
        result: r.result as 'ok', reason: (r.reason as string | null) ?? null, data: r.data ? JSON.parse(r.data as string) : null, prevHash: r.prev_hash as string };
      expect(base.prevHash).toBe(prev);
      expect(hashAuditRecord(base)).toBe(r.hash);
      prev = r.hash as string;
    });
  });
});
