/**
 * The admin API front-end (`https://H:8443/admin/v1`), wired here in the composition root:
 * bearer-token middleware from http/admin-auth.ts in front of each route. Routes so far:
 * POST /admin/v1/scep/{label}/challenges (scope scep-challenge:{label}).
 */
import { randomBytes } from 'node:crypto';
import express, { type ErrorRequestHandler } from 'express';
import { AdminAuthenticator, requireScope, sendAdminError } from '../http/admin-auth.js';
import { mintChallengeFromJson } from '../protocols/scep/admin.js';
import { ScepChallenges } from '../protocols/scep/challenges.js';
import { loadScepConfig } from '../protocols/scep/config.js';
import { FlintError } from '../errors/index.js';
import type { Frontend, FrontendFactory } from './frontends.js';

export const adminFrontend: FrontendFactory = (rt): Frontend => {
  const clock = () => new Date();
  const auth = new AdminAuthenticator({ tokens: rt.store.enrollment, audit: rt.audit, clock });
  const challenges = new ScepChallenges({ enrollment: rt.store.enrollment, recentEvents: rt.store.recentEvents, audit: rt.audit, config: loadScepConfig(rt.config as unknown), clock, random: (n) => randomBytes(n) });
  const router = express.Router();
  router.post('/scep/:label/challenges', requireScope(auth, (req) => `scep-challenge:${String(req.params.label)}`), express.json({ limit: 16 * 1024, type: () => true }), (req, res) => {
    const token = res.locals.adminToken as { id: string };
    mintChallengeFromJson(challenges, String(req.params.label), req.body, `token:${token.id}`)
      .then((r) => res.status(201).json(r))
      .catch((e) => sendAdminError(res, e));
  });
  router.use((req, res) => sendAdminError(res, new FlintError('notFound', `no admin route ${req.method} ${req.path}`, { code: 'admin.notFound' })));
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    const status = typeof err?.status === 'number' ? err.status : 400;
    sendAdminError(res, new FlintError('malformed', status === 413 ? 'request body too large' : 'request body is not valid JSON', { code: 'admin.badRequest' }));
  };
  router.use(onError);
  return { name: 'admin', mounts: [{ app: 'https', path: '/admin/v1', router }] };
};
