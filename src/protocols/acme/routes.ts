/**
 * Express wiring (thin): body limit, JWS verification per route, and the response envelope
 * every ACME reply gets (Replay-Nonce, Link rel="index", Cache-Control, problem+json errors).
 * Mounted at /acme; URLs are https://HOST/acme/{provisioner}/...
 */
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { defaultProvisioner, type AcmeProvisioner } from './config.js';
import { AcmeError, retryAfterOf, toProblem } from './errors.js';
import { accountOrders, accountResource, newAccount } from './handlers/account.js';
import { authzResource, challengeResource } from './handlers/authz.js';
import { certificateResource, revokeCert } from './handlers/certificate.js';
import type { AcmeHandler, AcmeReply } from './handlers/context.js';
import { directory } from './handlers/directory.js';
import { keyChange } from './handlers/keychange.js';
import { renewalInfo } from './handlers/renewal.js';
import { finalize, getOrder, newOrder } from './handlers/order.js';
import { verifyJws } from './jws.js';
import type { NonceService } from './nonces.js';
import type { AcmeDeps } from './ports.js';
import { acmeUrls, type AcmeUrls } from './urls.js';

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
  bodyLimit?: string;
}

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export function acmeRouter(o: AcmeRouterOptions): Router {
  const mount = o.mountPath ?? '/acme';
  const router = express.Router();
  const provs = new Map<string, AcmeProvisioner>(o.provisioners.map((p) => (typeof p === 'string' ? [p, defaultProvisioner(p, o.deps.profile)] : [p.name, p])));

  const urlsFor = (req: Request): AcmeUrls | undefined => {
    const host = req.get('host') ?? '';
    const prov = String(req.params.prov ?? '');
    if (!HOST.test(host) || !provs.has(prov)) return undefined;
    return acmeUrls(`https://${host}${mount}/${prov}`);
  };

  const envelope = async (res: Response, urls: AcmeUrls | undefined, links: string[] = []) => {
    try {
      res.setHeader('Replay-Nonce', await o.nonces.issue());
    } catch {
      /* store unavailable: the reply still goes out, without a nonce */
    }
    res.setHeader('Cache-Control', 'no-store');
    if (urls) links.unshift(`<${urls.directory}>;rel="index"`);
    if (links.length) res.setHeader('Link', links);
  };

  /** Every refused request leaves an audit record (who, which resource, which problem). */
  const auditDenial = async (req: Request, p: ReturnType<typeof toProblem>, actor: string) => {
    try {
      await o.deps.audit.record({
        actor, action: 'acme.request.denied', object: `acme:${req.method} ${req.originalUrl.slice(0, 200)}`, result: p.status >= 500 ? 'failed' : 'denied',
        reason: p.detail.slice(0, 500), data: { type: p.type, status: p.status, ip: req.socket.remoteAddress ?? null },
      });
    } catch (err) {
      o.deps.logger?.warn({ err }, 'acme: cannot audit a denied request');
    }
  };

  const sendProblem = async (res: Response, urls: AcmeUrls | undefined, e: unknown, req?: Request, actor = 'acme:anonymous') => {
    const p = toProblem(e);
    if (p.status >= 500) o.deps.logger?.warn({ err: e }, 'acme request failed');
    if (req) await auditDenial(req, p, actor);
    await envelope(res, urls);
    const retryAfter = retryAfterOf(e);
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
    res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
  };

  const send = async (res: Response, urls: AcmeUrls, r: AcmeReply) => {
    await envelope(res, urls, r.links ? [...r.links] : []);
    if (r.location) res.setHeader('Location', r.location);
    if (r.retryAfter !== undefined) res.setHeader('Retry-After', String(r.retryAfter));
    res.status(r.status);
    if (r.raw) res.type(r.raw.contentType).send(r.raw.data);
    else if (r.json !== undefined) res.type('application/json').send(JSON.stringify(r.json));
    else res.end();
  };

  const post = (key: 'jwk' | 'kid' | 'either', handler: AcmeHandler) => async (req: Request, res: Response) => {
    const urls = urlsFor(req);
    let actor = 'acme:anonymous';
    try {
      if (!urls) throw new AcmeError('malformed', 'unknown ACME provisioner', { status: 404 });
      const verified = await verifyJws(
        { contentType: req.get('content-type'), body: Buffer.isBuffer(req.body) ? req.body : undefined, url: `https://${req.get('host')}${req.originalUrl}`, key, accountUrlPrefix: urls.accountPrefix, provisioner: String(req.params.prov) },
        o.nonces,
        o.deps.repo,
      );
      actor = verified.account ? `acme:${verified.account.id}` : `acme:jwk:${verified.thumbprint}`;
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.params)) params[k] = String(v);
      const clientIp = req.socket.remoteAddress?.replace(/^::ffff:/, '');
      await send(res, urls, await handler({ deps: o.deps, urls, provisioner: params.prov!, prov: provs.get(params.prov!)!, req: verified, params, ...(clientIp ? { clientIp } : {}) }));
    } catch (e) {
      await sendProblem(res, urls, e, req, actor);
    }
  };

  router.get('/:prov/directory', async (req, res) => {
    const urls = urlsFor(req);
    if (!urls) return sendProblem(res, undefined, new AcmeError('malformed', 'unknown ACME provisioner', { status: 404 }));
    res.setHeader('Cache-Control', 'no-store');
    res.type('application/json').send(JSON.stringify(directory(urls, provs.get(String(req.params.prov))!, o.deps.profileDescriptions)));
  });
  // RFC 9773 §4.2: unauthenticated GET; the answer may be cached (Retry-After says when to ask again).
  router.get('/:prov/renewal-info/:certId', async (req, res) => {
    const urls = urlsFor(req);
    try {
      if (!urls) throw new AcmeError('malformed', 'unknown ACME provisioner', { status: 404 });
      const r = await renewalInfo(o.deps, String(req.params.certId));
      res.setHeader('Retry-After', String(r.retryAfterSeconds));
      res.status(200).type('application/json').send(JSON.stringify(r.json));
    } catch (e) {
      await sendProblem(res, urls, e);
    }
  });
  const nonce = (status: number) => async (req: Request, res: Response) => {
    const urls = urlsFor(req);
    if (!urls) return sendProblem(res, undefined, new AcmeError('malformed', 'unknown ACME provisioner', { status: 404 }));
    await envelope(res, urls);
    // Without a Content-Length node's HTTP client (acme-client, axios) cannot tell where a HEAD
    // reply ends and closes the connection: every nonce would cost a new TLS handshake.
    res.setHeader('Content-Length', '0');
    res.status(status).end();
  };
  router.head('/:prov/new-nonce', nonce(200));
  router.get('/:prov/new-nonce', nonce(204));

  const raw = express.raw({ type: () => true, limit: o.bodyLimit ?? '64kb' });
  const routes: [string, 'jwk' | 'kid' | 'either', AcmeHandler][] = [
    ['/:prov/new-account', 'jwk', newAccount],
    ['/:prov/acct/:id', 'kid', accountResource],
    ['/:prov/acct/:id/orders', 'kid', accountOrders],
    ['/:prov/new-order', 'kid', newOrder],
    ['/:prov/order/:id', 'kid', getOrder],
    ['/:prov/order/:id/finalize', 'kid', finalize],
    ['/:prov/authz/:id', 'kid', authzResource],
    ['/:prov/chall/:id', 'kid', challengeResource],
    ['/:prov/cert/:serial', 'kid', certificateResource],
    ['/:prov/cert/:serial/:alt', 'kid', certificateResource],
    ['/:prov/revoke-cert', 'either', revokeCert],
    ['/:prov/key-change', 'kid', keyChange],
  ];
  for (const [path, key, handler] of routes) {
    router.post(path, raw, post(key, handler));
    router.all(path, async (req, res) => {
      res.setHeader('Allow', 'POST');
      await sendProblem(res, urlsFor(req), new AcmeError('malformed', `${req.method} is not allowed here; use POST`, { status: 405 }), req);
    });
  }
  // Body-parser failures (too large, aborted) and unknown paths are ACME problems too.
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : undefined;
    void sendProblem(res, undefined, status ? new AcmeError('malformed', status === 413 ? 'request body too large' : 'bad request body', { status }) : err, req);
  };
  router.use(onError);
  router.use((req, res) => void sendProblem(res, undefined, new AcmeError('malformed', `no ACME resource at ${req.path}`, { status: 404 }), req));
  return router;
}
