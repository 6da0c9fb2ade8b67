/** Per-provisioner rate limits: counters in the store, `rateLimited` + Retry-After, the denial audited, nothing written. */
import * as acme from 'acme-client';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAcmeConfig, defaultProvisioner, loadAcmeConfig, processingSettings } from '../../../src/protocols/acme/config.js';
import { registeredDomain } from '../../../src/protocols/acme/identifiers.js';
import { ValidationPool } from '../../../src/protocols/acme/validation/worker.js';
import { harness, newKey, type Harness, type Key } from './harness.js';

const ERR = 'urn:ietf:params:acme:error:';
const HOUR = 3_600_000;
const P = 'limited';
const B = `https://acme.test:8443/acme/${P}`;

describe('ACME rate limits', () => {
  let h: Harness;
  let key: Key;
  let kid: string;
  let issued = 0;
  let refusing: Server;
  const postAs = (k: Key, kidUrl: string, url: string, payload: unknown) =>
    h.jws(k, url.slice(B.length), payload, { kid: kidUrl, prov: P }).then((j) => h.post(url.slice(B.length), j, undefined, P));
  const newAccount = async (k: Key) => h.post('/new-account', await h.jws(k, '/new-account', { termsOfServiceAgreed: true }, { prov: P }), undefined, P);

  beforeAll(async () => {
    const prov = defaultProvisioner(P, 'tls-server', {
      rateLimits: {
        newOrdersPerAccount: { limit: 6, windowMs: HOUR },
        newAccountsPerIp: { limit: 3, windowMs: HOUR },
        certificatesPerDomain: { limit: 1, windowMs: HOUR },
        failedValidationsPerIdentifier: { limit: 1, windowMs: HOUR },
      },
    });
    h = await harness({
      provisioners: [prov],
      issue: async () => ({ serial: `0a${(++issued).toString(16).padStart(4, '0')}` }) as never,
    });
    key = await newKey();
    const r = await newAccount(key);
    kid = r.headers.location as string;
    refusing = createServer((_q, s) => s.writeHead(404).end());
    await new Promise<void>((r2) => refusing.listen(0, '127.0.0.1', r2));
  });
  afterAll(async () => {
    refusing.close();
    await h.close();
  });

  it('new accounts per IP: refused with rateLimited, Retry-After, an audit record, and no account', async () => {
    expect((await newAccount(await newKey())).status).toBe(201);
    expect((await newAccount(await newKey())).status).toBe(201);
    const k = await newKey();
    const r = await newAccount(k);
    expect(r.status).toBe(429);
    expect(JSON.parse(r.text).type).toBe(`${ERR}rateLimited`);
    expect(JSON.parse(r.text).detail).toMatch(/newAccountsPerIp/);
    const ra = Number(r.headers['retry-after']);
    expect(ra).toBeGreaterThan(0);
    expect(ra).toBeLessThanOrEqual(3600);
    expect(r.headers['replay-nonce']).toBeTruthy();
    expect(h.audited.some((e) => e.action === 'acme.request.denied' && e.result === 'denied' && String(e.data?.type).endsWith('rateLimited'))).toBe(true);
    // An existing key is still answered (no new account is made).
    expect((await newAccount(key)).status).toBe(200);
  });

  it('certificates per registered domain are counted at finalize; the refused order stays ready', async () => {
    const finalizeOne = async (name: string) => {
      const o = await postAs(key, kid, `${B}/new-order`, { identifiers: [{ type: 'dns', value: name }] });
      expect(o.status, o.text).toBe(201);
      if (o.body.status !== 'ready') {
        const a = await postAs(key, kid, o.body.authorizations[0], '');
        const c = a.body.challenges.find((x: { type: string }) => x.type === 'http-01');
        await postAs(key, kid, c.url, {});
        await h.store.acme.completeChallenge(c.url.split('/').pop(), { ok: true, validated: new Date() });
      }
      const [, csr] = await acme.crypto.createCsr({ altNames: [name] });
      return { o, r: await postAs(key, kid, o.body.finalize, { csr: acme.crypto.getPemBodyAsB64u(csr) }) };
    };
    const first = await finalizeOne('a.dom.example');
    expect(first.r.status, first.r.text).toBe(200);
    expect(first.r.body.status).toBe('valid');
    const second = await finalizeOne('b.dom.example'); // same registered domain dom.example
    expect(second.r.status).toBe(429);
    expect(JSON.parse(second.r.text).detail).toMatch(/certificatesPerDomain/);
    expect(Number(second.r.headers['retry-after'])).toBeGreaterThan(0);
    expect((await postAs(key, kid, second.o.headers.location, '')).body.status).toBe('ready');
    expect(issued).toBe(1);
    const third = await finalizeOne('c.other.example');
    expect(third.r.body.status).toBe('valid');
  });

  it('failed validations per identifier: a failure blocks new orders for that name', async () => {
    const o = await postAs(key, kid, `${B}/new-order`, { identifiers: [{ type: 'dns', value: 'fail.example' }] });
    const a = await postAs(key, kid, o.body.authorizations[0], '');
    const c = a.body.challenges.find((x: { type: string }) => x.type === 'http-01');
    await postAs(key, kid, c.url, {});
    const pool = new ValidationPool({
      repo: h.store.acme, audit: { emitted: (e) => e },
      resolver: { addresses: async () => ['127.0.0.1'], txt: async () => [] },
      http01Port: (refusing.address() as AddressInfo).port, tlsAlpn01Port: 1, retries: 0,
      failureLimit: () => ({ limit: 1, windowMs: HOUR }),
    });
    pool.enqueue(c.url.split('/').pop());
    await pool.close();
    expect((await postAs(key, kid, o.headers.location, '')).body.status).toBe('invalid');
    const again = await postAs(key, kid, `${B}/new-order`, { identifiers: [{ type: 'dns', value: 'fail.example' }] });
    expect(again.status).toBe(429);
    expect(JSON.parse(again.text).detail).toMatch(/failedValidationsPerIdentifier/);
    // Other names are not affected.
    expect((await postAs(key, kid, `${B}/new-order`, { identifiers: [{ type: 'dns', value: 'ok.example' }] })).status).toBe(201);
  });

  it('new orders per account', async () => {
    let last = 0;
    for (let i = 0; i < 8 && last !== 429; i++) last = (await postAs(key, kid, `${B}/new-order`, { identifiers: [{ type: 'dns', value: `n${i}.example` }] })).status;
    expect(last).toBe(429);
  });

  it('config: rate limits, issuer, reuse and processing settings parse; bad values name the field', () => {
    const cfg = { acme: { provisioners: { p: { issuer: 'issuing', reuseAuthorizations: false, rateLimits: { newOrdersPerAccount: { limit: 5, window: '3h' }, newAccountsPerIp: { limit: 2, window: 60 } } } }, processing: { leaseSeconds: 5 } } };
    const p = loadAcmeConfig(cfg).get('p')!;
    expect(p.rateLimits).toEqual({ newOrdersPerAccount: { limit: 5, windowMs: 3 * HOUR }, newAccountsPerIp: { limit: 2, windowMs: 60_000 } });
    expect(p.issuer).toBe('issuing');
    expect(p.reuseAuthorizations).toBe(false);
    expect(p.reusePendingAuthorizations).toBe(true);
    expect(processingSettings(cfg)).toEqual({ leaseMs: 5000, sweepMs: 2000 });
    expect(processingSettings({})).toEqual({ leaseMs: 60_000, sweepMs: 2000 });
    expect(() => loadAcmeConfig({ acme: { provisioners: { p: { rateLimits: { bogus: { limit: 1, window: '1h' } } } } } })).toThrow(/acme\.provisioners\.p\.rateLimits/);
    expect(() => loadAcmeConfig({ acme: { provisioners: { p: { rateLimits: { newAccountsPerIp: { limit: 1, window: 'soon' } } } } } })).toThrow(/newAccountsPerIp\.window/);
    expect(() => loadAcmeConfig({ acme: { processing: { leaseSeconds: 0 } } })).toThrow(/acme\.processing\.leaseSeconds/);
    const profiles = new Map([['tls-server', { protocols: ['acme'], provisioners: ['*'] }], ['est-only', { protocols: ['est'], provisioners: ['*'] }], ['other', { protocols: ['acme'], provisioners: ['x'] }]]);
    const check = (c: unknown) => () => checkAcmeConfig(c, loadAcmeConfig(c), { profiles, issuers: (id) => id === 'issuing' });
    expect(check(cfg)).not.toThrow();
    expect(check({ acme: { provisioners: { p: { profiles: ['tls-server', 'est-only'] } } } })).toThrow(/acme\.provisioners\.p\.profiles\[1\]: profile est-only does not allow the acme protocol/);
    expect(check({ acme: { provisioners: { p: { profiles: ['other'] } } } })).toThrow(/profiles\[0\]: profile other does not allow provisioner p/);
    expect(check({ acme: { provisioners: { p: { issuer: 'gone' } } } })).toThrow(/acme\.provisioners\.p\.issuer: unknown issuer gone/);
  });

  it('registered domains: under a provisioner suffix, else the last two labels', () => {
    expect(registeredDomain({ type: 'dns', value: 'a.b.corp.example' }, ['corp.example'])).toBe('dns:b.corp.example');
    expect(registeredDomain({ type: 'dns', value: '*.x.y.example' })).toBe('dns:y.example');
    expect(registeredDomain({ type: 'ip', value: '10.0.0.1' })).toBe('ip:10.0.0.1');
  });
});
