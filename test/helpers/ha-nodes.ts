/**
 * Pieces of the three-node test (test/integration/ha.test.ts): an http-01 responder per node that
 * can be told to hang, an EST simpleenroll client (RFC 7030 §4.2.1) that reports what a node
 * acknowledged, and readers for the request lines each node logs.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { request } from 'node:https';
import { normalizeSerial } from '../../src/core/serial.js';
import { signedDataCertificates } from '../../src/pki/cms-read.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs: number, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(everyMs);
  }
}

/** Serial numbers compared the way `flintca list` prints them: lower-case hex, whole octets. */
export interface Http01Responder {
  port: number;
  /** While true, validation requests get no answer (the node validating through it is stuck). */
  hang: boolean;
  /** Validation requests seen. */
  seen: number;
  close(): void;
}

/** An http-01 responder on 127.0.0.1 answering from `tokens` (token → key authorization). */
export async function http01Responder(tokens: Map<string, string>): Promise<Http01Responder> {
  const hung: ServerResponse[] = [];
  const r: Http01Responder = { port: 0, hang: false, seen: 0, close: () => undefined };
  const server: Server = createServer((req, res) => {
    r.seen++;
    if (r.hang) return void hung.push(res);
    const ka = tokens.get((req.url ?? '').split('/').pop() ?? '');
    res.writeHead(ka ? 200 : 404).end(ka ?? '');
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  r.port = (server.address() as { port: number }).port;
  r.close = () => {
    hung.forEach((h) => h.destroy());
    server.closeAllConnections();
    server.close();
  };
  return r;
}

export interface EnrollResult {
  node: number;
  status: number;
  serial?: string;
  retryAfter?: string;
  /** Transport error (connection refused / reset by a dead node). */
  error?: string;
}

/**
 * POST /.well-known/est/simpleenroll with HTTP Basic, a fresh connection per request; a 200 is an
 * acknowledgement only when its certs-only body holds a certificate.
 */
export function estEnroll(o: { node: number; port: number; csrB64: string; ca: string; password: string; timeoutMs?: number }): Promise<EnrollResult> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1', port: o.port, servername: 'localhost', ca: o.ca, agent: false, method: 'POST', path: '/.well-known/est/simpleenroll',
        headers: { 'content-type': 'application/pkcs10', authorization: `Basic ${Buffer.from(`est:${o.password}`).toString('base64')}` },
        timeout: o.timeoutMs ?? 15_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('error', (e) => resolve({ node: o.node, status: 0, error: e.message }));
        res.on('end', () => {
          const out: EnrollResult = { node: o.node, status: res.statusCode ?? 0 };
          const ra = res.headers['retry-after'];
          if (ra) out.retryAfter = String(ra);
          if (out.status === 200) {
            const [der] = signedDataCertificates(Buffer.from(body, 'base64'));
            if (der) out.serial = normalizeSerial(new X509Certificate(der).serialNumber);
          }
          resolve(out);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ node: o.node, status: 0, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(o.csrB64);
  });
}

export interface LoggedRequest {
  method: string;
  url: string;
  status: number;
}

/** The requests a `flintca serve` node logged (pino-http: one JSON line per request). */
export function loggedRequests(logs: string): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as { req?: { method?: string; url?: string }; res?: { statusCode?: number } };
      if (j.req?.method && j.res?.statusCode) out.push({ method: j.req.method, url: j.req.url ?? '', status: j.res.statusCode });
    } catch {
      /* not a log line */
    }
  }
  return out;
}
