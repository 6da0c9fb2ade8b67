/**
 * store/sqlite/revocation.ts: CRL numbers are monotonic and persisted; only newer CRLs replace older
 * ones; revoked entries are paged by serial; the revoked-set digest moves with every change.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/index.js';
import type { CertificateRecord } from '../../../src/store/types.js';
import { tempDir } from '../../helpers/tmp.js';

const tmp = tempDir('flintca-revrepo-');
afterAll(() => tmp.cleanup());

describe('SQLite revocation repository', () => {
  it('increments CRL numbers atomically per CA and across reopen', async () => {
    const file = join(tmp.path, 'a.db');
    let s = SqliteStore.open(file);
    const nums = await Promise.all(Array.from({ length: 20 }, () => s.revocation.nextCrlNumber('issuing')));
    expect(nums.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await s.revocation.nextCrlNumber('root')).toBe(1n);
    await s.close();
    s = SqliteStore.open(file);
    expect(await s.revocation.nextCrlNumber('issuing')).toBe(21n);
    await s.close();
  });

  it('stores the latest CRL per (CA, kind) and never goes back to an older number', async () => {
    const s = SqliteStore.open(join(tmp.path, 'b.db'));
    const base = { caId: 'issuing', kind: 'full' as const, baseNumber: null, thisUpdate: new Date(1000), nextUpdate: new Date(2000), sourceHash: 'h' };
    expect(await s.revocation.latestCrl('issuing', 'full')).toBeUndefined();
    await s.revocation.saveCrl({ ...base, number: 5n, der: Buffer.from('five') });
    await s.revocation.saveCrl({ ...base, number: 4n, der: Buffer.from('four') });
    const got = await s.revocation.latestCrl('issuing', 'full');
    expect(got?.number).toBe(5n);
    expect(got?.der.toString()).toBe('five');
    expect(got?.thisUpdate.getTime()).toBe(1000);
    await s.revocation.saveCrl({ ...base, kind: 'delta', baseNumber: 5n, number: 6n, der: Buffer.from('d') });
    expect((await s.revocation.latestCrl('issuing', 'delta'))?.baseNumber).toBe(5n);
    // newerThan: nothing (and no DER read) unless the stored number is greater.
    expect(await s.revocation.latestCrl('issuing', 'full', 5n)).toBeUndefined();
    expect((await s.revocation.latestCrl('issuing', 'full', 4n))?.number).toBe(5n);
    expect(await s.revocation.latestCrl('issuing', 'p0', 0n)).toBeUndefined();
    await s.close();
  });

  it('pages revoked/held entries by serial with a notAfter cutoff; the digest moves with every revocation change only', async () => {
    const s = SqliteStore.open(join(tmp.path, 'c.db'));
    const now = Date.now();
    const cert = (serial: string, over: Partial<CertificateRecord> = {}): CertificateRecord => ({
      serial, issuerId: 'issuing', subject: 'CN=x', sans: [], notBefore: new Date(now - 1000), notAfter: new Date(now + 86400_000), profile: 'p', requester: 'r', protocol: 'cli',
      status: 'revoked', revokedAt: new Date(now - 500), revocationReason: 1, der: Buffer.from('00', 'hex'), createdAt: new Date(now - 1000), replaces: null, ...over,
    });
    for (let i = 0; i < 25; i++) await s.certificates.insert(cert((0x100 + i).toString(16)));
    await s.certificates.insert(cert('aa', { status: 'hold', revocationReason: null }));
    await s.certificates.insert(cert('bb', { status: 'valid', revokedAt: null, revocationReason: null }));
    await s.certificates.insert(cert('cc', { notAfter: new Date(now - 60_000) })); // expired a minute ago
    await s.certificates.insert(cert('dd', { issuerId: 'other' }));
    const all: string[] = [];
    for (let after: string | null = null; ; ) {
      const page = await s.revocation.revokedPage('issuing', new Date(now), after, 10);
      all.push(...page.map((e) => e.serial));
      if (page.length < 10) break;
      after = page[page.length - 1]!.serial;
    }
    expect(all).toEqual([...Array.from({ length: 25 }, (_, i) => (0x100 + i).toString(16)), 'aa'].sort());
    const cutoffEarlier = await s.revocation.revokedPage('issuing', new Date(now - 120_000), null, 100);
    expect(cutoffEarlier.map((e) => e.serial)).toContain('cc');
    expect(cutoffEarlier.find((e) => e.serial === 'aa')).toMatchObject({ status: 'hold', reason: null });

    const digests = [await s.revocation.revokedDigest('issuing')];
    const step = async (what: () => Promise<unknown>) => (await what(), digests.push(await s.revocation.revokedDigest('issuing')));
    await step(() => s.certificates.insert(cert('ee', { status: 'valid', revokedAt: null, revocationReason: null }))); // unrelated: same digest
    expect(digests[1]).toBe(digests[0]);
    await step(() => s.certificates.setStatus({ serial: 'bb', status: 'revoked', revokedAt: new Date(now), reason: 4, fromStatuses: ['valid'] }));
    await step(() => s.certificates.setStatus({ serial: 'aa', status: 'revoked', revokedAt: new Date(now - 500), reason: 1, fromStatuses: ['hold'] })); // hold → revoked
    await step(() => s.certificates.setStatus({ serial: 'ee', status: 'hold', revokedAt: new Date(now), reason: 6, fromStatuses: ['valid'] }));
    await step(() => s.certificates.setStatus({ serial: 'ee', status: 'valid', revokedAt: null, reason: null, fromStatuses: ['hold'] })); // released
    for (let i = 2; i < digests.length; i++) expect(digests[i], `step ${i}`).not.toBe(digests[i - 1]);
    expect(digests[5]).toBe(digests[3]); // released: the same set as before the hold
    expect(await s.revocation.revokedDigest('nobody')).toBe('0:0:0:0:0');
    await s.close();
  });
});
