/** The repository contract every store implementation passes (SQLite now, PostgreSQL in the HA issue). */
import { describe, expect, it } from 'vitest';
import { hashAuditRecord, type CertificateRecord, type Store } from '../../src/store/index.js';
import type { AcmeAuthzRecord, AcmeOrderRecord } from '../../src/store/acme-types.js';

export function cert(serial: string, over: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    serial,
    issuerId: 'issuing',
    subject: 'CN=test',
    sans: ['dns:test.internal'],
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-12-31T00:00:00Z'),
    profile: 'tls-server',
    requester: 'test',
    protocol: 'cli',
    status: 'valid',
    revokedAt: null,
    revocationReason: null,
    der: Buffer.from([0x30, 0x00]),
    createdAt: new Date('2026-01-01T00:00:00Z'),
    replaces: null,
    ...over,
  };
}

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    it('inserts and reads certificates, rejects duplicate serials', async () => {
      const s = await open();
      await s.certificates.insert(cert('0a01'), [{ actor: 't', action: 'certificate.issue', object: 'certificate:0a01', result: 'ok' }]);
      const got = await s.certificates.get('0a01');
      expect(got?.sans).toEqual(['dns:test.internal']);
      expect(got?.der.equals(Buffer.from([0x30, 0x00]))).toBe(true);
      await expect(s.certificates.insert(cert('0a01'))).rejects.toMatchObject({ kind: 'conflict', code: 'store.duplicateSerial' });
      await s.close();
    });

    it('commits concurrent writes in groups, each with its audit record', async () => {
      const s = await open();
      const before = (await s.audit.head())?.seq ?? 0;
      await Promise.all(Array.from({ length: 50 }, (_, i) => s.certificates.insert(cert(`1b${i.toString(16).padStart(2, '0')}`), [{ actor: 't', action: 'certificate.issue', object: `c${i}`, result: 'ok' }])));
      const after = await s.audit.head();
      expect(after!.seq - before).toBe(50);
      // A failing write in a batch does not take the others down.
      const results = await Promise.allSettled([s.certificates.insert(cert('1b00')), s.certificates.insert(cert('1cff'))]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
      await s.close();
    });

    it('changes status only from the expected statuses', async () => {
      const s = await open();
      await s.certificates.insert(cert('2c01'));
      const audit = [{ actor: 't', action: 'certificate.revoke', object: 'certificate:2c01', result: 'ok' as const }];
      expect(await s.certificates.setStatus({ serial: '2c01', status: 'revoked', revokedAt: new Date(), reason: 1, fromStatuses: ['valid'] }, audit)).toBe(true);
      const head = await s.audit.head();
      expect(await s.certificates.setStatus({ serial: '2c01', status: 'revoked', revokedAt: new Date(), reason: 1, fromStatuses: ['valid'] }, audit)).toBe(false);
      expect((await s.audit.head())!.seq).toBe(head!.seq); // no audit record for a change that did not happen
      expect((await s.certificates.get('2c01'))?.revocationReason).toBe(1);
      await s.close();
    });

    it('filters certificates by expiry and status', async () => {
      const s = await open();
      const now = new Date('2026-06-01T00:00:00Z');
      await s.certificates.insert(cert('3d01', { notAfter: new Date('2026-06-05T00:00:00Z') }));
      await s.certificates.insert(cert('3d02', { notAfter: new Date('2026-09-01T00:00:00Z') }));
      const soon = await s.certificates.list({ expiringBefore: new Date('2026-07-01T00:00:00Z'), notExpiredAt: now });
      expect(soon.map((c) => c.serial)).toContain('3d01');
      expect(soon.map((c) => c.serial)).not.toContain('3d02');
      await s.certificates.insert(cert('3d03', { profile: 'ocsp-responder', issuerId: 'ca-3d' }));
      expect((await s.certificates.list({ issuerId: 'ca-3d', profile: 'ocsp-responder' })).map((c) => c.serial)).toEqual(['3d03']);
      expect(await s.certificates.list({ issuerId: 'ca-3d', profile: 'tls-server' })).toEqual([]);
      const buckets = await s.certificates.countByExpiry(now, [7, 30]);
      expect(buckets['7d']).toBeGreaterThanOrEqual(1);
      await s.close();
    });

    it('chains audit records and stores checkpoints', async () => {
      const s = await open();
      const recs = await s.audit.append([
        { actor: 'a', action: 'x', object: 'o', result: 'ok', data: { n: 1 } },
        { actor: 'a', action: 'y', object: 'o', result: 'denied', reason: 'because' },
      ]);
      expect(recs[1]!.prevHash).toBe(recs[0]!.hash);
      const { hash, ...rest } = recs[1]!;
      expect(hashAuditRecord(rest)).toBe(hash);
      const range = await s.audit.range(recs[0]!.seq, 2);
      expect(range).toEqual(recs);
      await s.audit.addCheckpoint({ headSeq: recs[1]!.seq, headHash: recs[1]!.hash, time: new Date().toISOString(), keyUri: 'k', signature: 'AA==' });
      expect((await s.audit.checkpoints()).at(-1)?.headSeq).toBe(recs[1]!.seq);
      await s.close();
    });

    it('stores CAs', async () => {
      const s = await open();
      const now = new Date();
      await s.cas.upsert({ id: 'issuing', parentId: 'root', keyUri: 'file:x', certDer: Buffer.from([1]), subject: 'CN=i', ski: 'ab', notBefore: now, notAfter: now, status: 'active', createdAt: now });
      expect((await s.cas.get('issuing'))?.parentId).toBe('root');
      expect((await s.cas.list()).length).toBeGreaterThanOrEqual(1);
      expect(await s.ping()).toBe(true);
      await s.close();
    });

    it('queues approvals idempotently and decides once', async () => {
      const s = await open();
      const req = { id: 'tx-1', protocol: 'scep' as const, label: 'default', profile: 'device', requester: 'scep:dev', subject: 'CN=dev', sans: [], csrDer: Buffer.from([1, 2]), createdAt: new Date(), extra: { nonce: 'n' } };
      const a = await s.approvals.submit(req, [{ actor: 'scep', action: 'approval.submit', object: 'approval:tx-1', result: 'ok' }]);
      expect(a.status).toBe('pending');
      expect((await s.approvals.submit({ ...req, subject: 'CN=other' })).subject).toBe('CN=dev');
      expect((await s.approvals.list('pending')).map((r) => r.id)).toContain('tx-1');
      expect(await s.approvals.markIssued('tx-1', 'ab')).toBe(false);
      expect(await s.approvals.decide('tx-1', 'approved', 'op', null)).toBe(true);
      expect(await s.approvals.decide('tx-1', 'rejected', 'op', 'late')).toBe(false);
      expect(await s.approvals.markIssued('tx-1', 'ab')).toBe(true);
      expect(await s.approvals.markIssued('tx-1', 'cd')).toBe(false);
      expect(await s.approvals.get('tx-1')).toMatchObject({ status: 'issued', serial: 'ab', decidedBy: 'op', extra: { nonce: 'n' } });
      await s.close();
    });
    it('enrollment: SCEP transactions are claimed once and change state only from the expected states', async () => {
      const s = await open();
      const tx = { label: 'iot', transactionId: 'tid-1', signerKey: 'k1', csrHash: 'c1', messageType: 19, status: 'processing' as const, serial: null, failInfo: null, approvalId: null, createdAt: new Date() };
      const a = await s.enrollment.claimScepTransaction(tx);
      expect(a.created).toBe(true);
      const b = await s.enrollment.claimScepTransaction({ ...tx, signerKey: 'k2' });
      expect(b).toMatchObject({ created: false, tx: { signerKey: 'k1', status: 'processing' } });
      expect((await s.enrollment.claimScepTransaction({ ...tx, label: 'other' })).created).toBe(true);
      const head = (await s.audit.head())?.seq ?? 0;
      expect(await s.enrollment.updateScepTransaction('iot', 'tid-1', { status: 'success', serial: 'ab' }, ['pending'])).toBe(false);
      expect(await s.enrollment.updateScepTransaction('iot', 'tid-1', { status: 'success', serial: 'ab' }, ['processing'], [{ actor: 't', action: 'scep.pkiOperation', object: 'x', result: 'ok' }])).toBe(true);
      expect((await s.audit.head())!.seq).toBe(head + 1);
      expect(await s.enrollment.getScepTransaction('iot', 'tid-1')).toMatchObject({ status: 'success', serial: 'ab', messageType: 19 });
      expect(await s.enrollment.updateScepTransaction('iot', 'tid-1', { status: 'processing', messageType: 17, csrHash: 'c2' }, ['success'])).toBe(true);
      expect(await s.enrollment.getScepTransaction('iot', 'tid-1')).toMatchObject({ status: 'processing', messageType: 17, csrHash: 'c2', serial: 'ab' });
      expect(await s.enrollment.deleteScepTransaction('iot', 'tid-1', ['success'])).toBe(false);
      expect(await s.enrollment.deleteScepTransaction('iot', 'tid-1', ['processing'])).toBe(true);
      expect(await s.enrollment.getScepTransaction('iot', 'tid-1')).toBeUndefined();
      await s.enrollment.claimScepTransaction({ ...tx, transactionId: 'tid-2' });
      expect(await s.enrollment.updateScepTransaction('iot', 'tid-2', { status: 'pending', approvalId: 'ap-1' }, ['processing'])).toBe(true);
      expect(await s.enrollment.getScepTransaction('iot', 'tid-2')).toMatchObject({ status: 'pending', approvalId: 'ap-1', failInfo: null });
      await s.close();
    });

    it('enrollment: one-time challenges are consumed once, only on their label and before they expire', async () => {
      const s = await open();
      const now = new Date('2026-06-01T00:00:00Z');
      const ch = { hash: 'h'.repeat(64), label: 'iot', subject: 'dev-1', sans: ['dns:dev-1.iot'], createdBy: 'cli:t', createdAt: now, expiresAt: new Date(now.getTime() + 3_600_000) };
      await s.enrollment.createScepChallenge(ch, [{ actor: 't', action: 'scep.challenge.create', object: 'c', result: 'ok' }]);
      expect(await s.enrollment.getScepChallenge(ch.hash)).toMatchObject({ label: 'iot', subject: 'dev-1', sans: ['dns:dev-1.iot'], usedAt: null });
      expect(await s.enrollment.consumeScepChallenge(ch.hash, 'other', now, 'x')).toBe(false);
      expect(await s.enrollment.consumeScepChallenge(ch.hash, 'iot', new Date(now.getTime() + 3_600_000), 'x')).toBe(false); // expired
      const results = await Promise.all([1, 2, 3].map((i) => s.enrollment.consumeScepChallenge(ch.hash, 'iot', now, `tx-${i}`)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await s.enrollment.getScepChallenge(ch.hash))?.usedAt).toEqual(now);
      expect(await s.enrollment.getScepChallenge('0'.repeat(64))).toBeUndefined();
      await s.close();
    });

    it('enrollment: admin tokens are stored hashed with scopes and revoked once', async () => {
      const s = await open();
      const t = { id: 'a1b2c3d4e5f60718', hash: 'f'.repeat(64), scopes: ['scep-challenge:iot'], description: 'mdm', createdBy: 'cli:t', createdAt: new Date() };
      await s.enrollment.createAdminToken(t, [{ actor: 't', action: 'admin.token.create', object: 'token:a1', result: 'ok' }]);
      expect(await s.enrollment.getAdminToken(t.id)).toMatchObject({ scopes: ['scep-challenge:iot'], revokedAt: null, lastUsedAt: null });
      await s.enrollment.touchAdminToken(t.id, new Date('2026-06-01T00:00:00Z'));
      expect((await s.enrollment.getAdminToken(t.id))?.lastUsedAt).toEqual(new Date('2026-06-01T00:00:00Z'));
      expect((await s.enrollment.listAdminTokens()).map((x) => x.id)).toContain(t.id);
      expect(await s.enrollment.revokeAdminToken(t.id, new Date())).toBe(true);
      expect(await s.enrollment.revokeAdminToken(t.id, new Date())).toBe(false);
      expect(await s.enrollment.revokeAdminToken('nope', new Date())).toBe(false);
      expect((await s.enrollment.getAdminToken(t.id))?.revokedAt).toBeInstanceOf(Date);
      await s.close();
    });
  });
  acmeRepositoryContract(name, open);
}

/** ACME repository methods (authorization reuse, rate-limit counters, processing leases). */
function acmeRepositoryContract(name: string, open: () => Promise<Store>): void {
  const HOUR = 3_600_000;
  const t0 = new Date('2026-03-01T10:00:00Z');
  const acct = (id: string) => ({ id, thumbprint: `tp-${id}`, jwk: { kty: 'OKP' }, contact: [], status: 'valid' as const, createdAt: t0, provisioner: 'acme' });
  const order = (id: string, accountId: string, over: Partial<AcmeOrderRecord> = {}): AcmeOrderRecord => ({
    id, accountId, status: 'pending', identifiers: [{ type: 'dns', value: `${id}.example` }], notBefore: null, notAfter: null,
    expires: new Date(t0.getTime() + 24 * HOUR), certSerial: null, error: null, profile: 'tls-server', replaces: null, createdAt: t0, ...over,
  });
  const authz = (id: string, orderId: string, accountId: string, value: string, over: Partial<AcmeAuthzRecord> = {}): AcmeAuthzRecord => ({
    id, orderId, accountId, identifier: { type: 'dns', value }, status: 'pending', expires: new Date(t0.getTime() + 48 * HOUR), wildcard: false,
    challenges: [{ id: `${id}-c`, authzId: id, type: 'http-01', token: `tok-${id}`, status: 'pending', validated: null, error: null }], ...over,
  });

  describe(`acme repository contract: ${name}`, () => {
    it('links reused authorizations to new orders; validation readies every linked order; failure invalidates them', async () => {
      const s = await open();
      await s.acme.createAccount(acct('ra1'));
      expect(await s.acme.createOrder(order('ro1', 'ra1'), [authz('rz1', 'ro1', 'ra1', 'r.example')], [], { now: t0 })).toEqual({ status: 'pending' });
      const found = await s.acme.findReusableAuthz('ra1', { type: 'dns', value: 'r.example' }, false, { minExpires: t0, includePending: true });
      expect(found?.id).toBe('rz1');
      expect(await s.acme.findReusableAuthz('ra1', { type: 'dns', value: 'r.example' }, false, { minExpires: t0, includePending: false })).toBeUndefined();
      expect(await s.acme.findReusableAuthz('ra1', { type: 'dns', value: 'r.example' }, true, { minExpires: t0, includePending: true })).toBeUndefined();
      expect(await s.acme.findReusableAuthz('other', { type: 'dns', value: 'r.example' }, false, { minExpires: t0, includePending: true })).toBeUndefined();
      expect(await s.acme.findReusableAuthz('ra1', { type: 'dns', value: 'r.example' }, false, { minExpires: new Date(t0.getTime() + 49 * HOUR), includePending: true })).toBeUndefined();
      // Second order: a fresh authorization for another name plus the reused one.
      expect((await s.acme.createOrder(order('ro2', 'ra1'), [authz('rz2', 'ro2', 'ra1', 's.example')], [], { now: t0, reuse: ['rz1'] })).status).toBe('pending');
      expect((await s.acme.listAuthzs('ro2')).map((a) => a.id)).toEqual(['rz2', 'rz1']);
      // Reusing an authorization that is not usable (unknown, other account, expired) writes nothing.
      await expect(s.acme.createOrder(order('ro3', 'ra1'), [], [], { now: t0, reuse: ['nope'] })).rejects.toMatchObject({ kind: 'conflict' });
      await expect(s.acme.createOrder(order('ro3', 'ra1'), [], [], { now: new Date(t0.getTime() + 49 * HOUR), reuse: ['rz1'] })).rejects.toMatchObject({ kind: 'conflict' });
      expect(await s.acme.getOrder('ro3')).toBeUndefined();

      expect(await s.acme.startChallenge('rz1-c', t0)).toBe(true);
      expect(await s.acme.completeChallenge('rz1-c', { ok: true, validated: t0 }, [{ actor: 't', action: 'acme.challenge.validate', object: 'c', result: 'ok' }])).toBe(true);
      // Not processing any more: a second result is not recorded.
      expect(await s.acme.completeChallenge('rz1-c', { ok: false, error: { type: 'x', detail: 'late' } })).toBe(false);
      expect((await s.acme.getOrder('ro1'))?.status).toBe('ready');
      expect((await s.acme.getOrder('ro2'))?.status).toBe('pending');
      // A new order made only of valid authorizations starts ready.
      expect((await s.acme.createOrder(order('ro4', 'ra1'), [], [], { now: t0, reuse: ['rz1'] })).status).toBe('ready');

      await s.acme.startChallenge('rz2-c', t0);
      await s.acme.completeChallenge('rz2-c', { ok: false, error: { type: 'urn:ietf:params:acme:error:dns', detail: 'no' } });
      expect((await s.acme.getOrder('ro2'))?.status).toBe('invalid');
      expect((await s.acme.getOrder('ro2'))?.error?.detail).toBe('no');
      // Deactivating the shared one invalidates every pending/ready linked order.
      expect(await s.acme.deactivateAuthz('rz1')).toBe(true);
      expect((await s.acme.getOrder('ro1'))?.status).toBe('invalid');
      expect((await s.acme.getOrder('ro4'))?.status).toBe('invalid');
      await s.close();
    });

    it('rate-limit counters: take refuses past the limit and rolls the action back; check and count', async () => {
      const s = await open();
      const lim = (mode?: 'take' | 'check' | 'count') => [{ key: 'k:acct', name: 'newAccountsPerIp', limit: 2, windowMs: HOUR, ...(mode ? { mode } : {}) }];
      await s.acme.createAccount(acct('la1'), [], undefined, { now: t0, limits: lim() });
      await s.acme.createAccount(acct('la2'), [], undefined, { now: t0, limits: lim('check') }); // not counted
      await s.acme.createAccount(acct('la3'), [], undefined, { now: t0, limits: lim() });
      const before = (await s.audit.head())?.seq ?? 0;
      const err = await s.acme.createAccount(acct('la4'), [{ actor: 't', action: 'acme.account.create', object: 'x', result: 'ok' }], undefined, { now: new Date(t0.getTime() + 60_000), limits: lim() }).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'rateLimited' });
      // Retry-After: to the end of the fixed window (t0 is on an hour boundary; one minute into it).
      expect((err as { retryAfter: number }).retryAfter).toBe(3540);
      expect(await s.acme.getAccount('la4')).toBeUndefined();
      expect((await s.audit.head())?.seq ?? 0).toBe(before);
      await expect(s.acme.createAccount(acct('la4'), [], undefined, { now: t0, limits: lim('check') })).rejects.toMatchObject({ kind: 'rateLimited' });
      await s.acme.createAccount(acct('la4'), [], undefined, { now: t0, limits: lim('count') }); // counted, never refused
      // The next window starts from zero.
      await s.acme.createAccount(acct('la5'), [], undefined, { now: new Date(t0.getTime() + HOUR), limits: lim() });
      // updateOrder counts only when the transition happens.
      await s.acme.createOrder(order('lo1', 'la1', { status: 'ready' }), []);
      const fin = [{ key: 'k:fin', name: 'certificatesPerDomain', limit: 1, windowMs: HOUR }];
      expect(await s.acme.updateOrder('lo1', ['pending'], { status: 'processing' }, [], { now: t0, limits: fin })).toBe(false);
      expect(await s.acme.updateOrder('lo1', ['ready'], { status: 'processing' }, [], { now: t0, limits: fin })).toBe(true);
      await s.acme.createOrder(order('lo2', 'la1', { status: 'ready' }), []);
      await expect(s.acme.updateOrder('lo2', ['ready'], { status: 'processing' }, [], { now: t0, limits: fin })).rejects.toMatchObject({ kind: 'rateLimited' });
      expect((await s.acme.getOrder('lo2'))?.status).toBe('ready');
      await s.close();
    });

    it('processing leases for orders and challenges; stale ones are listed; certificates found by requester', async () => {
      const s = await open();
      await s.acme.createAccount(acct('pa1'));
      await s.acme.createOrder(order('po1', 'pa1', { status: 'ready' }), [authz('pz1', 'po1', 'pa1', 'p.example')]);
      const csr = Buffer.from([0x30, 0x01, 0x02]);
      expect(await s.acme.updateOrder('po1', ['ready'], { status: 'processing', csr, claimedUntil: new Date(t0.getTime() + 1000) })).toBe(true);
      expect((await s.acme.getOrder('po1'))?.csr?.equals(csr)).toBe(true);
      expect(await s.acme.listStaleOrders(t0, 10)).not.toContain('po1');
      expect(await s.acme.claimOrder('po1', t0, new Date(t0.getTime() + 5000))).toBeUndefined();
      const later = new Date(t0.getTime() + 2000);
      expect(await s.acme.listStaleOrders(later, 10)).toContain('po1');
      expect(await s.acme.claimOrder('po1', later, new Date(later.getTime() + 5000))).toBe(1);
      expect(await s.acme.claimOrder('po1', later, new Date(later.getTime() + 5000))).toBeUndefined();
      expect(await s.acme.updateOrder('po1', ['processing'], { status: 'valid', certSerial: '0d01', csr: null, claimedUntil: null })).toBe(true);
      expect((await s.acme.getOrder('po1'))?.csr).toBeNull();
      expect(await s.acme.claimOrder('po1', later, later)).toBeUndefined();

      // Challenges: started without a lease → stale after the grace; leased → stale after the lease.
      await s.acme.startChallenge('pz1-c', t0);
      expect(await s.acme.listStaleChallenges(t0, new Date(t0.getTime() - 1), 10)).not.toContain('pz1-c');
      expect(await s.acme.listStaleChallenges(t0, new Date(t0.getTime() + 1), 10)).toContain('pz1-c');
      expect(await s.acme.claimChallenge('pz1-c', t0, new Date(t0.getTime() + 1000))).toBe(1);
      expect(await s.acme.listStaleChallenges(t0, new Date(t0.getTime() + 1), 10)).not.toContain('pz1-c');
      expect(await s.acme.claimChallenge('pz1-c', later, new Date(later.getTime() + 1000))).toBe(2);
      expect(await s.acme.listProcessingChallenges(100)).toContain('pz1-c');

      await s.certificates.insert(cert('0d0d02', { requester: 'acme:pa1/order/po9' }));
      expect(await s.acme.findSerialByRequester('acme:pa1/order/po9')).toBe('0d0d02');
      expect(await s.acme.findSerialByRequester('acme:pa1/order/none')).toBeUndefined();
      await s.close();
    });

    it('used nonces are accepted once; shared secrets are created once and the same for every opener', async () => {
      const s = await open();
      const exp = new Date(Date.now() + HOUR);
      const results = await Promise.all([s.acme.useNonce('n-contract-1', exp), s.acme.useNonce('n-contract-1', exp), s.acme.useNonce('n-contract-1', exp)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await s.acme.useNonce('n-contract-2', exp)).toBe(true);
      const [a, b] = await Promise.all([s.acme.sharedSecret('contract-secret'), s.acme.sharedSecret('contract-secret')]);
      expect(a.length).toBe(32);
      expect(a.equals(b)).toBe(true);
      await s.close();
      const s2 = await open();
      expect((await s2.acme.sharedSecret('contract-secret')).equals(a)).toBe(true);
      expect((await s2.acme.sharedSecret('other-secret')).equals(a)).toBe(false);
      await s2.close();
    });
  });
}
