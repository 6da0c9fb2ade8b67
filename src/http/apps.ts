/**
 * The two express apps (CONTRACT.md): HTTPS (ACME, EST, admin) and plain HTTP (health, metrics,
 * CA certificates, OCSP, CRL, SCEP). Protocol routers are mounted by the composition root.
 */
import express, { type ErrorRequestHandler, type Express, type Router } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { isFlintError } from '../errors/index.js';
import type { IssuerRegistry } from '../core/issuers.js';
import { toPem } from '../pki/pem.js';
import type { Metrics } from './metrics.js';

export interface Mount {
  app: 'http' | 'https';
  path: string;
  router: Router | express.RequestHandler;
}

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  issuers: IssuerRegistry;
  /** Readiness: store and key store both answer. */
  ready: () => Promise<{ ok: boolean; detail: Record<string, boolean> }>;
  /** True while draining on SIGTERM. */
  draining: () => boolean;
  mounts?: Mount[];
}

/** Last-resort error handler: typed errors keep their status; anything else is a generic 500, detail logged, never sent. */
export function lastResortErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : isFlintError(err) && err.kind !== 'internal' ? 400 : 500;
    if (status >= 500) logger.error({ err, url: req.originalUrl }, 'unhandled error');
    if (res.headersSent) return;
    // body-parser errors (too large, bad encoding) are client errors with safe messages.
    const message = status === 413 ? 'request body too large' : status < 500 ? (isFlintError(err) ? err.detail : 'bad request') : 'internal error';
    res.status(status).type('text/plain').send(message + '\n');
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
    const r = await d.ready().catch(() => ({ ok: false, detail: {} }));
    const ok = r.ok && !d.draining();
    if (!ok) res.setHeader('Retry-After', '5');
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
  for (const m of d.mounts ?? []) (m.app === 'http' ? http : https).use(m.path, m.router);
  for (const app of [http, https]) {
    app.use((req, res) => {
      res.status(404).type('text/plain').send(`not found: ${req.method} ${req.path}\n`);
    });
    app.use(lastResortErrorHandler(d.logger));
  }
  return { http, https };
}
