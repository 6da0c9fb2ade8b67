/**
 * Express adapter for SCEP (RFC 8894 §4.1): GET ?operation=X[&message=base64] and POST
 * ?operation=PKIOperation with the DER message as body (application/x-pki-message; clients also
 * send application/octet-stream). Mounted at /scep, /scep/{label} and /cgi-bin/pkiclient.exe.
 */
import express, { type Request, type Response, type Router } from 'express';
import { FlintError } from '../../errors/index.js';
import { errorResponse } from './errors.js';
import type { ScepHandlers } from './handlers.js';
import type { ScepRequest, ScepResponse } from './ports.js';

function send(res: Response, r: ScepResponse): void {
  res.status(r.status);
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  res.send(typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body);
}

/** §4.1: the GET message parameter is base64 (standard or URL-safe, possibly URL-decoded '+' → ' '). */
export function decodeGetMessage(s: string): Buffer {
  const text = s.replace(/ /g, '+').replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) throw new FlintError('malformed', 'the message parameter is not base64', { code: 'scep.notBase64' });
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export function scepRouter(handlers: ScepHandlers, defaultLabel: string, maxBytes: number): Router {
  const router = express.Router();
  router.use(express.raw({ type: () => true, limit: maxBytes }));
  const handle = async (req: Request, res: Response, label: string) => {
    const q = req.query as Record<string, unknown>;
    const operation = typeof q.operation === 'string' ? q.operation : '';
    if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'HEAD') {
      send(res, errorResponse(new FlintError('malformed', `${req.method} is not a SCEP method`, { code: 'scep.methodNotAllowed' })));
      return;
    }
    let message: Buffer | undefined;
    if (req.method === 'POST') {
      if (operation !== 'PKIOperation') {
        send(res, errorResponse(new FlintError('malformed', 'POST is only for operation=PKIOperation', { code: 'scep.methodNotAllowed' })));
        return;
      }
      message = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    } else if (operation === 'PKIOperation') {
      try {
        message = decodeGetMessage(typeof q.message === 'string' ? q.message : '');
      } catch (e) {
        send(res, errorResponse(e));
        return;
      }
    }
    const r: ScepRequest = { label, ip: req.socket.remoteAddress ?? 'unknown', method: req.method === 'POST' ? 'POST' : 'GET', operation, message };
    send(res, await handlers.handle(r));
  };
  router.all('/', (req, res, next) => {
    handle(req, res, defaultLabel).catch(next);
  });
  router.all('/:label', (req, res, next) => {
    handle(req, res, String(req.params.label)).catch(next);
  });
  // Some clients append the CGI path to a label URL.
  router.all('/:label/pkiclient.exe', (req, res, next) => {
    handle(req, res, String(req.params.label)).catch(next);
  });
  return router;
}
