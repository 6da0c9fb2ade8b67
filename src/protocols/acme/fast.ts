/**
 * ACME fast path: canonical ACME requests served straight from node:https, before express (express,
 * its router and pino-http cost more per request than a nonce or a POST-as-GET itself, and an
 * issuance is ~10 requests). Same endpoints as the express router (endpoints.ts); this only routes
 * and reads the body. Anything unusual falls through to express, which answers it as before:
 * query strings, %-escapes, case or trailing-slash variants, other methods, unknown paths, bodies
 * without a Content-Length or with a Content-Encoding, and bodies over the limit.
 * Logs one line per request, in pino-http's shape (what express's logger would have written).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { readFastBody, type FastContext, type FastHandler } from '../../http/server.js';
import type { AcmeCall, AcmeEndpoints } from './endpoints.js';
import { POST_RESOURCES, type PostResource } from './routes.js';

/** Path segments the fast path takes (ids are base64url, serials hex, chain numbers digits, ARI certIDs two base64url parts). */
const SEGMENT = /^[A-Za-z0-9_.-]+$/;

function match(rest: string[]): { r: PostResource; params: Record<string, string> } | undefined {
  for (const r of POST_RESOURCES) {
    if (r.path.length !== rest.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; ok && i < rest.length; i++) {
      const p = r.path[i]!;
      if (p.startsWith(':')) params[p.slice(1)] = rest[i]!;
      else ok = p === rest[i];
    }
    if (ok) return { r, params };
  }
  return undefined;
}

export function acmeFastHandler(ep: AcmeEndpoints, logger?: Logger): FastHandler {
  const prefix = `${ep.mount}/`;
  const log = logger?.child({ app: 'https' });

  const done = (req: IncomingMessage, res: ServerResponse, ctx: FastContext, started: number) => {
    res.once('finish', () => {
      ctx.count(res.statusCode);
      if (!log) return;
      const level = res.statusCode >= 500 ? 'error' : 'info';
      if (log.isLevelEnabled(level)) {
        log[level]({ req: { method: req.method, url: req.url, remoteAddress: req.socket.remoteAddress }, res: { statusCode: res.statusCode }, responseTime: Math.round(performance.now() - started) }, 'request completed');
      }
    });
  };
  const guard = (p: Promise<void>, res: ServerResponse) =>
    p.catch((e: unknown) => {
      // The endpoints answer every error themselves; this only guards against a bug in doing so.
      log?.error({ err: e }, 'ACME fast path failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain', 'Content-Length': '15' }).end('internal error\n');
      else res.destroy();
    });

  return (req, res, ctx) => {
    const url = req.url ?? '';
    if (!url.startsWith(prefix) || url.includes('?')) return false;
    const parts = url.slice(prefix.length).split('/');
    if (parts.some((p) => !SEGMENT.test(p))) return false;
    const [prov, ...rest] = parts as [string, ...string[]];
    const c: AcmeCall = { req, res, prov, originalUrl: url };
    const method = req.method;
    let run: (() => Promise<void>) | undefined;
    if (method === 'POST') {
      const m = match(rest);
      const length = Number(req.headers['content-length']);
      const encoding = req.headers['content-encoding'];
      if (!m || !Number.isSafeInteger(length) || length > ep.bodyLimit || (encoding !== undefined && encoding !== 'identity')) return false;
      run = async () => {
        const body = await readFastBody(req);
        if (body === undefined) return void res.destroy();
        await ep.post(c, m.r.key, m.r.handler, m.params, body.length ? body : undefined);
      };
    } else if (rest.length === 1 && rest[0] === 'new-nonce' && (method === 'HEAD' || method === 'GET')) {
      run = () => ep.nonce(c);
    } else if (method === 'GET' && rest.length === 1 && rest[0] === 'directory') {
      run = () => ep.directory(c);
    } else if (method === 'GET' && rest.length === 2 && rest[0] === 'renewal-info') {
      run = () => ep.renewalInfo(c, rest[1]!);
    }
    if (!run) return false;
    if (ctx.draining()) res.setHeader('Connection', 'close');
    done(req, res, ctx, performance.now());
    void guard(run(), res);
    return true;
  };
}
