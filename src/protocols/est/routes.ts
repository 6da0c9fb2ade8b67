/**
 * Express adapter for EST (RFC 7030 §3.2.2): /.well-known/est/{operation} (label `default`) and
 * /.well-known/est/{label}/{operation}. Translates the request into an EstRequest and back.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { TLSSocket } from 'node:tls';
import { FlintError } from '../../errors/index.js';
import { DEFAULT_LABEL } from './config.js';
import { errorResponse } from './errors.js';
import type { EstHandlers } from './handlers.js';
import type { EstRequest, EstResponse } from './ports.js';
import { isEstOperation, MAX_CSR_BODY, OPERATION_METHOD } from './wire.js';

function send(res: Response, r: EstResponse): void {
  res.status(r.status);
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  if (r.status === 204) res.end();
  else res.send(typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body);
}

/** The peer certificate is fixed for a TLS connection: read it once per socket (keep-alive). */
const peerCache = new WeakMap<object, EstRequest['clientCert'] | null>();

function clientCert(req: Request): EstRequest['clientCert'] {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cached = peerCache.get(socket);
  if (cached !== undefined) return cached ?? undefined;
  const peer = socket.getPeerCertificate();
  const result = peer && peer.raw ? { der: Buffer.from(peer.raw), authorized: socket.authorized === true } : undefined;
  peerCache.set(socket, result ?? null);
  return result;
}

/**
 * §3.5 channel binding values of the request's TLS connection. tls-unique is the first Finished
 * message of the latest handshake: the client's on a full handshake, the server's on resumption;
 * TLS 1.3 has none (RFC 9266 §1), only tls-exporter. Computed per request: a TLS 1.2
 * renegotiation changes tls-unique.
 */
function channelBinding(req: Request): EstRequest['channelBinding'] {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.exportKeyingMaterial !== 'function' || typeof socket.getProtocol !== 'function') return undefined;
  const out: NonNullable<EstRequest['channelBinding']> = {};
  try {
    out.tlsExporter = socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  } catch {
    // not available on this connection
  }
  const version = socket.getProtocol();
  if (version && version !== 'TLSv1.3') {
    const finished = socket.isSessionReused?.() ? socket.getFinished?.() : socket.getPeerFinished?.();
    if (finished && finished.length) out.tlsUnique = finished;
  }
  return out;
}

export function estRouter(handlers: EstHandlers): Router {
  const router = express.Router();
  // Raw bytes for every media type: the handlers check Content-Type themselves (415).
  router.use(express.raw({ type: () => true, limit: MAX_CSR_BODY + 1024 }));

  const handle = async (req: Request, res: Response, label: string, op: string) => {
    if (!isEstOperation(op)) {
      send(res, errorResponse(new FlintError('notFound', `unknown EST operation "${op}"`, { code: 'est.unknownOperation' })));
      return;
    }
    const method = OPERATION_METHOD[op];
    if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
      res.setHeader('Allow', method);
      send(res, errorResponse(new FlintError('malformed', `${op} takes ${method}`, { code: 'est.methodNotAllowed' })));
      return;
    }
    const estReq: EstRequest = {
      label,
      ip: req.socket.remoteAddress ?? 'unknown',
      contentType: req.headers['content-type'],
      authorization: req.headers.authorization,
      clientCert: clientCert(req),
      channelBinding: channelBinding(req),
      body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
    };
    send(res, await handlers.handle(op, estReq));
  };

  router.all('/:op', (req, res, next) => {
    handle(req, res, DEFAULT_LABEL, String(req.params.op)).catch(next);
  });
  router.all('/:label/:op', (req, res, next) => {
    handle(req, res, String(req.params.label), String(req.params.op)).catch(next);
  });
  return router;
}
