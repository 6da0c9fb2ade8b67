/** newOrder → authorizations → challenge → §7.1.6 status machine → finalize checks, in process. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derOrPem } from '../../../src/pki/pem.js';
import { P256_CSR } from '../pki/fixtures.js';
import { BASE, harness, newKey, type Harness, type Key } from './harness.js';

const ERR = 'urn:ietf:params:acme:error:';

describe('ACME orders', () => {
  let h: Harness;
  let key: Key;
  let kid: string;
  const pag = (url: string) => h.jws(key, url.slice(BASE.length), '', { kid }).then((j) => h.post(url.slice(BASE.length), j));
  const postAs = (k: Key, kidUrl: string, url: string, payload: unknown) => h.jws(k, url.slice(BASE.length), payload, { kid: kidUrl }).then((j) => h.post(url.slice(BASE.length), j));

  beforeAll(async () => {
    h = await harness();
    key = await newKey('EdDSA');
    kid = await h.account(key);
  });
  afterAll(async () => h.close());

  it('creates an order with one authorization per identifier and the right challenge types', async () => {
    const r = await postAs(key, kid, `${BASE}/new-order`, {
      identifiers: [{ type: 'dns', value: 'App.Example.internal' }, { type: 'dns', value: '*.wild.example' }, { type: 'ip', value: '10.0.0.1' }],
    });
    expect(r.status, r.text).toBe(201);
    expect(r.headers.location).toMatch(new RegExp(`^${BASE}/order/`));
    expect(r.body.status).toBe('pending');
    expect(r.body.identifiers[0]).toEqual({ type: 'dns', value: 'app.example.internal' });
    expect(r.body.authorizations).toHaveLength(3);
    const types = [];
    for (const url of r.body.authorizations as string[]) {
      const a = await pag(url);
      expect(a.status).toBe(200);
      types.push([a.body.identifier.value, a.body.wildcard ?? false, a.body.challenges.map((c: { type: string }) => c.type).sort().join(',')]);
    }
    expect(types).toEqual([
      ['app.example.internal', false, 'dns-01,http-01,tls-alpn-01'],
      ['wild.example', true, 'dns-01'],
      ['10.0.0.1', false, 'http-01,tls-alpn-01'],
    ]);
  });

  it('rejects bad identifiers', async () => {
    const bad = async (identifiers: unknown, type: string) => {
      const r = await postAs(key, kid, `${BASE}/new-order`, { identifiers });
      expect(r.status, r.text).toBeGreaterThanOrEqual(400);
      expect(r.body.type ?? JSON.parse(r.text).type).toBe(ERR + type);
    };
    await bad([{ type: 'email', value: 'a@b.c' }], 'unsupportedIdentifier');
    await bad([{ type: 'dns', value: 'bad_name!.example' }], 'rejectedIdentifier');
    await bad([], 'malformed');
    await bad([{ type: 'ip', value: '999.1.1.1' }], 'malformed');
    // Every bad identifier is reported, each in a subproblem naming it (§6.7.1).
    const r = await postAs(key, kid, `${BASE}/new-order`, { identifiers: [{ type: 'dns', value: 'ok.example' }, { type: 'dns', value: 'bad_1.example' }, { type: 'email', value: 'a@b.c' }] });
    const p = JSON.parse(r.text);
    expect(p.type).toBe(ERR + 'compound');
    expect(p.subproblems.map((x: { type: string; identifier: { value: string } }) => [x.type, x.identifier.value])).toEqual([
      [ERR + 'rejectedIdentifier', 'bad_1.example'],
      [ERR + 'unsupportedIdentifier', 'a@b.c'],
    ]);
    const two = JSON.parse((await postAs(key, kid, `${BASE}/new-order`, { identifiers: [{ type: 'dns', value: 'a_.x' }, { type: 'dns', value: 'b_.x' }] })).text);
    expect(two.type).toBe(ERR + 'rejectedIdentifier');
    expect(two.subproblems).toHaveLength(2);
  });

  it('runs the status machine: challenge → processing → valid → order ready, then checks the CSR', async () => {
    const o = await postAs(key, kid, `${BASE}/new-order`, { identifiers: [{ type: 'dns', value: 'svc.example.internal' }] });
    const orderUrl = o.headers.location as string;
    // Finalize before the order is ready.
    const early = await postAs(key, kid, o.body.finalize, { csr: derOrPem(P256_CSR, 'CERTIFICATE REQUEST').toString('base64url') });
    expect(JSON.parse(early.text).type).toBe(ERR + 'orderNotReady');
    expect(early.status).toBe(403);

    const authz = await pag(o.body.authorizations[0]);
    const http = authz.body.challenges.find((c: { type: string }) => c.type === 'http-01');
    const c = await postAs(key, kid, http.url, {});
    expect(c.status).toBe(200);
    expect(c.body.status).toBe('processing');
    expect(c.headers.link).toContain('rel="up"');
    const chId = http.url.split('/').pop();
    expect(h.enqueued).toContain(chId);
    // A second POST does not enqueue twice.
    await postAs(key, kid, http.url, {});
    expect(h.enqueued.filter((x) => x === chId)).toHaveLength(1);

    await h.store.acme.completeChallenge(chId, { ok: true, validated: new Date() });
    expect((await pag(o.body.authorizations[0])).body.status).toBe('valid');
    expect((await pag(orderUrl)).body.status).toBe('ready');

    const wrong = await postAs(key, kid, o.body.finalize, { csr: derOrPem(P256_CSR, 'CERTIFICATE REQUEST').toString('base64url') });
    expect(JSON.parse(wrong.text).type).toBe(ERR + 'badCSR');
    const junk = await postAs(key, kid, o.body.finalize, { csr: 'AAAA' });
    expect(JSON.parse(junk.text).type).toBe(ERR + 'badCSR');
    expect((await pag(orderUrl)).body.status).toBe('ready');
  });

  it('a failed challenge invalidates the authorization and the order', async () => {
    const o = await postAs(key, kid, `${BASE}/new-order`, { identifiers: [{ type: 'dns', value: 'fail.example.internal' }] });
    const authz = await pag(o.body.authorizations[0]);
    const dns = authz.body.challenges.find((c: { type: string }) => c.type === 'dns-01');
    await postAs(key, kid, dns.url, {});
    await h.store.acme.completeChallenge(dns.url.split('/').pop(), { ok: false, error: { type: ERR + 'dns', detail: 'no TXT', status: 400 } });
    const a = await pag(o.body.authorizations[0]);
    expect(a.body.status).toBe('invalid');
    const order = await pag(o.headers.location);
    expect(order.body.status).toBe('invalid');
    expect(order.body.error.type).toBe(ERR + 'dns');
  });

  it('hides other accounts\' orders and authorizations', async () => {
    const o = await postAs(key, kid, `${BASE}/new-order`, { identifiers: [{ type: 'dns', value: 'mine.example' }] });
    const other = await newKey('PS256');
    const otherKid = await h.account(other);
    const r = await postAs(other, otherKid, o.headers.location, '');
    expect(r.status).toBe(404);
    const a = await postAs(other, otherKid, o.body.authorizations[0], '');
    expect(a.status).toBe(404);
    const list = await pag(`${kid}/orders`);
    expect(list.body.orders).toContain(o.headers.location);
  });

  it('deactivates an account; its kid then stops working', async () => {
    const k = await newKey('ES384');
    const kidUrl = await h.account(k);
    const d = await postAs(k, kidUrl, kidUrl, { status: 'deactivated' });
    expect(d.body.status).toBe('deactivated');
    const r = await postAs(k, kidUrl, `${BASE}/new-order`, { identifiers: [{ type: 'dns', value: 'x.example' }] });
    expect(JSON.parse(r.text).type).toBe(ERR + 'unauthorized');
  });
});
