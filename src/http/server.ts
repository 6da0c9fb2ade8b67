/** Starts the HTTP and HTTPS listeners and drains them on shutdown. */
import { createServer as createHttpServer, type Server } from 'node:http';
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

export async function startListeners(apps: { http: Express; https: Express }, tls: TlsMaterial, opts: { host: string; httpPort: number; httpsPort: number }): Promise<Listeners> {
  const http = createHttpServer({ keepAliveTimeout: 5_000, headersTimeout: 15_000, requestTimeout: 30_000 }, apps.http);
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
    apps.https,
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
