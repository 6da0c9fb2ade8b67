/**
 * The two express apps (CONTRACT.md): HTTPS (ACME, EST, admin) and plain HTTP (health, metrics,
 * CA certificates, OCSP, CRL, SCEP). Protocol routers are mounted by the composition root.
 */
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { isFlintError, retryAfterSeconds, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../errors/index.js';
import type { IssuerRegistry } from '../core/issuers.js';
import { toPem } from '../pki/pem.js';
import { problem } from '../protocols/acme/errors.js';
import type { Metrics } from './metrics.js';
import type { ReadinessResult } from './readiness.js';

export interface Mount {
  app: 'http' | 'https';
  path: string;
  router: Router | express.RequestHandler;
}

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  issuers: IssuerRegistry;
  /** Readiness (store and key store both answer), cached: see readiness.ts. */
  readiness: { ready(): boolean; check(o?: { fresh?: boolean }): Promise<ReadinessResult> };
  /** True while draining on SIGTERM. */
  draining: () => boolean;
  mounts?: Mount[];
}

/**
 * Last-resort error handler: typed errors keep their status; `unavailable` (store or key store
 * down) is 503 + Retry-After; anything else is a generic 500, detail logged, never sent.
 */
export function lastResortErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const unavailable = isFlintError(err) && err.kind === 'unavailable';
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : unavailable ? 503 : isFlintError(err) && err.kind !== 'internal' && err.kind !== 'invalidConfig' ? 400 : 500;
    if (status >= 500) logger.error({ err, url: req.originalUrl }, 'unhandled error');
    if (res.headersSent) return;
    if (unavailable) res.setHeader('Retry-After', String(retryAfterSeconds(err)));
    // body-parser errors (too large, bad encoding) are client errors with safe messages.
    const message = status === 413 ? 'request body too large' : unavailable ? 'service unavailable; retry later' : status < 500 ? (isFlintError(err) ? err.detail : 'bad request') : 'internal error';
    res.status(status).type('text/plain').send(message + '\n');
  };
}

/**
 * While the node is not ready (readiness.ts), protocol requests are refused before they touch the
 * store: 503 + Retry-After, in the protocol's own error format — an RFC 8555 §6.7 problem document
 * (serverInternal; RFC 8555 §6.6 lets the server send Retry-After with it) under /acme, a
 * text/plain reason elsewhere (EST RFC 7030 §4.2.3, SCEP, OCSP, CRL). Nothing is half-written.
 */
export function notReadyGate(readiness: { ready(): boolean }): RequestHandler {
  return (req, res, next) => {
    if (readiness.ready()) return next();
    res.setHeader('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    res.setHeader('Cache-Control', 'no-store');
    const detail = 'the server is not ready (database or key store unreachable); retry later';
    if (req.path.startsWith('/acme/')) return void res.status(503).type('application/problem+json').send(JSON.stringify(problem('serverInternal', detail, 503)));
    res.status(503).type('text/plain').send(detail + '\n');
  };
}

function baseApp(name: 'http' | 'https', d: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(pinoHttp({ logger: d.logger.child({ app: name }), customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'), serializers: { req: (r) => ({ method: r.method, url: r.url, remoteAddress: r.remoteAddress }), res: (r) => ({ statusCode: r.statusCode }) } }));
  app.use((req, res, next) => {
    res.on('finish', () => d.metrics.httpRequests.inc({ app: name, status: String(res.statusCode) }));
    if (d.draining()) res.setHeader('Connection', 'close');
    next();
  });
  return app;
}

export function createApps(d: AppDeps): { http: Express; https: Express } {
  const http = baseApp('http', d);
  const https = baseApp('https', d);

  http.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  http.get('/readyz', async (_req, res) => {
    const r = await d.readiness.check({ fresh: true });
    const ok = r.ok && !d.draining();
    if (!ok) res.setHeader('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', ...r.detail, draining: d.draining() });
  });
  http.get('/metrics', async (_req, res, next) => {
    try {
      res.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
    } catch (e) {
      next(e);
    }
  });
  const caCert: express.RequestHandler = (req, res) => {
    const id = String(req.params.ca);
    if (!d.issuers.has(id)) {
      res.status(404).type('text/plain').send(`no CA named ${id}\n`);
      return;
    }
    res.type('application/pkix-cert').send(d.issuers.get(id).record.certDer);
  };
  const rootsPem: express.RequestHandler = (_req, res) => {
    res.type('application/x-pem-file').send(d.issuers.roots().map((der) => toPem(der, 'CERTIFICATE')).join(''));
  };
  for (const app of [http, https]) {
    app.get('/ca/:ca.crt', caCert);
    app.get('/roots.pem', rootsPem);
  }
  // Everything after this point is a protocol endpoint: refused while not ready.
  for (const app of [http, https]) app.use(notReadyGate(d.readiness));
  for (const m of d.mounts ?? []) (m.app === 'http' ? http : https).use(m.path, m.router);
  for (const app of [http, https]) {
    app.use((req, res) => {
      res.status(404).type('text/plain').send(`not found: ${req.method} ${req.path}\n`);
    });
    app.use(lastResortErrorHandler(d.logger));
  }
  return { http, https };
}
