/**
 * The ACME HTTP endpoints on plain node:http request/response objects, shared by the express router
 * (routes.ts) and the fast path in front of express (fast.ts): JWS verification per resource, and
 * the envelope every reply gets (Replay-Nonce, Link rel="index", Cache-Control, problem+json errors).
 * URLs are https://HOST{mount}/{provisioner}/...
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultProvisioner, type AcmeProvisioner } from './config.js';
import { AcmeError, retryAfterOf, toProblem } from './errors.js';
import type { AcmeHandler, AcmeReply } from './handlers/context.js';
import { directory } from './handlers/directory.js';
import { renewalInfo } from './handlers/renewal.js';
import { verifyJws } from './jws.js';
import type { NonceService } from './nonces.js';
import type { AcmeDeps } from './ports.js';
import { acmeUrls, type AcmeUrls } from './urls.js';

/** Request bodies above this are refused (413, malformed). */
export const ACME_BODY_LIMIT = 64 * 1024;

export interface AcmeRouterOptions {
  deps: AcmeDeps;
  nonces: NonceService;
  /**
   * Provisioners served under /acme/{name}: full settings, or bare names (which then use
   * `deps.profile`, every challenge type and no EAB).
   */
  provisioners: (string | AcmeProvisioner)[];
  /** Mount path of the router (for building URLs). */
  mountPath?: string;
  /** Body limit in bytes (default ACME_BODY_LIMIT). */
  bodyLimit?: number;
}

/** One request to an ACME endpoint. */
export interface AcmeCall {
  req: IncomingMessage;
  res: ServerResponse;
  /** The {provisioner} path segment. */
  prov: string;
  /** Path and query as the client sent them, mount included (what the JWS `url` must name). */
  originalUrl: string;
}

/** A provisioner this server does not serve (or a Host header it cannot build URLs for): 404. */
const unknownProvisioner = () => new AcmeError('malformed', 'unknown ACME provisioner', { status: 404 });

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;
const URL_CACHE_MAX = 256;

/** Writes a whole reply; string bodies are sent as UTF-8 (with the charset parameter, as express did). */
function write(res: ServerResponse, status: number, body?: { contentType: string; data: string | Buffer }): void {
  res.statusCode = status;
  if (!body) {
    res.setHeader('Content-Length', '0');
    res.end();
    return;
  }
  const text = typeof body.data === 'string';
  const data = text ? Buffer.from(body.data as string, 'utf8') : (body.data as Buffer);
  res.setHeader('Content-Type', text ? `${body.contentType}; charset=utf-8` : body.contentType);
  res.setHeader('Content-Length', String(data.length));
  res.end(data);
}

export class AcmeEndpoints {
  readonly mount: string;
  readonly bodyLimit: number;
  private readonly provs: Map<string, AcmeProvisioner>;
  /** URL sets by Host and provisioner (a Host header outside HOST never gets here). */
  private readonly urlCache = new Map<string, AcmeUrls>();

  constructor(private readonly o: AcmeRouterOptions) {
    this.mount = o.mountPath ?? '/acme';
    this.bodyLimit = o.bodyLimit ?? ACME_BODY_LIMIT;
    this.provs = new Map(o.provisioners.map((p) => (typeof p === 'string' ? [p, defaultProvisioner(p, o.deps.profile)] : [p.name, p])));
  }

  /** The URLs of the provisioner as the client addressed it; undefined for an unknown provisioner or a bad Host. */
  urlsFor(req: IncomingMessage, prov: string): AcmeUrls | undefined {
    const host = req.headers.host ?? '';
    const key = `${host}\n${prov}`;
    let urls = this.urlCache.get(key);
    if (urls) return urls;
    if (!HOST.test(host) || !this.provs.has(prov)) return undefined;
    urls = acmeUrls(`https://${host}${this.mount}/${prov}`);
    if (this.urlCache.size >= URL_CACHE_MAX) this.urlCache.clear();
    this.urlCache.set(key, urls);
    return urls;
  }

  private async envelope(res: ServerResponse, urls: AcmeUrls | undefined, links: string[] = []): Promise<void> {
    try {
      res.setHeader('Replay-Nonce', await this.o.nonces.issue());
    } catch {
      /* store unavailable: the reply still goes out, without a nonce */
    }
    res.setHeader('Cache-Control', 'no-store');
    if (urls) links.unshift(`<${urls.directory}>;rel="index"`);
    if (links.length) res.setHeader('Link', links);
  }

  /** Every refused request leaves an audit record (who, which resource, which problem). */
  private async auditDenial(req: IncomingMessage, originalUrl: string, p: ReturnType<typeof toProblem>, actor: string): Promise<void> {
    try {
      await this.o.deps.audit.record({
        actor, action: 'acme.request.denied', object: `acme:${req.method} ${originalUrl.slice(0, 200)}`, result: p.status >= 500 ? 'failed' : 'denied',
        reason: p.detail.slice(0, 500), data: { type: p.type, status: p.status, ip: req.socket.remoteAddress ?? null },
      });
    } catch (err) {
      this.o.deps.logger?.warn({ err }, 'acme: cannot audit a denied request');
    }
  }

  /** A problem document (RFC 7807) for `e`; audited when `audit` names the request. */
  async problem(res: ServerResponse, urls: AcmeUrls | undefined, e: unknown, audit?: { req: IncomingMessage; originalUrl: string; actor?: string }): Promise<void> {
    const p = toProblem(e);
    if (p.status >= 500) this.o.deps.logger?.warn({ err: e }, 'acme request failed');
    if (audit) await this.auditDenial(audit.req, audit.originalUrl, p, audit.actor ?? 'acme:anonymous');
    if (res.headersSent) return;
    await this.envelope(res, urls);
    const retryAfter = retryAfterOf(e);
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
    write(res, p.status, { contentType: 'application/problem+json', data: JSON.stringify(p) });
  }

  private async send(res: ServerResponse, urls: AcmeUrls, r: AcmeReply): Promise<void> {
    await this.envelope(res, urls, r.links ? [...r.links] : []);
    if (r.location) res.setHeader('Location', r.location);
    if (r.retryAfter !== undefined) res.setHeader('Retry-After', String(r.retryAfter));
    if (r.raw) write(res, r.status, r.raw);
    else if (r.json !== undefined) write(res, r.status, { contentType: 'application/json', data: JSON.stringify(r.json) });
    else write(res, r.status);
  }

  /** §7.1.1 GET directory. */
  async directory(c: AcmeCall): Promise<void> {
    const urls = this.urlsFor(c.req, c.prov);
    if (!urls) return this.problem(c.res, undefined, unknownProvisioner());
    c.res.setHeader('Cache-Control', 'no-store');
    write(c.res, 200, { contentType: 'application/json', data: JSON.stringify(directory(urls, this.provs.get(c.prov)!, this.o.deps.profileDescriptions)) });
  }

  /** RFC 9773 §4.2: unauthenticated GET; the answer may be cached (Retry-After says when to ask again). */
  async renewalInfo(c: AcmeCall, certId: string): Promise<void> {
    const urls = this.urlsFor(c.req, c.prov);
    try {
      if (!urls) throw unknownProvisioner();
      const r = await renewalInfo(this.o.deps, certId);
      c.res.setHeader('Retry-After', String(r.retryAfterSeconds));
      write(c.res, 200, { contentType: 'application/json', data: JSON.stringify(r.json) });
    } catch (e) {
      await this.problem(c.res, urls, e);
    }
  }

  /** §7.2 newNonce: HEAD → 200, GET → 204. */
  async nonce(c: AcmeCall): Promise<void> {
    const urls = this.urlsFor(c.req, c.prov);
    if (!urls) return this.problem(c.res, undefined, unknownProvisioner());
    await this.envelope(c.res, urls);
    if (c.req.method === 'HEAD') {
      // Without a Content-Length node's HTTP client (acme-client, axios) cannot tell where a HEAD
      // reply ends and closes the connection: every nonce would cost a new TLS handshake.
      write(c.res, 200);
    } else {
      c.res.statusCode = 204; // no Content-Length on a 204 (RFC 9110 §8.6)
      c.res.end();
    }
  }

  /** A JWS-authenticated POST (§6.2): verifies the request, runs the handler, sends its reply or a problem. */
  async post(c: AcmeCall, key: 'jwk' | 'kid' | 'either', handler: AcmeHandler, params: Record<string, string>, body: Buffer | undefined): Promise<void> {
    const urls = this.urlsFor(c.req, c.prov);
    let actor = 'acme:anonymous';
    try {
      if (!urls) throw unknownProvisioner();
      const verified = await verifyJws(
        { contentType: c.req.headers['content-type'], body, url: `https://${c.req.headers.host}${c.originalUrl}`, key, accountUrlPrefix: urls.accountPrefix, provisioner: c.prov },
        this.o.nonces,
        this.o.deps.repo,
      );
      actor = verified.account ? `acme:${verified.account.id}` : `acme:jwk:${verified.thumbprint}`;
      const clientIp = c.req.socket.remoteAddress?.replace(/^::ffff:/, '');
      const ctx = { deps: this.o.deps, urls, provisioner: c.prov, prov: this.provs.get(c.prov)!, req: verified, params: { ...params, prov: c.prov }, ...(clientIp ? { clientIp } : {}) };
      await this.send(c.res, urls, await handler(ctx));
    } catch (e) {
      await this.problem(c.res, urls, e, { req: c.req, originalUrl: c.originalUrl, actor });
    }
  }

  /** Any other method on a POST resource: 405 with Allow. */
  async methodNotAllowed(c: AcmeCall): Promise<void> {
    c.res.setHeader('Allow', 'POST');
    await this.problem(c.res, this.urlsFor(c.req, c.prov), new AcmeError('malformed', `${c.req.method} is not allowed here; use POST`, { status: 405 }), { req: c.req, originalUrl: c.originalUrl });
  }
}
