/** http-01 (RFC 8555 §8.3): GET http://NAME:PORT/.well-known/acme-challenge/TOKEN must return the key authorization. */
import { request } from 'node:http';
import { isIP } from 'node:net';
import type { AcmeIdentifier } from '../../../store/acme-types.js';
import { AcmeError } from '../errors.js';
import type { NameResolver } from './resolve.js';

export interface Http01Options {
  port: number;
  timeoutMs?: number;
  maxBody?: number;
  maxRedirects?: number;
}

function get(addr: string, port: number, host: string, path: string, timeoutMs: number, maxBody: number): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: addr, port, path, method: 'GET', headers: { Host: port === 80 ? host : `${host}:${port}`, 'User-Agent': 'flintca-acme-validator', Accept: '*/*' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBody) {
          req.destroy(new AcmeError('unauthorized', `response body exceeds ${maxBody} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new AcmeError('connection', `timeout fetching http://${host}${path}`)));
    req.on('error', (e) => reject(e instanceof AcmeError ? e : new AcmeError('connection', `cannot fetch http://${host}:${port}${path}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
    req.end();
  });
}

export async function validateHttp01(id: AcmeIdentifier, token: string, keyAuthorization: string, resolver: NameResolver, o: Http01Options): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const maxBody = o.maxBody ?? 8192;
  let host = id.value;
  let port = o.port;
  let path = `/.well-known/acme-challenge/${token}`;
  for (let hop = 0; ; hop++) {
    const [addr] = await resolver.addresses(isIP(host) ? { type: 'ip', value: host } : { type: 'dns', value: host });
    const r = await get(addr!, port, host.includes(':') ? `[${host}]` : host, path, timeoutMs, maxBody);
    if (r.status >= 300 && r.status < 400 && r.location) {
      if (hop >= (o.maxRedirects ?? 3)) throw new AcmeError('connection', 'too many redirects');
      const next = new URL(r.location, `http://${host}:${port}${path}`);
      if (next.protocol !== 'http:') throw new AcmeError('connection', `redirect to unsupported scheme ${next.protocol}`);
      host = next.hostname.replace(/^\[|\]$/g, '');
      port = next.port ? Number(next.port) : 80;
      // §8.3 / §10.2: follow redirects only to the standard ports (or the configured validation port).
      if (![80, 443, o.port].includes(port)) throw new AcmeError('connection', `redirect to port ${port} is not followed`);
      path = next.pathname + next.search;
      continue;
    }
    if (r.status !== 200) throw new AcmeError('unauthorized', `http-01: http://${id.value}${`/.well-known/acme-challenge/${token}`} returned HTTP ${r.status}`);
    if (r.body.trim() !== keyAuthorization) throw new AcmeError('incorrectResponse', 'http-01: the response does not match the key authorization');
    return;
  }
}
