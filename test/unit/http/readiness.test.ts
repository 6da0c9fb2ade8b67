/**
 * Readiness (issue 7 §5) on the real express apps: a SQLite store whose ping we switch off stands
 * for an unreachable database. While not ready, /readyz is 503 and protocol endpoints answer
 * 503 + Retry-After in their own format (ACME problem document, text elsewhere) without reaching
 * their handlers; the node is ready again by itself once the ping answers. And every protocol's
 * error table turns a store `unavailable` error into 503 + Retry-After.
 */
import express from 'express';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { FlintError } from '../../../src/errors/index.js';
import type { IssuerRegistry } from '../../../src/core/issuers.js';
import { sendAdminError } from '../../../src/http/admin-auth.js';
import { createApps, lastResortErrorHandler } from '../../../src/http/apps.js';
import { Metrics } from '../../../src/http/metrics.js';
import { Readiness, within } from '../../../src/http/readiness.js';
import { retryAfterOf, toProblem } from '../../../src/protocols/acme/errors.js';
import { errorResponse as estError } from '../../../src/protocols/est/errors.js';
import { errorResponse as scepError } from '../../../src/protocols/scep/errors.js';
import { SqliteStore } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/types.js';
import { tempDir } from '../../helpers/tmp.js';

const tmp = tempDir('flintca-ready-');
const store = SqliteStore.open(join(tmp.path, 'db.sqlite'));
afterAll(async () => {
  await store.close();
  tmp.cleanup();
});

/** The real store, with a switch that makes its ping fail (the database "goes away"). */
let databaseUp = true;
const flaky: Store = Object.create(store, { ping: { value: async () => databaseUp && (await store.ping()) } });
/** What the PostgreSQL store throws when its connection is gone (store/postgres/db.ts mapError). */
const storeDown = () => new FlintError('unavailable', 'the database is unreachable', { code: 'store.unavailable' });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logger = pino({ level: 'silent' });

describe('Readiness', () => {
  it('probes at most once per interval, shares a running probe, and reports changes', async () => {
    let probes = 0;
    let now = 0;
    const changes: boolean[] = [];
    const r = new Readiness(async () => (probes++, { ok: databaseUp, detail: { store: databaseUp } }), { intervalMs: 1000, now: () => now, onChange: (x) => changes.push(x.ok) });
    await Promise.all([r.check(), r.check()]);
    expect(probes).toBe(1);
    for (let i = 0; i < 100; i++) expect(r.ready()).toBe(true);
    expect(probes).toBe(1);
    databaseUp = false;
    now = 1000;
    expect(r.ready()).toBe(true); // last known; the re-check runs in the background
    await r.check();
    expect(probes).toBe(2);
    expect(r.ready()).toBe(false);
    databaseUp = true;
    now = 2000;
    expect((await r.check()).ok).toBe(true);
    expect(changes).toEqual([false, true]);
    await r.check({ fresh: true }); // /readyz: always probes
    expect(probes).toBe(4);
  });

  it('within(): a probe that hangs or throws counts as down', async () => {
    expect(await within(new Promise(() => undefined), 20)).toBe(false);
    expect(await within(Promise.reject(new Error('x')), 20)).toBe(false);
    expect(await within(Promise.resolve(true), 20)).toBe(true);
  });
});

describe('not-ready gate on the express apps', () => {
  const reached: string[] = [];
  const readiness = new Readiness(async () => {
    const s = await within(flaky.ping(), 500);
    return { ok: s, detail: { store: s, keyStore: true } };
  }, { intervalMs: 50 });
  const protocol = express.Router();
  protocol.all('/*rest', (req, res) => (reached.push(req.originalUrl), res.status(200).send('handled')));
  const apps = createApps({
    logger,
    metrics: new Metrics(store.certificates),
    issuers: { has: () => false, roots: () => [] } as unknown as IssuerRegistry,
    draining: () => false,
    readiness,
    mounts: [
      { app: 'https', path: '/acme', router: protocol },
      { app: 'https', path: '/.well-known/est', router: protocol },
      { app: 'http', path: '/', router: protocol }, // OCSP / CRL / SCEP
    ],
  });

  it('refuses protocol requests with 503 + Retry-After while the store is down, and recovers by itself', async () => {
    databaseUp = true;
    expect((await request(apps.http).get('/readyz')).status).toBe(200);
    expect((await request(apps.https).post('/acme/acme/new-account')).text).toBe('handled');

    databaseUp = false;
    const ready = await request(apps.http).get('/readyz'); // probes afresh: no waiting for the cache
    expect(ready.status).toBe(503);
    expect(ready.headers['retry-after']).toBe('5');
    expect(ready.body).toMatchObject({ status: 'not ready', store: false });
    expect((await request(apps.http).get('/healthz')).status).toBe(200); // alive, just not ready

    reached.length = 0;
    const nonce = await request(apps.https).head('/acme/acme/new-nonce');
    expect(nonce.status).toBe(503);
    expect(nonce.headers['retry-after']).toBe('5');
    const acct = await request(apps.https).post('/acme/acme/new-account').send('{}');
    expect(acct.status).toBe(503);
    expect(acct.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(acct.text)).toMatchObject({ type: 'urn:ietf:params:acme:error:serverInternal', status: 503 });
    for (const [app, path] of [[apps.https, '/.well-known/est/simpleenroll'], [apps.http, '/ocsp/MEQwQjBAMD4wPDAJBgUrDgMCGgUABBQ'], [apps.http, '/crl/issuing.crl'], [apps.http, '/scep?operation=GetCACaps']] as const) {
      const r = await request(app).get(path);
      expect(r.status, path).toBe(503);
      expect(r.headers['retry-after']).toBe('5');
      expect(r.headers['content-type']).toMatch(/text\/plain/);
    }
    expect(reached).toEqual([]); // no handler ran: nothing half-written

    databaseUp = true;
    await sleep(60);
    await request(apps.https).post('/acme/acme/new-account'); // a request after the interval re-checks (and may still be refused)
    expect((await request(apps.https).post('/acme/acme/new-account')).text).toBe('handled');
    expect((await request(apps.http).get('/readyz')).status).toBe(200);
  });
});

describe('store unavailable → 503 + Retry-After in every error table', () => {
  it('ACME: serverInternal problem with status 503 and a Retry-After', () => {
    expect(toProblem(storeDown())).toMatchObject({ type: 'urn:ietf:params:acme:error:serverInternal', status: 503 });
    expect(retryAfterOf(storeDown())).toBe(5);
    expect(retryAfterOf(new FlintError('unavailable', 'x', { retryAfter: 9 }))).toBe(9);
    expect(retryAfterOf(new FlintError('malformed', 'x'))).toBeUndefined();
  });

  it('EST and SCEP: 503 text/plain with Retry-After', () => {
    for (const r of [estError(storeDown()), scepError(storeDown())]) {
      expect(r.status).toBe(503);
      expect(r.headers['Retry-After']).toBe('5');
      expect(r.headers['Content-Type']).toMatch(/text\/plain/);
    }
  });

  it('admin API and the last-resort handler: 503 with Retry-After, never a 400 or 500', async () => {
    const app = express();
    app.get('/admin', (_req, res) => sendAdminError(res, storeDown()));
    app.get('/other', () => {
      throw storeDown();
    });
    app.use(lastResortErrorHandler(logger));
    const admin = await request(app).get('/admin');
    expect(admin.status).toBe(503);
    expect(admin.headers['retry-after']).toBe('5');
    const other = await request(app).get('/other');
    expect(other.status).toBe(503);
    expect(other.headers['retry-after']).toBe('5');
    expect(other.text).not.toMatch(/database/); // detail stays in the log
  });
});
