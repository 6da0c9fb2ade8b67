/**
 * The node:http SCEP fast path takes exactly the plain POST PKIOperation requests (the label as the
 * express routes would find it) and lets everything else fall through to express.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastLabel, scepFastHandler } from '../../../../src/protocols/scep/fast.js';
import type { ScepHandlers } from '../../../../src/protocols/scep/handlers.js';
import type { ScepRequest } from '../../../../src/protocols/scep/ports.js';

const seen: ScepRequest[] = [];
const handlers = {
  handle: async (r: ScepRequest) => {
    seen.push(r);
    if (r.message?.[0] === 0xff) throw new Error('bug');
    return { status: 200, headers: { 'Content-Type': 'application/x-pki-message' }, body: Buffer.from([0x30, 0x00]) };
  },
} as unknown as ScepHandlers;

let server: Server;
let base = '';
const counted: number[] = [];

beforeAll(async () => {
  const h = scepFastHandler({ handlers, defaultLabel: 'default', maxBytes: 1000 });
  const ctx = { draining: () => false, count: (s: number) => counted.push(s) };
  server = createServer((req, res) => {
    if (h(req, res, ctx)) return;
    req.resume();
    res.writeHead(299, { 'content-type': 'text/plain' }).end('express');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const post = (path: string, body: Buffer = Buffer.from([0x30, 0x01, 0x05]), headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-pki-message', ...headers } });

describe('fastLabel', () => {
  it.each([
    ['/scep', 'default'],
    ['/scep/', 'default'],
    ['/SCEP/iot', 'iot'],
    ['/scep/iot/', 'iot'],
    ['/scep/iot/pkiclient.exe', 'iot'],
    ['/scep/a%2Eb', 'a.b'],
    ['/cgi-bin/pkiclient.exe', 'default'],
    ['/scepx', undefined],
    ['/scep/a/b', undefined],
    ['/scep/%zz', undefined],
    ['/other', undefined],
  ])('%s → %s', (path, label) => expect(fastLabel(path, 'default')).toBe(label));
});

describe('scepFastHandler', () => {
  it('answers POST PKIOperation with the handlers, passing body, label and address', async () => {
    const res = await post('/scep/iot?operation=PKIOperation');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-pki-message');
    expect(Buffer.from(await res.arrayBuffer()).toString('hex')).toBe('3000');
    expect(seen.at(-1)).toMatchObject({ label: 'iot', method: 'POST', operation: 'PKIOperation', ip: '127.0.0.1', message: Buffer.from([0x30, 0x01, 0x05]) });
    expect(counted.at(-1)).toBe(200);
  });

  it('falls through for GET, other operations, oversized or encoded bodies and unknown paths', async () => {
    const n = seen.length;
    expect((await fetch(`${base}/scep?operation=GetCACaps`)).status).toBe(299);
    expect((await post('/scep?operation=GetCACert')).status).toBe(299);
    expect((await post('/scep?operation=PKIOperation&operation=PKIOperation')).status).toBe(299);
    expect((await post('/scep')).status).toBe(299);
    expect((await post('/scep?operation=PKIOperation', Buffer.alloc(1001))).status).toBe(299);
    expect((await post('/scep?operation=PKIOperation', Buffer.from([0x1f, 0x8b]), { 'Content-Encoding': 'gzip' })).status).toBe(299);
    expect((await post('/scep/a/b?operation=PKIOperation')).status).toBe(299);
    expect(seen.length).toBe(n);
  });

  it('an unexpected handler failure is a generic 500, and the server keeps serving', async () => {
    const res = await post('/scep?operation=PKIOperation', Buffer.from([0xff]));
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('internal error\n');
    expect((await post('/scep?operation=PKIOperation')).status).toBe(200);
  });
});
