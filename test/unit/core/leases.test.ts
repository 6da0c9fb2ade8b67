/**
 * LeaseKeeper on real SQLite stores: two keepers (two "nodes", each with its own connection to
 * one database file) compete for a lease; exactly one holds it; a graceful close hands it over
 * within a ttl; a node whose store fails drops the lease at once, and the other takes it over
 * once the row expires.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exclusiveRunner, LeaseKeeper, makeNodeId } from '../../../src/core/leases.js';
import { SqliteStore } from '../../../src/store/index.js';
import { tempDir } from '../../helpers/tmp.js';

const tmp = tempDir('flintca-leases-');
afterAll(() => tmp.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await sleep(10);
  }
  return Date.now() - start;
}

function node(file: string) {
  const store = SqliteStore.open(file);
  const events: string[] = [];
  const keeper = new LeaseKeeper(store.leases, makeNodeId());
  const hold = (name: string, ttlMs: number) => keeper.hold(name, { ttlMs, onAcquire: () => events.push('acquire'), onLose: () => events.push('lose') });
  return { store, keeper, events, hold };
}

describe('LeaseKeeper', () => {
  it('node ids are unique per keeper and name host and pid', () => {
    const a = makeNodeId();
    expect(a).not.toBe(makeNodeId());
    expect(a).toContain(`:${process.pid}:`);
  });

  it('one of two keepers holds a lease; close hands it to the other within a ttl', async () => {
    const file = join(tmp.path, 'handover.db');
    const a = node(file);
    const b = node(file);
    const TTL = 600;
    const [ha, hb] = await Promise.all([a.hold('crl:issuing', TTL), b.hold('crl:issuing', TTL)]);
    expect([ha, hb].filter(Boolean)).toHaveLength(1);
    const [holder, other] = ha ? [a, b] : [b, a];
    expect(holder.keeper.holds('crl:issuing')).toBe(true);
    expect(other.keeper.holds('crl:issuing')).toBe(false);
    expect((await holder.store.leases.get('crl:issuing'))?.holder).toBe(holder.keeper.nodeId);
    // Renewals keep it: after several ttls the holder still holds it, the other never got it.
    await sleep(TTL * 2.5);
    expect(holder.keeper.holds('crl:issuing')).toBe(true);
    expect(other.keeper.holds('crl:issuing')).toBe(false);
    expect(holder.events).toEqual(['acquire']);
    expect(other.events).toEqual([]);
    expect(holder.keeper.snapshot()).toEqual([{ name: 'crl:issuing', held: true }]);

    await holder.keeper.close();
    expect(holder.keeper.holds('crl:issuing')).toBe(false);
    expect(holder.events).toEqual(['acquire', 'lose']);
    const took = await until(() => other.keeper.holds('crl:issuing'), TTL);
    expect(took).toBeLessThanOrEqual(TTL);
    expect(other.events).toEqual(['acquire']);
    expect((await other.store.leases.get('crl:issuing'))?.holder).toBe(other.keeper.nodeId);
    await other.keeper.close();
    expect(await other.store.leases.get('crl:issuing')).toBeUndefined(); // released on close
    await a.store.close();
    await b.store.close();
  });

  it('a renewal that fails (store gone) drops the lease at once; the other node takes over after expiry', async () => {
    const file = join(tmp.path, 'failure.db');
    const a = node(file);
    const b = node(file);
    const TTL = 900;
    expect(await a.hold('ocsp-responder:issuing', TTL)).toBe(true);
    expect(await b.hold('ocsp-responder:issuing', TTL)).toBe(false);
    await a.store.close(); // node A's database connection is gone: its next renewal throws
    const dropped = await until(() => !a.keeper.holds('ocsp-responder:issuing'), TTL);
    expect(dropped).toBeLessThanOrEqual(TTL / 3 + 100);
    expect(a.events).toEqual(['acquire', 'lose']);
    // B cannot have it before A's row expires (A might still be working), but gets it soon after.
    await until(() => b.keeper.holds('ocsp-responder:issuing'), 2 * TTL);
    expect(b.events).toEqual(['acquire']);
    await a.keeper.close(); // release fails quietly on the closed store
    await b.keeper.close();
    await b.store.close();
  });

  it('tryNow takes a free lease at once; holds() turns false when the time is up without a renewal', async () => {
    const file = join(tmp.path, 'trynow.db');
    const store = SqliteStore.open(file);
    let now = 0;
    const keeper = new LeaseKeeper(store.leases, 'node-x', undefined, () => now);
    expect(await keeper.hold('work', { ttlMs: 60_000 })).toBe(true);
    now = 59_999;
    expect(keeper.holds('work')).toBe(true);
    now = 60_000; // no renewal happened on this fake clock: not holding any more
    expect(keeper.holds('work')).toBe(false);
    expect(await keeper.tryNow('work')).toBe(true); // the row is still ours: renewed
    expect(keeper.holds('work')).toBe(true);
    expect(await keeper.tryNow('unknown')).toBe(false);
    await keeper.close();
    await store.close();
  });
});

describe('exclusiveRunner', () => {
  it('runs one turn at a time per key on this node, refuses while another node holds the key, and releases after each turn', async () => {
    const store = SqliteStore.open(':memory:');
    const run = exclusiveRunner(store.leases, 'node-a');
    const order: string[] = [];
    const turn = (name: string) => run('k', async () => {
      order.push(`${name}:start`);
      await new Promise((r) => setTimeout(r, 20));
      order.push(`${name}:end`);
      return name;
    });
    const results = await Promise.all([turn('one'), turn('two')]);
    expect(results).toEqual([{ ran: true, value: 'one' }, { ran: true, value: 'two' }]);
    expect(order).toEqual(['one:start', 'one:end', 'two:start', 'two:end']);
    expect(await store.leases.get('k')).toBeUndefined();
    expect(await store.leases.acquire('k', 'node-b', 60_000)).toBe(true);
    expect(await run('k', async () => 'x')).toEqual({ ran: false });
    await store.close();
  });
});
