/** The repository contract every store implementation passes (SQLite now, PostgreSQL in the HA issue). */
import { describe, expect, it } from 'vitest';
import { hashAuditRecord, type CertificateRecord, type Store } from '../../src/store/index.js';

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
}
