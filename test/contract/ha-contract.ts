/** Contract for what nodes coordinate through: leases and the change feed (issue 7). */
import { describe, expect, it } from 'vitest';
import type { Store, StoreChange } from '../../src/store/index.js';
import { cert } from './store-contract.js';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function haContract(name: string, open: () => Promise<Store>): void {
  describe(`store HA contract: ${name}`, () => {
    it('a lease has one holder until it expires or is released; the holder renews it', async () => {
      const s = await open();
      const results = await Promise.all([s.leases.acquire('crl:c1', 'node-a', 60_000), s.leases.acquire('crl:c1', 'node-b', 60_000)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const holder = results[0] ? 'node-a' : 'node-b';
      const other = holder === 'node-a' ? 'node-b' : 'node-a';
      expect((await s.leases.get('crl:c1'))?.holder).toBe(holder);
      expect(await s.leases.acquire('crl:c1', holder, 60_000)).toBe(true); // renewal
      expect(await s.leases.acquire('crl:c1', other, 60_000)).toBe(false);
      await s.leases.release('crl:c1', other); // not the holder: no effect
      expect((await s.leases.get('crl:c1'))?.holder).toBe(holder);
      await s.leases.release('crl:c1', holder);
      expect(await s.leases.get('crl:c1')).toBeUndefined();
      expect(await s.leases.acquire('crl:c1', other, 60_000)).toBe(true);

      expect(await s.leases.acquire('short', 'node-a', 50)).toBe(true);
      await new Promise((r) => setTimeout(r, 120));
      expect(await s.leases.acquire('short', 'node-b', 60_000)).toBe(true); // expired: taken over
      expect((await s.leases.get('short'))?.holder).toBe('node-b');
      await s.close();
    });

    it('recent events are shared by every node, per key, counted after a time and forgotten after keepMs', async () => {
      const [a, b] = [await open(), await open()];
      const key = `guess:${Math.random()}`;
      const t0 = Date.UTC(2026, 0, 1);
      const at = (s: number) => new Date(t0 + s * 1000);
      expect(await a.recentEvents.since(key, at(-60))).toEqual({ count: 0 });
      await a.recentEvents.record(key, at(0), 60_000);
      await b.recentEvents.record(key, at(10), 60_000); // another node
      await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).recentEvents.record(key, at(20), 60_000)));
      expect(await b.recentEvents.since(key, at(-1))).toEqual({ count: 10, first: at(0) });
      expect(await a.recentEvents.since(key, at(5))).toEqual({ count: 9, first: at(10) });
      expect(await a.recentEvents.since(`${key}:other`, at(-1))).toEqual({ count: 0 });
      // Recording at 75 s forgets this key's events before 15 s.
      await a.recentEvents.record(key, at(75), 60_000);
      expect(await b.recentEvents.since(key, at(-1))).toEqual({ count: 9, first: at(20) });
      await a.close();
      await b.close();
    });

    it('a committed status change and a saved CRL reach subscribers; an unchanged row does not', async () => {
      const s = await open();
      const seen: StoreChange[] = [];
      const off = s.subscribe((c) => seen.push(c));
      await s.certificates.insert(cert('0ha001'));
      expect(await s.certificates.setStatus({ serial: '0ha001', status: 'revoked', revokedAt: new Date(), reason: 1, fromStatuses: ['valid'] })).toBe(true);
      expect(await s.certificates.setStatus({ serial: '0ha001', status: 'revoked', revokedAt: new Date(), reason: 1, fromStatuses: ['valid'] })).toBe(false);
      await s.revocation.saveCrl({ caId: 'ha-ca', kind: 'full', number: 7n, baseNumber: null, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 3_600_000), der: Buffer.from([0x30, 0x00]), sourceHash: null });
      await until(() => seen.length >= 2);
      expect(seen).toContainEqual({ kind: 'certificateStatus', serial: '0ha001', issuerId: 'issuing', status: 'revoked' });
      expect(seen).toContainEqual({ kind: 'crl', caId: 'ha-ca' });
      off();
      await s.certificates.setStatus({ serial: '0ha001', status: 'valid', revokedAt: null, reason: null, fromStatuses: ['revoked'] });
      await new Promise((r) => setTimeout(r, 200));
      expect(seen.filter((c) => c.kind === 'certificateStatus')).toHaveLength(1);
      await s.close();
    });
  });
}
