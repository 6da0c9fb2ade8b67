/** The revocation repository contract (CRL paging, revoked-set digest, latest CRL), SQLite and PostgreSQL alike. */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { cert } from './store-contract.js';

export function revocationContract(name: string, open: () => Promise<Store>): void {
  describe(`revocation repository contract: ${name}`, () => {
    it('pages revoked/held entries by serial with a notAfter cutoff; the digest moves with every revocation change only', async () => {
      const s = await open();
      const ca = `rc-${name}`; // its own CA: the database may be shared with other tests
      const now = Date.now();
      const c = (serial: string, over: Parameters<typeof cert>[1] = {}) =>
        cert(serial, { issuerId: ca, notBefore: new Date(now - 1000), notAfter: new Date(now + 86400_000), status: 'revoked', revokedAt: new Date(now - 500), revocationReason: 1, ...over });
      const base = 0x7e0000;
      for (let i = 0; i < 25; i++) await s.certificates.insert(c((base + i).toString(16)));
      await s.certificates.insert(c('7eaa', { status: 'hold', revocationReason: null }));
      await s.certificates.insert(c('7ebb', { status: 'valid', revokedAt: null, revocationReason: null }));
      await s.certificates.insert(c('7ecc', { notAfter: new Date(now - 60_000) })); // expired a minute ago
      await s.certificates.insert(c('7edd', { issuerId: `${ca}-other` }));
      const all: string[] = [];
      for (let after: string | null = null; ; ) {
        const page = await s.revocation.revokedPage(ca, new Date(now), after, 10);
        all.push(...page.map((e) => e.serial));
        if (page.length < 10) break;
        after = page[page.length - 1]!.serial;
      }
      expect(all).toEqual([...Array.from({ length: 25 }, (_, i) => (base + i).toString(16)), '7eaa'].sort());
      const earlier = await s.revocation.revokedPage(ca, new Date(now - 120_000), null, 100);
      expect(earlier.map((e) => e.serial)).toContain('7ecc');
      expect(earlier.find((e) => e.serial === '7eaa')).toMatchObject({ status: 'hold', reason: null });
      expect(earlier.find((e) => e.serial === '7ecc')?.revokedAt.getTime()).toBe(now - 500);

      const digests = [await s.revocation.revokedDigest(ca)];
      const step = async (what: () => Promise<unknown>) => (await what(), digests.push(await s.revocation.revokedDigest(ca)));
      await step(() => s.certificates.insert(c('7eee', { status: 'valid', revokedAt: null, revocationReason: null }))); // unrelated: same digest
      expect(digests[1]).toBe(digests[0]);
      await step(() => s.certificates.setStatus({ serial: '7ebb', status: 'revoked', revokedAt: new Date(now), reason: 4, fromStatuses: ['valid'] }));
      await step(() => s.certificates.setStatus({ serial: '7eaa', status: 'revoked', revokedAt: new Date(now - 500), reason: 1, fromStatuses: ['hold'] })); // hold → revoked
      await step(() => s.certificates.setStatus({ serial: '7eee', status: 'hold', revokedAt: new Date(now), reason: 6, fromStatuses: ['valid'] }));
      await step(() => s.certificates.setStatus({ serial: '7eee', status: 'valid', revokedAt: null, reason: null, fromStatuses: ['hold'] })); // released
      for (let i = 2; i < digests.length; i++) expect(digests[i], `step ${i}`).not.toBe(digests[i - 1]);
      expect(digests[5]).toBe(digests[3]); // released: the same set as before the hold
      expect(await s.revocation.revokedDigest(`${ca}-none`)).toBe('0:0:0:0:0');
      await s.close();
    });

    it('reads the latest CRL only when newer than a given number', async () => {
      const s = await open();
      const ca = `rl-${name}`;
      const base = { caId: ca, kind: 'full' as const, baseNumber: null, thisUpdate: new Date(1000), nextUpdate: new Date(2000), sourceHash: 'h' };
      await s.revocation.saveCrl({ ...base, number: 5n, der: Buffer.from('five') });
      expect(await s.revocation.latestCrl(ca, 'full', 5n)).toBeUndefined();
      expect((await s.revocation.latestCrl(ca, 'full', 4n))?.der.toString()).toBe('five');
      expect((await s.revocation.latestCrl(ca, 'full'))?.number).toBe(5n);
      expect(await s.revocation.latestCrl(ca, 'p0', 0n)).toBeUndefined();
      await s.close();
    });
  });
}
