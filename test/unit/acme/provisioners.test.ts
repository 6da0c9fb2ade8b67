/** Provisioners from config: validation, directory meta, identifier policy, challenge types, profiles, EAB. */
import { FlattenedSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProvisioner, identifierRefusal, loadAcmeConfig } from '../../../src/protocols/acme/config.js';
import { newEabKey } from '../../../src/protocols/acme/eab.js';
import { HOST, harness, newKey, type Harness, type Key } from './harness.js';

const ERR = 'urn:ietf:params:acme:error:';

describe('acme config', () => {
  it('defaults to one provisioner `acme` with tls-server', () => {
    const m = loadAcmeConfig({});
    expect([...m.keys()]).toEqual(['acme']);
    expect(m.get('acme')).toMatchObject({ profiles: ['tls-server'], requireEab: false, challenges: ['http-01', 'dns-01', 'tls-alpn-01'] });
  });

  it('parses provisioners with lifetimes, suffixes, ranges and rejects bad input', () => {
    const m = loadAcmeConfig({ acme: { termsOfService: 'https://ca.example/tos', provisioners: { corp: { profiles: ['tls-server', 'tls-client'], dnsSuffixes: ['.Corp.Example'], ipRanges: ['10.0.0.0/8', 'fd00::/8'], challenges: ['dns-01'], requireEab: true, orderLifetime: '1d', authzLifetime: 3600 } } } }, ['tls-server', 'tls-client']);
    const p = m.get('corp')!;
    expect(p).toMatchObject({ dnsSuffixes: ['corp.example'], orderLifetimeMs: 86_400_000, authzLifetimeMs: 3_600_000, requireEab: true, termsOfService: 'https://ca.example/tos' });
    expect(identifierRefusal(p, { type: 'dns', value: 'a.corp.example' })).toBeUndefined();
    expect(identifierRefusal(p, { type: 'dns', value: 'corp.example' })).toBeUndefined();
    expect(identifierRefusal(p, { type: 'dns', value: 'evilcorp.example' })).toMatch(/not under/);
    expect(identifierRefusal(p, { type: 'ip', value: '10.1.2.3' })).toBeUndefined();
    expect(identifierRefusal(p, { type: 'ip', value: 'fd00::1' })).toBeUndefined();
    expect(identifierRefusal(p, { type: 'ip', value: '192.168.1.1' })).toMatch(/not in an allowed IP range/);
    expect(() => loadAcmeConfig({ acme: { provisioners: { x: { ipRanges: ['10.0.0.0/33'] } } } })).toThrow(/ipRanges/);
    expect(() => loadAcmeConfig({ acme: { provisioners: { x: { challenges: ['smtp-01'] } } } })).toThrow(/challenges/);
    expect(() => loadAcmeConfig({ acme: { provisioners: { x: { bogus: 1 } } } })).toThrow(/acme\.provisioners\.x/);
    expect(() => loadAcmeConfig({ acme: { provisioners: { x: { profiles: ['nope'] } } } }, ['tls-server'])).toThrow(/unknown profile/);
  });
});

describe('ACME provisioners (in process)', () => {
  let h: Harness;
  const corp = defaultProvisioner('corp', 'tls-server', {
    profiles: ['tls-server', 'tls-client'], dnsSuffixes: ['corp.example'], ipRanges: ['10.0.0.0/8'], challenges: ['http-01'], requireEab: true, termsOfService: 'https://ca.example/tos',
  });
  beforeAll(async () => {
    h = await harness({ provisioners: ['acme', corp] });
  });
  afterAll(async () => h.close());

  const url = (prov: string, path: string) => `https://${HOST}/acme/${prov}${path}`;
  const postJws = async (key: Key, prov: string, path: string, payload: unknown, kid?: string) =>
    h.post(path, await h.jws(key, path, payload, { prov, ...(kid ? { kid } : {}) }), 'application/jose+json', prov);
  const eabFor = async (key: Key, kid: string, hmac: Uint8Array, prov = 'corp', over: Record<string, unknown> = {}) =>
    new FlattenedSign(new TextEncoder().encode(JSON.stringify(key.jwk))).setProtectedHeader({ alg: 'HS256', kid, url: url(prov, '/new-account'), ...over } as { alg: string }).sign(hmac);

  it('serves a directory per provisioner; unknown is a 404 problem', async () => {
    const d = await h.agent().get('/acme/corp/directory').set('Host', HOST);
    expect(d.status).toBe(200);
    expect(d.body.newAccount).toBe(url('corp', '/new-account'));
    expect(d.body.renewalInfo).toBe(url('corp', '/renewal-info'));
    expect(d.body.meta.externalAccountRequired).toBe(true);
    expect(d.body.meta.termsOfService).toBe('https://ca.example/tos');
    expect(Object.keys(d.body.meta.profiles)).toEqual(['tls-server', 'tls-client']);
    const a = await h.agent().get('/acme/acme/directory').set('Host', HOST);
    expect(a.body.meta.externalAccountRequired).toBe(false);
    const u = await h.agent().get('/acme/nope/directory').set('Host', HOST);
    expect(u.status).toBe(404);
    expect(JSON.parse(u.text).type).toBe(ERR + 'malformed');
  });

  it('EAB: required, bad MAC and wrong url rejected, binds once', async () => {
    const key = await newKey();
    const none = await postJws(key, 'corp', '/new-account', { termsOfServiceAgreed: true });
    expect(JSON.parse(none.text).type).toBe(ERR + 'externalAccountRequired');

    const eab = newEabKey('corp', new Date());
    await h.store.acme.createEabKey(eab);
    const badMac = await postJws(key, 'corp', '/new-account', { externalAccountBinding: await eabFor(key, eab.kid, new Uint8Array(32)) });
    expect(badMac.status).toBe(403);
    expect(JSON.parse(badMac.text).type).toBe(ERR + 'unauthorized');
    const unknown = await postJws(key, 'corp', '/new-account', { externalAccountBinding: await eabFor(key, 'eab-nope', eab.hmacKey) });
    expect(JSON.parse(unknown.text).type).toBe(ERR + 'unauthorized');
    const wrongUrl = await postJws(key, 'corp', '/new-account', { externalAccountBinding: await eabFor(key, eab.kid, eab.hmacKey, 'acme') });
    expect(JSON.parse(wrongUrl.text).type).toBe(ERR + 'unauthorized');
    const other = await newKey();
    const wrongJwk = await postJws(key, 'corp', '/new-account', { externalAccountBinding: await eabFor(other, eab.kid, eab.hmacKey) });
    expect(JSON.parse(wrongJwk.text).type).toBe(ERR + 'unauthorized');
    // An EAB key of another provisioner does not work here.
    const acmeKey = newEabKey('acme', new Date());
    await h.store.acme.createEabKey(acmeKey);
    const cross = await postJws(key, 'corp', '/new-account', { externalAccountBinding: await eabFor(key, acmeKey.kid, acmeKey.hmacKey) });
    expect(JSON.parse(cross.text).type).toBe(ERR + 'unauthorized');

    const ok = await postJws(key, 'corp', '/new-account', { termsOfServiceAgreed: true, externalAccountBinding: await eabFor(key, eab.kid, eab.hmacKey) });
    expect(ok.status, ok.text).toBe(201);
    expect((await h.store.acme.getEabKey(eab.kid))!.accountId).toBe((ok.headers.location as string).split('/').pop());
    // One-time: a second account cannot reuse the kid.
    const again = await postJws(other, 'corp', '/new-account', { externalAccountBinding: await eabFor(other, eab.kid, eab.hmacKey) });
    expect(again.status).toBe(403);
    expect(JSON.parse(again.text).type).toBe(ERR + 'unauthorized');
  });

  it('accounts are bound to their provisioner: a kid from `acme` does not skip EAB on `corp`', async () => {
    const key = await newKey();
    const kid = await h.account(key);
    expect(kid).toMatch(/\/acme\/acme\/acct\//);
    const id = kid.split('/').pop()!;
    const cross = await postJws(key, 'corp', '/new-order', { identifiers: [{ type: 'dns', value: 'a.corp.example' }] }, url('corp', `/acct/${id}`));
    expect(JSON.parse(cross.text).type).toBe(ERR + 'accountDoesNotExist');
    const again = await postJws(key, 'corp', '/new-account', { onlyReturnExisting: true });
    expect(JSON.parse(again.text).type).toBe(ERR + 'unauthorized');
    expect((await h.store.acme.getAccount(id))!.provisioner).toBe('acme');
  });

  it('rejects identifiers outside the provisioner policy with subproblems, and honours profiles and challenge types', async () => {
    const key = await newKey();
    const eab = newEabKey('corp', new Date());
    await h.store.acme.createEabKey(eab);
    const acct = await postJws(key, 'corp', '/new-account', { externalAccountBinding: await eabFor(key, eab.kid, eab.hmacKey) });
    const kid = acct.headers.location as string;
    const r = await postJws(key, 'corp', '/new-order', { identifiers: [{ type: 'dns', value: 'ok.corp.example' }, { type: 'dns', value: 'www.other.example' }, { type: 'ip', value: '192.168.0.1' }] }, kid);
    expect(r.status).toBe(400);
    const body = JSON.parse(r.text);
    expect(body.type).toBe(ERR + 'rejectedIdentifier');
    expect(body.subproblems.map((s: { identifier: { value: string } }) => s.identifier.value)).toEqual(['www.other.example', '192.168.0.1']);
    expect(body.subproblems[0].type).toBe(ERR + 'rejectedIdentifier');
    // A wildcard needs dns-01, which this provisioner does not offer.
    const wild = await postJws(key, 'corp', '/new-order', { identifiers: [{ type: 'dns', value: '*.corp.example' }] }, kid);
    expect(JSON.parse(wild.text).type).toBe(ERR + 'rejectedIdentifier');
    const badProfile = await postJws(key, 'corp', '/new-order', { identifiers: [{ type: 'dns', value: 'a.corp.example' }], profile: 'ca' }, kid);
    expect(JSON.parse(badProfile.text).type).toBe(ERR + 'invalidProfile');
    expect(JSON.parse(badProfile.text).detail).toMatch(/invalidProfile/);
    const o = await postJws(key, 'corp', '/new-order', { identifiers: [{ type: 'dns', value: 'a.corp.example' }, { type: 'ip', value: '10.9.9.9' }], profile: 'tls-client' }, kid);
    expect(o.status, o.text).toBe(201);
    const order = await h.store.acme.getOrder((o.headers.location as string).split('/').pop()!);
    expect(order!.profile).toBe('tls-client');
    const authzs = await h.store.acme.listAuthzs(order!.id);
    expect(authzs.map((a) => a.challenges.map((c) => c.type))).toEqual([['http-01'], ['http-01']]);
    const def = await postJws(key, 'corp', '/new-order', { identifiers: [{ type: 'dns', value: 'b.corp.example' }] }, kid);
    expect((await h.store.acme.getOrder((def.headers.location as string).split('/').pop()!))!.profile).toBe('tls-server');
  });
});
