/** §7.1.4 authorization reuse: valid and pending authorizations of the same account + identifier are attached to new orders. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProvisioner } from '../../../src/protocols/acme/config.js';
import { BASE, harness, newKey, type Harness, type Key } from './harness.js';

const ERR = 'urn:ietf:params:acme:error:';

describe('ACME authorization reuse', () => {
  let h: Harness;
  let key: Key;
  let kid: string;
  const postAs = (k: Key, kidUrl: string, url: string, payload: unknown, prov = 'acme') =>
    h.jws(k, url.slice(`https://acme.test:8443/acme/${prov}`.length), payload, { kid: kidUrl, prov }).then((j) => h.post(url.slice(`https://acme.test:8443/acme/${prov}`.length), j, undefined, prov));
  const pag = (url: string) => postAs(key, kid, url, '');
  const order = (value: string, k = key, kidUrl = kid, prov = 'acme') => postAs(k, kidUrl, `https://acme.test:8443/acme/${prov}/new-order`, { identifiers: [{ type: 'dns', value }] }, prov);
  const chId = async (authzUrl: string, type = 'http-01') => {
    const a = await pag(authzUrl);
    const c = a.body.challenges.find((x: { type: string }) => x.type === type);
    await postAs(key, kid, c.url, {});
    return c.url.split('/').pop() as string;
  };

  beforeAll(async () => {
    h = await harness({ provisioners: ['acme', defaultProvisioner('noreuse', 'tls-server', { reuseAuthorizations: false })] });
    key = await newKey();
    kid = await h.account(key);
  });
  afterAll(async () => h.close());

  it('attaches a valid authorization to a new order, which starts ready', async () => {
    const o1 = await order('reuse.example');
    await h.store.acme.completeChallenge(await chId(o1.body.authorizations[0]), { ok: true, validated: new Date() });
    expect((await pag(o1.headers.location)).body.status).toBe('ready');
    const o2 = await order('reuse.example');
    expect(o2.status).toBe(201);
    expect(o2.body.status).toBe('ready');
    expect(o2.body.authorizations).toEqual(o1.body.authorizations);
    // Reading it back through the link table gives the same.
    expect((await pag(o2.headers.location)).body.authorizations).toEqual(o1.body.authorizations);
    // A wildcard order for the same name needs its own (dns-01) authorization.
    const w = await postAs(key, kid, `${BASE}/new-order`, { identifiers: [{ type: 'dns', value: '*.reuse.example' }] });
    expect(w.body.status).toBe('pending');
    expect(w.body.authorizations[0]).not.toBe(o1.body.authorizations[0]);
  });

  it('shares a pending authorization; its validation makes every linked order ready', async () => {
    const o1 = await order('pending.example');
    const o2 = await order('pending.example');
    expect(o2.body.authorizations).toEqual(o1.body.authorizations);
    const o3 = await postAs(key, kid, `${BASE}/new-order`, { identifiers: [{ type: 'dns', value: 'pending.example' }, { type: 'dns', value: 'other.example' }] });
    expect(o3.body.authorizations).toContain(o1.body.authorizations[0]);
    await h.store.acme.completeChallenge(await chId(o1.body.authorizations[0]), { ok: true, validated: new Date() });
    expect((await pag(o1.headers.location)).body.status).toBe('ready');
    expect((await pag(o2.headers.location)).body.status).toBe('ready');
    expect((await pag(o3.headers.location)).body.status).toBe('pending'); // other.example is not valid yet
  });

  it('a failed shared authorization invalidates every linked order; the next order gets a fresh one', async () => {
    const o1 = await order('fails.example');
    const o2 = await order('fails.example');
    await h.store.acme.completeChallenge(await chId(o1.body.authorizations[0]), { ok: false, error: { type: `${ERR}connection`, detail: 'refused', status: 400 } });
    for (const o of [o1, o2]) {
      const r = await pag(o.headers.location);
      expect(r.body.status).toBe('invalid');
      expect(r.body.error.type).toBe(`${ERR}connection`);
    }
    const o3 = await order('fails.example');
    expect(o3.body.status).toBe('pending');
    expect(o3.body.authorizations[0]).not.toBe(o1.body.authorizations[0]);
  });

  it('deactivating a shared authorization invalidates every linked order', async () => {
    const o1 = await order('deact.example');
    const o2 = await order('deact.example');
    const d = await postAs(key, kid, o1.body.authorizations[0], { status: 'deactivated' });
    expect(d.body.status).toBe('deactivated');
    expect((await pag(o1.headers.location)).body.status).toBe('invalid');
    expect((await pag(o2.headers.location)).body.status).toBe('invalid');
  });

  it('never reuses another account\'s authorization, nor when the provisioner turns reuse off', async () => {
    const o1 = await order('mine.example');
    const other = await newKey();
    const otherKid = await h.account(other);
    const o2 = await postAs(other, otherKid, `${BASE}/new-order`, { identifiers: [{ type: 'dns', value: 'mine.example' }] });
    expect(o2.body.authorizations[0]).not.toBe(o1.body.authorizations[0]);

    const k = await newKey();
    const r = await h.post('/new-account', await h.jws(k, '/new-account', { termsOfServiceAgreed: true }, { prov: 'noreuse' }), undefined, 'noreuse');
    const nk = r.headers.location as string;
    const a = await order('x.example', k, nk, 'noreuse');
    const b = await order('x.example', k, nk, 'noreuse');
    expect(a.status).toBe(201);
    expect(b.body.authorizations[0]).not.toBe(a.body.authorizations[0]);
  });
});
