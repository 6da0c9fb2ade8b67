/**
 * The fast path in front of express (fast.ts): keep-alive nonces, one log line and one count per
 * request, and the requests it leaves to express (answered as before). Express alone still serves
 * the whole protocol (it is the fallback): a short flow through it.
 */
import { once } from 'node:events';
import { request as httpRequest, Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acmeFastHandler } from '../../../src/protocols/acme/fast.js';
import { BASE, HOST, harness, harnessWithAccount, newKey, type Harness, type Key } from './harness.js';

const ERR = 'urn:ietf:params:acme:error:';

/** A real listener as `serve` has it: the fast path, then express. */
async function listen(h: Harness, count: (status: number) => void = () => undefined) {
  const fast = acmeFastHandler(h.endpoints);
  const server = createServer((req, res) => void (fast(req, res, { draining: () => false, count }) || h.app(req, res)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

describe('ACME fast path', () => {
  let h: Harness;
  let key: Key;
  let kid: string;

  beforeAll(async () => ({ h, key, kid } = await harnessWithAccount()));
  afterAll(async () => h.close());

  it('keeps HEAD new-nonce on one keep-alive connection (node clients need its Content-Length)', async () => {
    const { server, port } = await listen(h);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<unknown>();
      const nonces = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const res = await new Promise<IncomingMessage>((resolve, reject) =>
          httpRequest({ host: '127.0.0.1', port, path: '/acme/acme/new-nonce', method: 'HEAD', agent, headers: { Host: HOST } }, resolve).on('error', reject).end(),
        );
        res.resume();
        await once(res, 'end');
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-length']).toBe('0');
        sockets.add(res.socket);
        nonces.add(String(res.headers['replay-nonce']));
      }
      expect(sockets.size).toBe(1);
      expect(nonces.size).toBe(3);
    } finally {
      agent.destroy();
      server.close();
    }
  });

  it('logs one pino-http shaped line per request and counts its status', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) });
    const fast = acmeFastHandler(h.endpoints, pino({ level: 'info' }, sink));
    const counted: number[] = [];
    const handler = (req: IncomingMessage, res: ServerResponse) => void (fast(req, res, { draining: () => false, count: (s) => counted.push(s) }) || h.app(req, res));
    const { default: request } = await import('supertest');
    expect((await request(handler).get('/acme/acme/directory').set('Host', HOST)).status).toBe(200);
    expect((await request(handler).get('/acme/nope/directory').set('Host', HOST)).status).toBe(404);
    await new Promise((r) => setImmediate(r));
    expect(counted).toEqual([200, 404]);
    expect(lines.map((l) => [l.app, (l.req as { url: string }).url, (l.res as { statusCode: number }).statusCode, l.msg])).toEqual([
      ['https', '/acme/acme/directory', 200, 'request completed'],
      ['https', '/acme/nope/directory', 404, 'request completed'],
    ]);
  });

  it('leaves chunked and oversized bodies, query strings and other methods to express, which answers as before', async () => {
    // A chunked body (no Content-Length): express reads it; the order is created.
    const jws = JSON.stringify(await h.jws(key, '/new-order', { identifiers: [{ type: 'dns', value: 'chunked.example' }] }, { kid }));
    const taken: number[] = [];
    const { server, port } = await listen(h, (s) => taken.push(s));
    try {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/acme/acme/new-order', method: 'POST', headers: { Host: HOST, 'Content-Type': 'application/jose+json' } }, resolve);
        req.on('error', reject);
        req.write(jws.slice(0, 10));
        req.end(jws.slice(10));
      });
      res.resume();
      await once(res, 'end');
      expect(res.statusCode).toBe(201);
      expect(taken).toEqual([]); // express answered
    } finally {
      server.close();
    }
    // Over the limit: 413 malformed, with a nonce.
    const big = await h.post('/new-order', 'x'.repeat(h.endpoints.bodyLimit + 1));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.text).type).toBe(`${ERR}malformed`);
    expect(big.headers['replay-nonce']).toBeTruthy();
    expect((await h.agent().get('/acme/acme/directory?x=1').set('Host', HOST)).body.newOrder).toBe(`${BASE}/new-order`);
    const get = await h.agent().get('/acme/acme/new-order').set('Host', HOST);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });
});

describe('ACME over express alone (the fallback router)', () => {
  let h: Harness;
  beforeAll(async () => (h = await harness({ express: true })));
  afterAll(async () => h.close());

  it('serves account, order, authorization and problems', async () => {
    const key = await newKey('ES384');
    const kid = await h.account(key);
    const o = await h.post('/new-order', await h.jws(key, '/new-order', { identifiers: [{ type: 'dns', value: 'express.example' }] }, { kid }));
    expect(o.status, o.text).toBe(201);
    expect(o.headers['content-type']).toBe('application/json; charset=utf-8');
    const authz = (o.body.authorizations as string[])[0]!.slice(BASE.length);
    const a = await h.post(authz, await h.jws(key, authz, '', { kid }));
    expect(a.body.identifier).toEqual({ type: 'dns', value: 'express.example' });
    const head = await h.agent().head('/acme/acme/new-nonce').set('Host', HOST);
    expect(head.headers['content-length']).toBe('0');
    const missing = await h.agent().post('/acme/acme/nothing').set('Host', HOST).set('Content-Type', 'application/jose+json').send('{}');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text).type).toBe(`${ERR}malformed`);
  });
});
