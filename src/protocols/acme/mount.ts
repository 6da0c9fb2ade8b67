/** The ACME front-end for `serve`: https://H:8443/acme/{provisioner}/directory for each provisioner in config.acme (default `acme`). */
import type { Frontend } from '../../cli/frontends.js';
import type { Runtime } from '../../cli/runtime.js';
import type { ServeOptions } from '../../cli/serve.js';
import { DEFAULT_PROFILE, loadAcmeConfig } from './config.js';
import { NonceService } from './nonces.js';
import type { AcmeDeps } from './ports.js';
import { acmeRouter } from './routes.js';
import { makeResolver } from './validation/resolve.js';
import { ValidationPool } from './validation/worker.js';

export const ACME_PROFILE = DEFAULT_PROFILE;

export function acmeFrontend(rt: Runtime, opts: ServeOptions): Frontend {
  const provisioners = loadAcmeConfig(rt.config as unknown, rt.authority.profiles.keys());
  const repo = rt.store.acme;
  const pool = new ValidationPool({
    repo,
    audit: rt.audit,
    resolver: makeResolver(opts.acmeDnsResolver),
    http01Port: opts.acmeHttp01Port ?? 80,
    tlsAlpn01Port: opts.acmeTlsalpn01Port ?? 443,
    logger: rt.logger,
  });
  const deps: AcmeDeps = {
    authority: rt.authority,
    repo,
    certificates: rt.store.certificates,
    audit: rt.audit,
    profile: [...provisioners.values()][0]!.profiles[0]!,
    profileDescriptions: Object.fromEntries([...rt.authority.profiles].map(([name, p]) => [name, p.description])),
    clock: () => new Date(),
    issuerRetiring: (id) => rt.issuers.has(id) && rt.issuers.get(id).record.status === 'retiring',
    enqueueValidation: (id) => pool.enqueue(id),
    logger: rt.logger,
  };
  // Validations interrupted by a restart are picked up again (the store is the source of truth).
  void repo
    .listProcessingChallenges(1000)
    .then((ids) => ids.forEach((id) => pool.enqueue(id)))
    .catch((e) => rt.logger.warn({ err: e }, 'acme: cannot resume pending validations'));
  const router = acmeRouter({ deps, nonces: new NonceService(repo), provisioners: [...provisioners.values()], mountPath: '/acme' });
  return { name: 'acme', mounts: [{ app: 'https', path: '/acme', router }], close: () => pool.close() };
}
