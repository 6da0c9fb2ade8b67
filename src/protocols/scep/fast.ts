/**
 * SCEP fast path: `POST …?operation=PKIOperation` (RFC 8894 §4.3) served straight from node:http
 * before express, as the OCSP fast path does — express routing, body-parser and pino-http cost
 * a sizeable share of an enrollment's main-thread time. It takes only the plain case: POST to
 * /scep, /scep/{label}[/pkiclient.exe] or /cgi-bin/pkiclient.exe (same matching as express:
 * case-insensitive, optional trailing slash), one `operation=PKIOperation`, a Content-Length
 * within the limit and no Content-Encoding. Everything else (GET, HEAD, chunked or encoded
 * bodies, odd paths) falls through to the express routes in routes.ts, which stay authoritative.
 * Requests are still audited by the handlers; there is no per-request log line on this path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFastBody, type FastContext, type FastHandler } from '../../http/server.js';
import type { ScepHandlers } from './handlers.js';
import type { ScepResponse } from './ports.js';

const MOUNTS = ['/scep', '/cgi-bin/pkiclient.exe'];

/** The label a fast-path URL path names, or undefined when express should route it. */
export function fastLabel(path: string, defaultLabel: string): string | undefined {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const lower = p.toLowerCase();
  const mount = MOUNTS.find((m) => lower === m || lower.startsWith(`${m}/`));
  if (!mount) return undefined;
  const rest = p.slice(mount.length + 1);
  if (rest === '') return defaultLabel;
  const segs = rest.split('/');
  if (segs.length > 2 || (segs.length === 2 && segs[1]!.toLowerCase() !== 'pkiclient.exe') || segs[0] === '') return undefined;
  try {
    return decodeURIComponent(segs[0]!);
  } catch {
    return undefined;
  }
}

export function scepFastHandler(d: { handlers: ScepHandlers; defaultLabel: string; maxBytes: number; logger?: { error(o: object, m: string): void } }): FastHandler {
  const send = (res: ServerResponse, ctx: FastContext, r: ScepResponse) => {
    if (res.headersSent || res.destroyed) return;
    const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
    res.writeHead(r.status, { ...r.headers, 'Content-Length': body.length, ...(ctx.draining() ? { Connection: 'close' } : {}) });
    res.end(body);
    ctx.count(r.status);
  };
  const take = (req: IncomingMessage): string | undefined => {
    if (req.method !== 'POST' || req.headers['content-encoding'] !== undefined) return undefined;
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (!Number.isInteger(declared) || declared < 0 || declared > d.maxBytes) return undefined;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (q < 0) return undefined;
    const ops = new URLSearchParams(url.slice(q + 1)).getAll('operation');
    if (ops.length !== 1 || ops[0] !== 'PKIOperation') return undefined;
    return fastLabel(url.slice(0, q), d.defaultLabel);
  };

  return (req, res, ctx) => {
    const label = take(req);
    if (label === undefined) return false;
    void readFastBody(req).then((message) => {
      if (message === undefined) return void res.destroy();
      return d.handlers.handle({ label, ip: req.socket.remoteAddress ?? 'unknown', method: 'POST', operation: 'PKIOperation', message }).then(
        (r) => send(res, ctx, r),
        (e: unknown) => {
          // handle() answers every client error itself; this is a bug guard, not a code path.
          d.logger?.error({ err: e }, 'SCEP fast path failed');
          send(res, ctx, { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'internal error\n' });
        },
      );
    });
    return true;
  };
}
