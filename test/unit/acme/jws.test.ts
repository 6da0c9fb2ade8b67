/** RFC 8555 §6.2–6.5 request checks, through the express router (supertest). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE, HOST, harnessWithAccount, newKey, type Harness, type Key } from './harness.js';

const ERR = 'urn:ietf:params:acme:error:';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('ACME JWS verification', () => {
  let h: Harness;
  let key: Key;
  let kid: string;

  beforeAll(async () => ({ h, key, kid } = await harnessWithAccount()));
  afterAll(async () => h.close());

  function expectProblem(r: { status: number; headers: Record<string, string>; body: unknown; text: string }, type: string, status = 400) {
    expect(r.status, r.text).toBe(status);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(r.text).type).toBe(ERR + type);
    expect(r.headers['replay-nonce']).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(r.headers['link']).toContain(`<${BASE}/directory>;rel="index"`);
  }

  it('serves the directory and nonces', async () => {
    const d = await h.agent().get('/acme/acme/directory').set('Host', HOST);
    expect(d.status).toBe(200);
    expect(d.body.newAccount).toBe(`${BASE}/new-account`);
    const head = await h.agent().head('/acme/acme/new-nonce').set('Host', HOST);
    expect(head.status).toBe(200);
    expect(head.headers['cache-control']).toBe('no-store');
    expect(head.headers['content-length']).toBe('0'); // else node clients drop the keep-alive connection
    const get = await h.agent().get('/acme/acme/new-nonce').set('Host', HOST);
    expect(get.status).toBe(204);
    expect(get.headers['replay-nonce']).not.toBe(head.headers['replay-nonce']);
    const unknown = await h.agent().get('/acme/nope/directory').set('Host', HOST);
    expect(unknown.status).toBe(404);
  });

  it('newAccount returns the existing account for a known key, and onlyReturnExisting for an unknown one', async () => {
    const again = await h.post('/new-account', await h.jws(key, '/new-account', {}));
    expect(again.status).toBe(200);
    expect(again.headers.location).toBe(kid);
    const other = await newKey('RS256');
    expectProblem(await h.post('/new-account', await h.jws(other, '/new-account', { onlyReturnExisting: true })), 'accountDoesNotExist');
    const acct = await h.post(kid.slice(BASE.length), await h.jws(key, kid.slice(BASE.length), '', { kid }));
    expect(acct.status).toBe(200);
    expect(acct.body).toMatchObject({ status: 'valid', contact: ['mailto:a@b.c'] });
    expectProblem(await h.post('/new-account', await h.jws(other, '/new-account', { contact: ['tel:+1'] })), 'unsupportedContact');
  });

  it('rejects a wrong content type', async () => {
    expectProblem(await h.post('/new-account', await h.jws(key, '/new-account', {}), 'application/json'), 'malformed', 415);
  });

  it('rejects a body that is not JSON', async () => {
    expectProblem(await h.post('/new-account', '{not json'), 'malformed');
  });

  it('rejects a protected header that is not base64url', async () => {
    const j = await h.jws(key, '/new-account', {});
    expectProblem(await h.post('/new-account', { ...j, protected: '!!' + j.protected }), 'malformed');
    expectProblem(await h.post('/new-account', { ...j, protected: b64('x').slice(0, 3) + '*' }), 'malformed');
  });

  it('rejects both jwk and kid', async () => {
    expectProblem(await h.post('/new-order', await h.jws(key, '/new-order', {}, { kid, header: { jwk: key.jwk } })), 'malformed');
  });

  it('rejects kid where jwk is required and jwk where kid is required', async () => {
    expectProblem(await h.post('/new-account', await h.jws(key, '/new-account', {}, { kid })), 'malformed');
    expectProblem(await h.post('/new-order', await h.jws(key, '/new-order', {})), 'malformed');
  });

  it('rejects a url that is not the request URL', async () => {
    expectProblem(await h.post('/new-account', await h.jws(key, '/new-account', {}, { header: { url: `${BASE}/new-order` } })), 'unauthorized', 403);
  });

  it('rejects an unknown kid', async () => {
    expectProblem(await h.post('/new-order', await h.jws(key, '/new-order', {}, { kid: `${BASE}/acct/nobody` })), 'accountDoesNotExist');
  });

  it('rejects a replayed nonce with badNonce and a fresh nonce', async () => {
    const j = await h.jws(key, '/new-account', {});
    expect((await h.post('/new-account', j)).status).toBe(200);
    const r = await h.post('/new-account', j);
    expectProblem(r, 'badNonce');
    const nonce = JSON.parse(Buffer.from(j.protected!, 'base64url').toString()).nonce;
    expect(r.headers['replay-nonce']).not.toBe(nonce);
    // The fresh nonce works.
    expect((await h.post('/new-account', await h.jws(key, '/new-account', {}, { nonce: r.headers['replay-nonce'] }))).status).toBe(200);
    expectProblem(await h.post('/new-account', await h.jws(key, '/new-account', {}, { nonce: 'made-up' })), 'badNonce');
  });

  it('rejects an unsupported algorithm with badSignatureAlgorithm', async () => {
    const j = await h.jws(key, '/new-account', {});
    const header = JSON.parse(Buffer.from(j.protected!, 'base64url').toString());
    const r = await h.post('/new-account', { ...j, protected: b64({ ...header, alg: 'HS256' }) });
    expectProblem(r, 'badSignatureAlgorithm');
    expect(JSON.parse(r.text).algorithms).toContain('ES256');
    expectProblem(await h.post('/new-account', { ...j, protected: b64({ ...header, alg: 'none' }), signature: '' }), 'malformed');
  });

  it('rejects a signature made by another key', async () => {
    const other = await newKey();
    const j = await h.jws(other, '/new-account', {}, { header: { jwk: key.jwk } });
    expectProblem(await h.post('/new-account', j), 'malformed');
    const k = await h.jws(other, '/new-order', { identifiers: [{ type: 'dns', value: 'a.example' }] }, { kid });
    expectProblem(await h.post('/new-order', k), 'malformed');
  });

  it('rejects unprotected headers and private keys in jwk', async () => {
    const j = await h.jws(key, '/new-account', {});
    expectProblem(await h.post('/new-account', { ...j, header: { kid } }), 'malformed');
    expectProblem(await h.post('/new-account', await h.jws(key, '/new-account', {}, { header: { jwk: { ...key.jwk, d: 'AAAA' } } })), 'badPublicKey');
  });

  it('answers GET on POST resources and unknown paths with problems', async () => {
    const g = await h.agent().get('/acme/acme/new-order').set('Host', HOST);
    expect(g.status).toBe(405);
    expect(g.headers['content-type']).toMatch(/problem\+json/);
    const u = await h.agent().post('/acme/acme/nothing').set('Host', HOST);
    expect(u.status).toBe(404);
    const big = await h.post('/new-account', 'x'.repeat(100_000));
    expect(big.status).toBe(413);
    expect(big.headers['content-type']).toMatch(/problem\+json/);
  });
});
