/** store/sqlite/revocation.ts: CRL numbers are monotonic and persisted; only newer CRLs replace older ones (paging and digest: test/contract/revocation-contract.ts). */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/index.js';
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
    await s.close();
  });
});
