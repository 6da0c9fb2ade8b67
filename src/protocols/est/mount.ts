/** The EST front-end factory for `serve` (src/cli/frontends.ts). */
import type { Frontend, FrontendFactory } from '../../cli/frontends.js';
import { exclusiveRunner } from '../../core/leases.js';
import { loadEstConfig } from './config.js';
import { EstHandlers } from './handlers.js';
import { estRouter } from './routes.js';

export const estFrontend: FrontendFactory = (rt): Frontend => {
  const config = loadEstConfig(rt.config as unknown, (p) => rt.config.path(p));
  for (const label of config.labels.values()) rt.authority.profile(label.profile); // fail fast on a label naming an unknown profile
  const handlers = new EstHandlers({
    authority: rt.authority,
    certificates: rt.store.certificates,
    approvals: rt.store.approvals,
    exclusive: exclusiveRunner(rt.store.leases, rt.leases.nodeId),
    recentEvents: rt.store.recentEvents,
    audit: rt.audit,
    config,
    defaultIssuer: rt.config.defaultIssuer,
    clock: () => new Date(),
  });
  return { name: 'est', mounts: [{ app: 'https', path: '/.well-known/est', router: estRouter(handlers) }] };
};
