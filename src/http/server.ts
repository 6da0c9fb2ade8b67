/** Starts the HTTP and HTTPS listeners and drains them on shutdown. */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  passphrase: string;
  /** CA certificates whose client certificates are accepted (EST mutual TLS); requested, not required. */
  clientCaPem?: string;
}

/** What the listener tells a fast handler (metrics and drain state, otherwise done by express middleware). */
export interface FastContext {
  draining(): boolean;
  /** Called once per answered request with its HTTP status. */
  count(status: number): void;
}

/**
 * A plain node:http handler tried before express on the HTTP listener (hot endpoints such as
 * OCSP): returns true when it took the request (and will answer it), false to fall through.
 */
export type FastHandler = (req: IncomingMessage, res: ServerResponse, ctx: FastContext) => boolean;

/**
 * A fast handler's request body, whole (its Content-Length was checked against a limit first);
 * undefined when the client aborted mid-body and nobody is left to answer.
 */
export function readFastBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

export interface FastPath extends FastContext {
  handlers: FastHandler[];
  /** Handlers tried before express on the HTTPS listener (e.g. ACME), with their own request counter. */
  https?: { handlers: FastHandler[]; count(status: number): void };
}

/** The listener's request handler: each fast handler in turn, then express. */
function withFast(app: Express, handlers: FastHandler[], ctx: FastContext): Express | ((req: IncomingMessage, res: ServerResponse) => void) {
  if (handlers.length === 0) return app;
  return (req: IncomingMessage, res: ServerResponse) => {
    for (const h of handlers) if (h(req, res, ctx)) return;
    app(req, res);
  };
}

export interface Listeners {
  http: Server;
  https: Server;
  httpPort: number;
  httpsPort: number;
  close(graceMs: number): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export async function startListeners(apps: { http: Express; https: Express }, tls: TlsMaterial, opts: { host: string; httpPort: number; httpsPort: number }, fast?: FastPath): Promise<Listeners> {
  const onHttp = fast ? withFast(apps.http, fast.handlers, fast) : apps.http;
  const onHttps = fast?.https ? withFast(apps.https, fast.https.handlers, { draining: fast.draining, count: fast.https.count }) : apps.https;
  const http = createHttpServer({ keepAliveTimeout: 5_000, headersTimeout: 15_000, requestTimeout: 30_000 }, onHttp);
  const https = createHttpsServer(
    {
      cert: tls.certPem,
      key: tls.keyPem,
      passphrase: tls.passphrase,
      ca: tls.clientCaPem,
      requestCert: Boolean(tls.clientCaPem),
      rejectUnauthorized: false, // protocol handlers decide (EST re-enroll needs a valid client cert; ACME needs none)
      keepAliveTimeout: 5_000,
      headersTimeout: 15_000,
      requestTimeout: 30_000,
    },
    onHttps,
  );
  const httpPort = await listen(http, opts.httpPort, opts.host);
  const httpsPort = await listen(https, opts.httpsPort, opts.host);
  return {
    http,
    https,
    httpPort,
    httpsPort,
    close: async (graceMs) => {
      await Promise.all([closeServer(http, graceMs), closeServer(https, graceMs)]);
    },
  };
}
