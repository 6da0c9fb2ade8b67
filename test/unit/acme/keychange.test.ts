/** §7.3.5 key rollover. */
import { FlattenedSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE, harness, newKey, type Harness, type Key } from './harness.js';

const ERR = 'urn:ietf:params:acme:error:';

describe('ACME keyChange', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.close());

  const inner = (newK: Key, payload: unknown, header: Record<string, unknown> = {}) =>
    new FlattenedSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: newK.alg, jwk: newK.jwk, url: `${BASE}/key-change`, ...header } as { alg: string }).sign(newK.priv);

  it('rolls the account key over; the old key stops working, the new one works', async () => {
    const oldK = await newKey();
    const newK = await newKey('RS256');
    const kid = await h.account(oldK);
    const r = await h.post('/key-change', await h.jws(oldK, '/key-change', await inner(newK, { account: kid, oldKey: oldK.jwk }), { kid }));
    expect(r.status, r.text).toBe(200);
    const path = kid.slice(BASE.length);
    expect(JSON.parse((await h.post(path, await h.jws(oldK, path, '', { kid }))).text).type).toBe(ERR + 'malformed');
    expect((await h.post(path, await h.jws(newK, path, '', { kid }))).status).toBe(200);
  });

  it('rejects a wrong oldKey, a wrong account, a nonce in the inner header and a key already in use', async () => {
    const a = await newKey();
    const b = await newKey();
    const kidA = await h.account(a);
    await h.account(b);
    const fresh = await newKey();
    const send = async (inn: unknown) => h.post('/key-change', await h.jws(a, '/key-change', inn, { kid: kidA }));
    expect((await send(await inner(fresh, { account: kidA, oldKey: fresh.jwk }))).status).toBe(400);
    expect((await send(await inner(fresh, { account: `${BASE}/acct/other`, oldKey: a.jwk }))).status).toBe(400);
    expect((await send(await inner(fresh, { account: kidA, oldKey: a.jwk }, { nonce: 'x' }))).status).toBe(400);
    expect((await send(await inner(b, { account: kidA, oldKey: a.jwk }))).status).toBe(409);
  });
});
