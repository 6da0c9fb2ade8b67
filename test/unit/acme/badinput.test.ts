/** The issue's bad-input list not covered elsewhere: each gets its problem document, a fresh nonce and an audit record of the denial. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonceService } from '../../../src/protocols/acme/nonces.js';
import { BASE, harnessWithAccount, type Harness, type Key } from './harness.js';

const ERR = 'urn:ietf:params:acme:error:';

describe('ACME bad input', () => {
  let h: Harness;
  let key: Key;
  let kid: string;

  beforeAll(async () => ({ h, key, kid } = await harnessWithAccount()));
  afterAll(async () => h.close());

  const denied = (type: string) => h.audited.filter((e) => e.action === 'acme.request.denied' && e.data?.type === ERR + type);

  it('oversized body: 413 malformed, audited', async () => {
    const before = denied('malformed').length;
    const r = await h.post('/new-order', 'x'.repeat(70_000));
    expect(r.status).toBe(413);
    expect(JSON.parse(r.text).type).toBe(`${ERR}malformed`);
    expect(r.headers['replay-nonce']).toBeTruthy();
    expect(denied('malformed').length).toBe(before + 1);
  });

  it('missing nonce, forged nonce and expired nonce: badNonce, audited with the account', async () => {
    const noNonce = await h.jws(key, '/new-order', { identifiers: [{ type: 'dns', value: 'a.example' }] }, { kid, header: { nonce: undefined } });
    const r1 = await h.post('/new-order', noNonce);
    expect(JSON.parse(r1.text).type).toBe(`${ERR}badNonce`);
    const real = await h.nonce();
    const forged = `${real.slice(0, 30)}${real[30] === 'A' ? 'B' : 'A'}${real.slice(31)}`;
    const r2 = await h.post('/new-order', await h.jws(key, '/new-order', { identifiers: [{ type: 'dns', value: 'a.example' }] }, { kid, nonce: forged }));
    expect(JSON.parse(r2.text).type).toBe(`${ERR}badNonce`);
    // A nonce issued an hour and more ago (same store, so the same HMAC key) has expired.
    const old = await new NonceService(h.store.acme, () => new Date(Date.now() - 2 * 3_600_000)).issue();
    const r3 = await h.post('/new-order', await h.jws(key, '/new-order', { identifiers: [{ type: 'dns', value: 'a.example' }] }, { kid, nonce: old }));
    expect(JSON.parse(r3.text).type).toBe(`${ERR}badNonce`);
    const rec = denied('badNonce').at(-1)!;
    expect(rec.actor).toBe('acme:anonymous'); // the nonce is checked before the signature: nobody is authenticated yet
    expect(rec.result).toBe('denied');
  });

  it('finalize before ready: orderNotReady, audited with the account', async () => {
    const o = await h.jws(key, '/new-order', { identifiers: [{ type: 'dns', value: 'nr.example' }] }, { kid }).then((j) => h.post('/new-order', j));
    const fin = (o.body.finalize as string).slice(BASE.length);
    const r = await h.post(fin, await h.jws(key, fin, { csr: 'AAAA' }, { kid }));
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text).type).toBe(`${ERR}orderNotReady`);
    expect(denied('orderNotReady').at(-1)?.actor).toBe(`acme:${kid.split('/').pop()}`);
  });
});
