/** SQLite ACME repository: nonces are single use and expire; one account per key. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonceService } from '../../../src/protocols/acme/nonces.js';
import { SqliteStore } from '../../../src/store/index.js';
import { tempDir } from '../../helpers/tmp.js';

describe('SQLite ACME repository', () => {
  const tmp = tempDir('flintca-acme-store-');
  let store: SqliteStore;
  beforeAll(() => {
    store = SqliteStore.open(join(tmp.path, 'db.sqlite'));
  });
  afterAll(async () => {
    await store.close();
    tmp.cleanup();
  });

  it('nonces are single use, even when consumed concurrently, and expire', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const n = new NonceService(store.acme, () => now);
    const a = await n.issue();
    const results = await Promise.all([n.consume(a), n.consume(a), n.consume(a)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const b = await n.issue();
    now = new Date(now.getTime() + 2 * 3600_000);
    expect(await n.consume(b)).toBe(false);
    expect(await n.consume('not issued')).toBe(false);
  });

  it('keeps one account per key thumbprint and audits creation atomically', async () => {
    const acct = { id: 'a1', thumbprint: 'tp', jwk: { kty: 'OKP' }, contact: [], status: 'valid' as const, createdAt: new Date() };
    const before = (await store.audit.head())?.seq ?? 0;
    await store.acme.createAccount(acct, [{ actor: 'acme:a1', action: 'acme.account.create', object: 'acme-account:a1', result: 'ok' }]);
    expect((await store.audit.head())!.seq).toBe(before + 1);
    await expect(store.acme.createAccount({ ...acct, id: 'a2' }, [{ actor: 'acme:a2', action: 'acme.account.create', object: 'acme-account:a2', result: 'ok' }])).rejects.toThrow();
    expect((await store.audit.head())!.seq).toBe(before + 1);
    expect((await store.acme.getAccountByThumbprint('tp'))!.id).toBe('a1');
  });
});
