/** The ACME front-end for `serve`: https://H:8443/acme/{provisioner}/directory for each provisioner in config.acme (default `acme`). */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Frontend } from '../../cli/frontends.js';
import type { Runtime } from '../../cli/runtime.js';
import type { ServeOptions } from '../../cli/serve.js';
import { FlintError } from '../../errors/index.js';
import { fromPem } from '../../pki/pem.js';
import { alternateChainFiles, checkAcmeConfig, DEFAULT_PROFILE, loadAcmeConfig, processingSettings } from './config.js';
import { NonceService } from './nonces.js';
import type { AcmeDeps } from './ports.js';
import { AcmeEndpoints } from './endpoints.js';
import { acmeFastHandler } from './fast.js';
import { acmeRouter } from './routes.js';
import { Sweeper } from './sweeper.js';
import { makeResolver } from './validation/resolve.js';
import { ValidationPool } from './validation/worker.js';

export const ACME_PROFILE = DEFAULT_PROFILE;

/**
 * §7.4.2 alternate chains from config.acme.alternateChains: each file holds CA certificates above the
 * leaf; the first must be the issuing CA itself (same subject and key, e.g. cross-signed by another root).
 */
function loadAlternateChains(rt: Runtime): Map<string, Buffer[][]> {
  const out = new Map<string, Buffer[][]>();
  for (const [issuerId, files] of Object.entries(alternateChainFiles(rt.config as unknown))) {
    const ca = new X509Certificate(rt.issuers.get(issuerId).record.certDer);
    out.set(issuerId, files.map((file, i) => {
      const field = `flintca.json: acme.alternateChains.${issuerId}[${i}]`;
      let certs: Buffer[];
      try {
        certs = fromPem(readFileSync(rt.config.path(file)), 'CERTIFICATE');
      } catch (e) {
        throw new FlintError('invalidConfig', `${field}: cannot read ${file}: ${(e as Error).message}`);
      }
      const first = certs[0] ? new X509Certificate(certs[0]) : undefined;
      if (!first || first.subject !== ca.subject || !first.publicKey.equals(ca.publicKey)) {
        throw new FlintError('invalidConfig', `${field}: the first certificate must be issuer ${issuerId} (same subject and public key)`);
      }
      return certs;
    }));
  }
  return out;
}

export function acmeFrontend(rt: Runtime, opts: ServeOptions): Frontend {
  const provisioners = loadAcmeConfig(rt.config as unknown, rt.authority.profiles.keys());
  checkAcmeConfig(rt.config as unknown, provisioners, { profiles: rt.authority.profiles, issuers: (id) => rt.issuers.has(id) });
  const alternates = loadAlternateChains(rt);
  const { leaseMs, sweepMs } = processingSettings(rt.config as unknown);
  const repo = rt.store.acme;
  const pool = new ValidationPool({
    repo,
    audit: rt.audit,
    resolver: makeResolver(opts.acmeDnsResolver),
    http01Port: opts.acmeHttp01Port ?? 80,
    tlsAlpn01Port: opts.acmeTlsalpn01Port ?? 443,
    leaseMs,
    failureLimit: (p) => provisioners.get(p)?.rateLimits?.failedValidationsPerIdentifier,
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
    enqueueValidation: (id) => void pool.enqueue(id),
    validationSettled: (id) => pool.settled(id),
    logger: rt.logger,
    alternateChains: (issuerId) => alternates.get(issuerId) ?? [],
    leaseMs,
  };
  // Validations and finalizations interrupted by a restart (or by another node dying) are picked up
  // again by the sweeper; the store is the source of truth.
  const sweeper = new Sweeper({ deps, pool, provisioners, intervalMs: sweepMs });
  void repo
    .listProcessingChallenges(1000)
    .then((ids) => ids.forEach((id) => pool.enqueue(id)))
    .catch((e) => rt.logger.warn({ err: e }, 'acme: cannot resume pending validations'));
  sweeper.start();
  const endpoints = new AcmeEndpoints({ deps, nonces: new NonceService(repo), provisioners: [...provisioners.values()], mountPath: '/acme' });
  return {
    name: 'acme',
    mounts: [{ app: 'https', path: '/acme', router: acmeRouter(endpoints) }],
    fastHttps: [acmeFastHandler(endpoints, rt.logger)],
    close: async () => (await sweeper.close(), await pool.close()),
  };
}
