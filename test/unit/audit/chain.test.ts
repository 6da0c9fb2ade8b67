import { generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, verifyAuditChain } from '../../../src/audit/index.js';
import type { Signer } from '../../../src/keys/types.js';
import { SqliteStore } from '../../../src/store/index.js';
import { tempDir } from '../../helpers/tmp.js';

const dir = tempDir('flintca-audit-');
afterAll(() => dir.cleanup());

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pubPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
const signer: Signer = {
  keyUri: 'file:audit',
  keyType: 'P-256',
  algorithm: 'ecdsa-sha256',
  publicKey: publicKey.export({ type: 'spki', format: 'der' }),
  publicKeyObject: publicKey,
  sign: async (tbs) => sign('sha256', tbs, privateKey),
};
const silent = pino({ level: 'silent' });

let n = 0;
async function freshLog(records: number, checkpointEvery = 1000): Promise<{ store: SqliteStore; log: AuditLog }> {
  const store = SqliteStore.open(join(dir.path, `a${n++}.db`));
  const log = new AuditLog(store.audit, silent, { signer, every: checkpointEvery, intervalMs: 3_600_000 });
  for (let i = 0; i < records; i++) await log.record({ actor: 'test', action: 'thing.do', object: `o${i}`, result: 'ok', data: { i } });
  return { store, log };
}

describe('audit chain', () => {
  let store: SqliteStore;
  let log: AuditLog;
  beforeEach(async () => {
    ({ store, log } = await freshLog(10));
    await log.checkpoint();
  });

  it('verifies an intact chain with a signed checkpoint', async () => {
    const r = await verifyAuditChain(store.audit, pubPem);
    expect(r).toMatchObject({ ok: true, records: 10, checkpoints: 1, lastCheckpointSeq: 10, unanchored: 0 });
    await log.record({ actor: 't', action: 'late', object: 'x', result: 'ok' });
    expect((await verifyAuditChain(store.audit, pubPem)).unanchored).toBe(1);
  });

  it('detects an edited record', async () => {
    store.rawDatabase.prepare("UPDATE audit_events SET actor = 'mallory' WHERE seq = 4").run();
    const r = await verifyAuditChain(store.audit, pubPem);
    expect(r.ok).toBe(false);
    expect(r.firstBroken).toMatchObject({ seq: 4 });
    expect(r.firstBroken!.reason).toMatch(/modified/);
  });

  it('detects a deleted record', async () => {
    store.rawDatabase.prepare('DELETE FROM audit_events WHERE seq = 5').run();
    const r = await verifyAuditChain(store.audit, pubPem);
    expect(r.firstBroken).toMatchObject({ seq: 5 });
    expect(r.firstBroken!.reason).toMatch(/missing/);
  });

  it('detects reordered records', async () => {
    const db = store.rawDatabase;
    db.transaction(() => {
      db.prepare('UPDATE audit_events SET seq = -1 WHERE seq = 6').run();
      db.prepare('UPDATE audit_events SET seq = 6 WHERE seq = 7').run();
      db.prepare('UPDATE audit_events SET seq = 7 WHERE seq = -1').run();
    })();
    const r = await verifyAuditChain(store.audit, pubPem);
    expect(r.firstBroken?.seq).toBe(6);
  });

  it('detects records cut off the end before the last checkpoint', async () => {
    store.rawDatabase.prepare('DELETE FROM audit_events WHERE seq >= 8').run();
    const r = await verifyAuditChain(store.audit, pubPem);
    expect(r.ok).toBe(false);
    expect(r.firstBroken!.reason).toMatch(/cut off/);
  });

  it('detects a forged checkpoint signature', async () => {
    store.rawDatabase.prepare("UPDATE audit_checkpoints SET time = '2000-01-01T00:00:00.000Z'").run();
    const r = await verifyAuditChain(store.audit, pubPem);
    expect(r.firstBroken!.reason).toMatch(/invalid signature/);
  });

  it('detects an edit that recomputes the record hash (the next link breaks)', async () => {
    const db = store.rawDatabase;
    const row = db.prepare('SELECT * FROM audit_events WHERE seq = 3').get() as Record<string, unknown>;
    const { hashAuditRecord } = await import('../../../src/store/index.js');
    const base = { seq: 3, time: row.time as string, actor: 'mallory', action: row.action as string, object: row.object as string, result: 'ok' as const, reason: null, data: JSON.parse(row.data as string), prevHash: row.prev_hash as string };
    db.prepare('UPDATE audit_events SET actor = ?, hash = ? WHERE seq = 3').run('mallory', hashAuditRecord(base));
    const r = await verifyAuditChain(store.audit, pubPem);
    expect(r.firstBroken?.seq).toBe(4);
  });

  it('writes a checkpoint every N records', async () => {
    const { store: s } = await freshLog(25, 10);
    await new Promise((r) => setTimeout(r, 50));
    expect((await s.audit.checkpoints()).length).toBeGreaterThanOrEqual(2);
    expect((await verifyAuditChain(s.audit, pubPem)).ok).toBe(true);
  });
});
