/**
 * OCSP fast path: `/ocsp` served straight from node:http, before express (express + pino-http
 * cost more per request than answering a cached OCSP request). Same behaviour as the express
 * routes in routes.ts, which stay as the fallback for everything this does not take (HEAD,
 * case variants, other paths): POST /ocsp[/] with the DER body (≤ OCSP_BODY_LIMIT), GET /ocsp[/]
 * → malformedRequest, GET /ocsp/{base64} (RFC 5019 §5) with cache headers when cacheable.
 */
import type { ServerResponse } from 'node:http';
import type { FastContext, FastHandler } from '../http/server.js';
import { ocspError, OCSP_STATUS } from '../pki/ocsp.js';
import { OcspResponder, type OcspResult } from './ocsp/responder.js';
import { decodeGetRequest, OCSP_BODY_LIMIT, ocspHeaders } from './routes.js';

/** GET paths up to this length are cache keys themselves (a one-CertID request is ~120 characters). */
const GET_KEY_MAX = 1024;

const MALFORMED: OcspResult = { der: ocspError(OCSP_STATUS.malformedRequest), status: OCSP_STATUS.malformedRequest };

/** Content-Length from the raw header list: `req.headers` would build an object per request (hot path). */
function declaredLength(raw: string[]): number {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 14 && raw[i]!.toLowerCase() === 'content-length') return Number(raw[i + 1]);
  return -1;
}

export function ocspFastHandler(d: { ocsp: OcspResponder; logger?: { error(o: object, m: string): void } }): FastHandler {
  const send = (res: ServerResponse, ctx: FastContext, r: OcspResult, cacheable: boolean) => {
    if (res.headersSent || res.destroyed) return;
    const h = ocspHeaders(r, cacheable); // memoized per result: never mutate
    res.writeHead(200, ctx.draining() ? { ...h, Connection: 'close' } : h);
    res.end(r.der);
    ctx.count(200);
  };
  const answer = (res: ServerResponse, ctx: FastContext, p: Promise<OcspResult>, cacheable: (r: OcspResult) => boolean) =>
    p.then(
      (r) => send(res, ctx, r, cacheable(r)),
      (e: unknown) => {
        // respond() never throws for client input; this is a bug guard, not a code path.
        d.logger?.error({ err: e }, 'OCSP fast path failed');
        send(res, ctx, { der: ocspError(OCSP_STATUS.internalError), status: OCSP_STATUS.internalError }, false);
      },
    );

  return (req, res, ctx) => {
    const url = req.url ?? '';
    if (!url.startsWith('/ocsp')) return false;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (req.method === 'POST') {
      if (path !== '/ocsp' && path !== '/ocsp/') return false;
      if (declaredLength(req.rawHeaders) > OCSP_BODY_LIMIT) {
        req.resume();
        send(res, ctx, MALFORMED, false);
        return true;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let tooBig = false;
      req.on('data', (c: Buffer) => {
        if (tooBig) return;
        size += c.length;
        if (size > OCSP_BODY_LIMIT) {
          tooBig = true;
          chunks.length = 0;
          send(res, ctx, MALFORMED, false);
        } else chunks.push(c);
      });
      req.on('end', () => {
        if (tooBig) return;
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        const key = OcspResponder.rawKey(body);
        const hit = key === undefined ? undefined : d.ocsp.cached(key);
        if (hit) send(res, ctx, hit, false);
        else void answer(res, ctx, d.ocsp.respond(body, key), () => false);
      });
      req.on('error', () => res.destroy());
      return true;
    }
    if (req.method === 'GET') {
      if (path === '/ocsp' || path === '/ocsp/') {
        send(res, ctx, MALFORMED, false);
        return true;
      }
      if (!path.startsWith('/ocsp/')) return false;
      // Identical GETs (what RFC 5019 clients and caches send) are found by their path, undecoded.
      const key = path.length <= GET_KEY_MAX ? `GET ${path}` : undefined;
      const hit = key === undefined ? undefined : d.ocsp.cached(key);
      if (hit) {
        send(res, ctx, hit, hit.cacheable === true);
        return true;
      }
      const der = decodeGetRequest(path.slice('/ocsp/'.length));
      if (!der || der.length > OCSP_BODY_LIMIT) {
        send(res, ctx, MALFORMED, false);
        return true;
      }
      // Responses carrying a nonce are unique: not cacheable (and never stored under `key`).
      void answer(res, ctx, d.ocsp.respond(der, key), (r) => r.cacheable === true);
      return true;
    }
    return false;
  };
}
