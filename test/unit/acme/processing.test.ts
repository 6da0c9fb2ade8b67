/**
 * Store-backed processing: Retry-After while an order is processing, and a sweeper that finishes
 * finalizations and validations a dead node left behind — issuing exactly once.
 */
import * as acme from 'acme-client';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProvisioner } from '../../../src/protocols/acme/config.js';
import { orderRequester } from '../../../src/protocols/acme/processing.js';
import { Sweeper } from '../../../src/protocols/acme/sweeper.js';
import { ValidationPool } from '../../../src/protocols/acme/validation/worker.js';
import { cert } from '../../contract/store-contract.js';
import { BASE, harness, newKey, type Harness, type Key } from './harness.js';

describe('ACME processing: Retry-After, leases and the sweeper', () => {
  let h: Harness;
  let key: Key;
  let kid: string;
  let issues = 0;
  let release: (() => void) | undefined;
  let responder: Server;
  const tokens = new Map<string, string>();
  const postAs = (url: string, payload: unknown) => h.jws(key, url.slice(BASE.length), payload, { kid }).then((j) => h.post(url.slice(BASE.length), j));
  const readyOrder = async (name: string) => {
    const o = await postAs(`${BASE}/new-order`, { identifiers: [{ type: 'dns', value: name }] });
    const a = await postAs(o.body.authorizations[0], '');
    const c = a.body.challenges.find((x: { type: string }) => x.type === 'http-01');
    await postAs(c.url, {});
    await h.store.acme.completeChallenge(c.url.split('/').pop(), { ok: true, validated: new Date() });
    const [, csr] = await acme.crypto.createCsr({ altNames: [name] });
    return { o, id: (o.headers.location as string).split('/').pop()!, csr: acme.crypto.getPemBodyAsB64u(csr) };
  };

  beforeAll(async () => {
    h = await harness({
      issue: async (req) => {
        issues++;
        if (req.requester.includes('slow')) await new Promise<void>((r) => (release = r));
        return { serial: `0b${issues.toString(16).padStart(4, '0')}` } as never;
      },
      deps: { finalizeWaitMs: 200, leaseMs: 60_000 },
    });
    key = await newKey();
    kid = await h.account(key);
    responder = createServer((req, res) => {
      const ka = tokens.get((req.url ?? '').split('/').pop() ?? '');
      res.writeHead(ka ? 200 : 404).end(ka ?? '');
    });
    await new Promise<void>((r) => responder.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    responder.close();
    await h.close();
  });

  it('finalize answers processing + Retry-After when issuance takes long, then the order becomes valid', async () => {
    const { o, id, csr } = await readyOrder('slow.example');
    // Make this order's issuance slow (the fake authority waits when the requester names "slow").
    const realIssue = h.deps.authority.issue;
    h.deps.authority.issue = (req) => realIssue({ ...req, requester: `${req.requester}/slow` });
    const r = await postAs(o.body.finalize, { csr });
    h.deps.authority.issue = realIssue;
    expect(r.status, r.text).toBe(200);
    expect(r.body.status).toBe('processing');
    expect(r.headers['retry-after']).toBe('1');
    const poll = await postAs(o.headers.location, '');
    expect(poll.body.status).toBe('processing');
    expect(poll.headers['retry-after']).toBe('1');
    release!();
    await new Promise((res) => setTimeout(res, 100));
    const done = await postAs(o.headers.location, '');
    expect(done.body.status).toBe('valid');
    expect(done.headers['retry-after']).toBeUndefined();
    expect((await h.store.acme.getOrder(id))?.csr).toBeNull();
  });

  it('a finalization whose node died is finished by the sweeper of another node', async () => {
    const { id, csr } = await readyOrder('died.example');
    const t0 = new Date();
    // Node A took the order (lease) and died before issuing.
    expect(await h.store.acme.updateOrder(id, ['ready'], { status: 'processing', csr: Buffer.from(csr, 'base64url'), claimedUntil: new Date(t0.getTime() + 1000) })).toBe(true);
    const pool = { enqueue: () => true, load: 0 };
    const sweeper = (now: Date) => new Sweeper({ deps: { ...h.deps, clock: () => now }, pool, provisioners: new Map([['acme', defaultProvisioner()]]) });
    // Lease still held: nothing happens.
    expect((await sweeper(t0).sweep()).orders).toBe(0);
    const before = issues;
    expect((await sweeper(new Date(t0.getTime() + 5000)).sweep()).orders).toBe(1);
    expect(issues).toBe(before + 1);
    const got = await h.store.acme.getOrder(id);
    expect(got?.status).toBe('valid');
    expect(got?.certSerial).toBeTruthy();
  });

  it('exactly once: a certificate stored before the node died is linked, not issued again', async () => {
    const { id, csr } = await readyOrder('stored.example');
    const t0 = new Date();
    await h.store.acme.updateOrder(id, ['ready'], { status: 'processing', csr: Buffer.from(csr, 'base64url'), claimedUntil: t0 });
    const order = (await h.store.acme.getOrder(id))!;
    await h.store.certificates.insert(cert('0c0c01', { requester: orderRequester(order) }));
    const before = issues;
    await new Sweeper({ deps: { ...h.deps, clock: () => new Date(t0.getTime() + 1000) }, pool: { enqueue: () => true, load: 0 }, provisioners: new Map() }).sweep();
    expect(issues).toBe(before);
    expect((await h.store.acme.getOrder(id))?.certSerial).toBe('0c0c01');
  });

  it('an order whose finalization keeps dying is given up after 3 attempts (invalid, serverInternal)', async () => {
    const { id, csr } = await readyOrder('doomed.example');
    let t = new Date();
    await h.store.acme.updateOrder(id, ['ready'], { status: 'processing', csr: Buffer.from(csr, 'base64url'), claimedUntil: t });
    // Three nodes claimed it in turn and died.
    for (let i = 1; i <= 3; i++) {
      t = new Date(t.getTime() + 1000);
      expect(await h.store.acme.claimOrder(id, t, t)).toBe(i);
    }
    const before = issues;
    await new Sweeper({ deps: { ...h.deps, clock: () => new Date(t.getTime() + 1000) }, pool: { enqueue: () => true, load: 0 }, provisioners: new Map() }).sweep();
    expect(issues).toBe(before);
    const got = await h.store.acme.getOrder(id);
    expect(got?.status).toBe('invalid');
    expect(got?.error?.type).toBe('urn:ietf:params:acme:error:serverInternal');
  });

  it('a validation whose node died (lease lapsed) is re-run by the sweeper through the pool', async () => {
    const o = await postAs(`${BASE}/new-order`, { identifiers: [{ type: 'dns', value: 'val.example' }] });
    const a = await postAs(o.body.authorizations[0], '');
    const c = a.body.challenges.find((x: { type: string }) => x.type === 'http-01');
    await postAs(c.url, {});
    const chId = c.url.split('/').pop() as string;
    const t0 = new Date();
    // Node A claimed it, then died.
    expect(await h.store.acme.claimChallenge(chId, t0, new Date(t0.getTime() + 1000))).toBe(1);
    expect(await h.store.acme.claimChallenge(chId, t0, new Date(t0.getTime() + 1000))).toBeUndefined();
    const acct = await h.store.acme.getAccount(kid.split('/').pop()!);
    tokens.set(c.token, `${c.token}.${acct!.thumbprint}`);
    const later = new Date(t0.getTime() + 5000);
    const pool = new ValidationPool({
      repo: h.store.acme, audit: { emitted: (e) => e }, clock: () => later,
      resolver: { addresses: async () => ['127.0.0.1'], txt: async () => [] },
      http01Port: (responder.address() as AddressInfo).port, tlsAlpn01Port: 1,
    });
    const s = new Sweeper({ deps: { ...h.deps, clock: () => later }, pool, provisioners: new Map() });
    expect((await s.sweep()).challenges).toBe(1);
    await pool.close();
    expect((await h.store.acme.getChallenge(chId))?.status).toBe('valid');
    expect((await postAs(o.headers.location, '')).body.status).toBe('ready');
  });
});
