/**
 * Express wiring (thin): every ACME resource and its authentication, on the shared endpoints
 * (endpoints.ts). `serve` answers canonical requests on the fast path (fast.ts) before express;
 * this router takes the rest (case and trailing-slash variants, chunked bodies, wrong methods, unknown
 * paths) and is what the unit tests drive. Mounted at /acme; URLs are https://HOST/acme/{provisioner}/...
 */
import express, { type ErrorRequestHandler, type Request, type Router } from 'express';
import { accountOrders, accountResource, newAccount } from './handlers/account.js';
import { authzResource, challengeResource } from './handlers/authz.js';
import { certificateResource, revokeCert } from './handlers/certificate.js';
import type { AcmeHandler } from './handlers/context.js';
import { keyChange } from './handlers/keychange.js';
import { finalize, getOrder, newOrder } from './handlers/order.js';
import { AcmeEndpoints, type AcmeCall, type AcmeRouterOptions } from './endpoints.js';
import { AcmeError } from './errors.js';

export type { AcmeRouterOptions } from './endpoints.js';

export interface PostResource {
  /** Path below /{provisioner}/; `:name` segments are parameters. */
  path: string[];
  /** 'jwk' for newAccount, 'kid' for everything else, 'either' for revokeCert (§6.2). */
  key: 'jwk' | 'kid' | 'either';
  handler: AcmeHandler;
}

/** Every JWS-authenticated resource (RFC 8555 §7.1), in one table for express and the fast path. */
export const POST_RESOURCES: readonly PostResource[] = [
  { path: ['new-account'], key: 'jwk', handler: newAccount },
  { path: ['acct', ':id'], key: 'kid', handler: accountResource },
  { path: ['acct', ':id', 'orders'], key: 'kid', handler: accountOrders },
  { path: ['new-order'], key: 'kid', handler: newOrder },
  { path: ['order', ':id'], key: 'kid', handler: getOrder },
  { path: ['order', ':id', 'finalize'], key: 'kid', handler: finalize },
  { path: ['authz', ':id'], key: 'kid', handler: authzResource },
  { path: ['chall', ':id'], key: 'kid', handler: challengeResource },
  { path: ['cert', ':serial'], key: 'kid', handler: certificateResource },
  { path: ['cert', ':serial', ':alt'], key: 'kid', handler: certificateResource },
  { path: ['revoke-cert'], key: 'either', handler: revokeCert },
  { path: ['key-change'], key: 'kid', handler: keyChange },
];

const call = (req: Request, res: AcmeCall['res']): AcmeCall => ({ req, res, prov: String(req.params.prov ?? ''), originalUrl: req.originalUrl });

/** The express router over the endpoints (shared with the fast path), or over new ones made from options. */
export function acmeRouter(from: AcmeRouterOptions | AcmeEndpoints): Router {
  const ep = from instanceof AcmeEndpoints ? from : new AcmeEndpoints(from);
  const router = express.Router();

  router.get('/:prov/directory', (req, res) => ep.directory(call(req, res)));
  router.get('/:prov/renewal-info/:certId', (req, res) => ep.renewalInfo(call(req, res), String(req.params.certId)));
  router.head('/:prov/new-nonce', (req, res) => ep.nonce(call(req, res)));
  router.get('/:prov/new-nonce', (req, res) => ep.nonce(call(req, res)));

  const raw = express.raw({ type: () => true, limit: ep.bodyLimit });
  for (const r of POST_RESOURCES) {
    const path = `/:prov/${r.path.join('/')}`;
    router.post(path, raw, (req, res) => {
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.params)) params[k] = String(v);
      return ep.post(call(req, res), r.key, r.handler, params, Buffer.isBuffer(req.body) ? req.body : undefined);
    });
    router.all(path, (req, res) => ep.methodNotAllowed(call(req, res)));
  }
  // Body-parser failures (too large, aborted) and unknown paths are ACME problems too.
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : undefined;
    void ep.problem(res, undefined, status ? new AcmeError('malformed', status === 413 ? 'request body too large' : 'bad request body', { status }) : err, { req, originalUrl: req.originalUrl });
  };
  router.use(onError);
  router.use((req, res) => void ep.problem(res, undefined, new AcmeError('malformed', `no ACME resource at ${req.path}`, { status: 404 }), { req, originalUrl: req.originalUrl }));
  return router;
}
