/**
 * OcspResponder's pre-signed answers (RFC 5019 §2.1) against a real SQLite store and a CA key
 * counted per signature: one signature for concurrent first requests, revalidation against the
 * store after the TTL without re-signing while the status holds, re-signing when the store says
 * otherwise or when half of the validity is gone, and no stale answer cached across a revocation.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FlintError } from '../../../src/errors/index.js';
import { OcspResponder } from '../../../src/revocation/ocsp/responder.js';
import type { Store } from '../../../src/store/types.js';
import { hasCommand, run } from '../../helpers/flintca.js';
import { requireTool, tempDir } from '../../helpers/tmp.js';
import { caFixture, SERIAL, type CaFixture } from './ca-fixture.js';

const tmp = tempDir('flintca-ocspcache-');
const enabled = requireTool(hasCommand('openssl'), 'openssl');
const f = (n: string) => join(tmp.path, n);
let ca: CaFixture;
let plain: Buffer;
let now = Date.now();
const clock = () => new Date(now);

const status = (der: Buffer) => {
  writeFileSync(f('resp.der'), der);
  const r = run('openssl', ['ocsp', '-respin', f('resp.der'), '-issuer', f('ca.pem'), '-CAfile', f('ca.pem'), '-resp_text']);
  expect(r.stdout + r.stderr).toMatch(/Response verify OK/);
  return /Cert Status: (\w+)/.exec(r.stdout)?.[1];
};
const responder = () => new OcspResponder({ issuers: ca.registry, store: ca.store, clock }, { cacheTtlMs: 3000, validityMs: 3600_000 });

beforeAll(async () => {
  if (!enabled) return;
  ca = await caFixture(tmp.path);
  expect(run('openssl', ['ocsp', '-no_nonce', '-issuer', f('ca.pem'), '-cert', f('leaf.pem'), '-reqout', f('req.der')]).code).toBe(0);
  plain = readFileSync(f('req.der'));
});
afterAll(async () => {
  await ca?.store.close();
  tmp.cleanup();
});
beforeEach(async () => {
  if (!enabled) return;
  now = Date.now();
  await ca.store.certificates.setStatus({ serial: SERIAL, status: 'valid', revokedAt: null, reason: null, fromStatuses: ['revoked', 'hold', 'valid'] });
});

describe('OcspResponder cache', () => {
  it('signs once for concurrent first requests and serves the same answer by request bytes', async () => {
    if (!enabled) return;
    const r = responder();
    const before = ca.signatures();
    const answers = await Promise.all(Array.from({ length: 20 }, () => r.respond(plain)));
    expect(ca.signatures() - before).toBe(1);
    expect(answers.every((a) => a.der.equals(answers[0]!.der))).toBe(true);
    expect(r.cached(OcspResponder.rawKey(plain)!)?.der.equals(answers[0]!.der)).toBe(true);
    expect(status(answers[0]!.der)).toBe('good');
  });

  it('after the TTL revalidates against the store: same signed answer while the status holds, a new one when it changed', async () => {
    if (!enabled) return;
    const r = responder();
    const first = await r.respond(plain);
    const signed = ca.signatures();
    now += 5000; // past the TTL: the synchronous lookup misses, respond() revalidates
    expect(r.cached(OcspResponder.rawKey(plain)!)).toBeUndefined();
    const again = await Promise.all([r.respond(plain), r.respond(plain)]);
    expect(again[0]!.der.equals(first.der)).toBe(true);
    expect(ca.signatures()).toBe(signed); // status unchanged: no signature
    expect(r.cached(OcspResponder.rawKey(plain)!)?.der.equals(first.der)).toBe(true);
    // Revoked by another process (no onRevocation here): seen after the TTL, through the store.
    await ca.store.certificates.setStatus({ serial: SERIAL, status: 'revoked', revokedAt: new Date(now), reason: 1, fromStatuses: ['valid'] });
    expect((await r.respond(plain)).der.equals(first.der)).toBe(true); // within the TTL: cached
    now += 5000;
    const revoked = await r.respond(plain);
    expect(ca.signatures()).toBe(signed + 1);
    expect(status(revoked.der)).toBe('revoked');
  });

  it('re-signs an unchanged status once less than half of the validity is left', async () => {
    if (!enabled) return;
    const r = responder();
    const first = await r.respond(plain);
    now += 31 * 60_000; // 29 of 60 minutes left
    const later = await r.respond(plain);
    expect(later.der.equals(first.der)).toBe(false);
    expect(later.producedAt!.getTime()).toBe(now);
    expect(status(later.der)).toBe('good');
  });

  it('drops answers on revocation and does not cache one whose status was read before a revocation', async () => {
    if (!enabled) return;
    const r = responder();
    await r.respond(plain);
    await ca.store.certificates.setStatus({ serial: SERIAL, status: 'revoked', revokedAt: new Date(now), reason: 4, fromStatuses: ['valid'] });
    r.onRevocation((await ca.store.certificates.get(SERIAL))!);
    expect(r.cached(OcspResponder.rawKey(plain)!)).toBeUndefined();
    expect(status((await r.respond(plain)).der)).toBe('revoked');
    // A first answer whose store read happened before an unrevoke: returned, but not cached.
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const slowReads = { certificates: { ...ca.store.certificates, get: async (s: string) => { const rec = await ca.store.certificates.get(s); await gate; return rec; } } } as Pick<Store, 'certificates'>;
    const fresh = new OcspResponder({ issuers: ca.registry, store: slowReads, clock }, { cacheTtlMs: 3000 });
    const pending = fresh.respond(plain);
    await new Promise((res) => setTimeout(res, 10)); // the read is done, waiting at the gate
    await ca.store.certificates.setStatus({ serial: SERIAL, status: 'valid', revokedAt: null, reason: null, fromStatuses: ['revoked'] });
    fresh.onRevocation((await ca.store.certificates.get(SERIAL))!);
    release();
    expect(status((await pending).der)).toBe('revoked');
    expect(fresh.cached(OcspResponder.rawKey(plain)!)).toBeUndefined();
    expect(status((await fresh.respond(plain)).der)).toBe('good');
  });

  it('signs nonce requests live, with statuses at most a TTL old instead of a store read each', async () => {
    if (!enabled) return;
    expect(run('openssl', ['ocsp', '-nonce', '-issuer', f('ca.pem'), '-cert', f('leaf.pem'), '-reqout', f('nonce.der')]).code).toBe(0);
    const withNonce = readFileSync(f('nonce.der'));
    let reads = 0;
    const counted = { certificates: { ...ca.store.certificates, get: (s: string) => (reads++, ca.store.certificates.get(s)) } } as Pick<Store, 'certificates'>;
    const r = new OcspResponder({ issuers: ca.registry, store: counted, clock }, { cacheTtlMs: 3000 });
    await r.respond(plain);
    const before = ca.signatures();
    const a = await r.respond(withNonce);
    const b = await r.respond(withNonce);
    expect(ca.signatures() - before).toBe(2);
    expect(reads).toBe(1); // the nonce-less fill only
    // Nonce requests alone: one store read per serial per TTL.
    const onlyNonces = new OcspResponder({ issuers: ca.registry, store: counted, clock }, { cacheTtlMs: 3000 });
    for (let i = 0; i < 3; i++) await onlyNonces.respond(withNonce);
    expect(reads).toBe(2);
    now += 5000;
    await onlyNonces.respond(withNonce);
    expect(reads).toBe(3);
    // A status change reported by serial alone (the store's change feed) is seen at once.
    await ca.store.certificates.setStatus({ serial: SERIAL, status: 'revoked', revokedAt: new Date(now), reason: 1, fromStatuses: ['valid'] });
    onlyNonces.onRevocation({ serial: SERIAL });
    expect(status((await onlyNonces.respond(withNonce)).der)).toBe('revoked');
    expect(reads).toBe(4);
    expect(a.cacheable).toBe(false);
    expect(status(b.der)).toBe('good');
  });
});

describe('OcspResponder when the store is unreachable', () => {
  it('answers tryLater (RFC 6960 §2.3), not internalError, and recovers when the store answers again', async () => {
    if (!enabled) return;
    let down = true;
    // The real store, with reads failing the way PgStore reports a lost database.
    const flaky = new Proxy(ca.store, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv) as unknown;
        if (prop !== 'certificates') return v;
        return new Proxy(v as object, {
          get(t, p, r) {
            const m = Reflect.get(t, p, r) as unknown;
            if (typeof m !== 'function') return m;
            return (...args: unknown[]) => {
              if (down) throw new FlintError('unavailable', 'the database is unreachable', { retryAfter: 5 });
              return (m as (...a: unknown[]) => unknown).apply(t, args);
            };
          },
        });
      },
    }) as Store;
    const r = new OcspResponder({ issuers: ca.registry, store: flaky, clock }, { cacheTtlMs: 3000, validityMs: 3600_000 });
    const failed = await r.respond(plain);
    writeFileSync(f('trylater.der'), failed.der);
    expect(run('openssl', ['ocsp', '-respin', f('trylater.der'), '-resp_text']).stdout).toMatch(/Responder Error: trylater \(3\)/);
    down = false;
    expect(status((await r.respond(plain)).der)).toBe('good');
  });
});
