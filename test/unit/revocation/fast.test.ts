/** The node:http OCSP fast path: same answers and headers as the express routes, falls through otherwise. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCSP_STATUS } from '../../../src/pki/ocsp.js';
import { ocspFastHandler } from '../../../src/revocation/fast.js';
import type { OcspResponder, OcspResult } from '../../../src/revocation/ocsp/responder.js';

const seen: Buffer[] = [];
const fake = {
  respond: async (der: Uint8Array): Promise<OcspResult> => {
    seen.push(Buffer.from(der));
    const now = new Date();
    return { der: Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x00]), status: OCSP_STATUS.successful, producedAt: now, nextUpdate: new Date(now.getTime() + 3600_000), cacheable: der[0] !== 0xff };
  },
  cached: () => undefined,
} as unknown as OcspResponder;

let server: Server;
let base = '';
const counted: number[] = [];
let draining = false;

beforeAll(async () => {
  const h = ocspFastHandler({ ocsp: fake });
  const ctx = { draining: () => draining, count: (s: number) => counted.push(s) };
  server = createServer((req, res) => {
    if (h(req, res, ctx)) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('fallback');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const hex = async (res: Response) => Buffer.from(await res.arrayBuffer()).toString('hex');

describe('ocspFastHandler', () => {
  it('answers POST with the body passed to the responder, not cacheable', async () => {
    const res = await fetch(`${base}/ocsp`, { method: 'POST', body: Buffer.from('3000', 'hex') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/ocsp-response');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-store');
    expect(await hex(res)).toBe('30030a0100');
    expect(seen.at(-1)!.toString('hex')).toBe('3000');
    expect(counted.at(-1)).toBe(200);
  });

  it('rejects oversized bodies (declared or streamed) with malformedRequest and keeps serving', async () => {
    expect(await hex(await fetch(`${base}/ocsp/`, { method: 'POST', body: Buffer.alloc(100_000) }))).toBe('30030a0101');
    // Streamed without Content-Length (chunked).
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(8192));
        c.close();
      },
    });
    const res = await fetch(`${base}/ocsp?x=1`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(await hex(res)).toBe('30030a0101');
    expect(await hex(await fetch(`${base}/ocsp`, { method: 'POST', body: Buffer.from('3001', 'hex') }))).toBe('30030a0100');
  });

  it('answers the GET form with RFC 5019 cache headers, nonce responses without, and malformed input', async () => {
    const get = await fetch(`${base}/ocsp/${encodeURIComponent(Buffer.from('3000', 'hex').toString('base64'))}`);
    expect(get.headers.get('cache-control')).toMatch(/^max-age=\d+, public, no-transform, must-revalidate$/);
    expect(get.headers.get('etag')).toMatch(/^"[0-9a-f]{40}"$/);
    expect(get.headers.get('last-modified')).toBeTruthy();
    expect(get.headers.get('expires')).toBeTruthy();
    expect(await hex(get)).toBe('30030a0100');
    const uncacheable = await fetch(`${base}/ocsp/${Buffer.from('ff00', 'hex').toString('base64url')}`);
    expect(uncacheable.headers.get('cache-control')).toBe('no-cache, no-store');
    for (const bad of ['', '/', '/%%%', '/!!!', '/A']) expect(await hex(await fetch(`${base}/ocsp${bad}`)), bad).toBe('30030a0101');
  });

  it('falls through for other methods and paths, and closes connections while draining', async () => {
    expect((await fetch(`${base}/ocsp/MAA=`, { method: 'HEAD' })).status).toBe(404);
    expect(await (await fetch(`${base}/crl/issuing.crl`)).text()).toBe('fallback');
    expect(await (await fetch(`${base}/ocspx`, { method: 'POST', body: 'x' })).text()).toBe('fallback');
    draining = true;
    expect((await fetch(`${base}/ocsp`, { method: 'POST', body: Buffer.from('3000', 'hex') })).headers.get('connection')).toBe('close');
    draining = false;
  });
});
