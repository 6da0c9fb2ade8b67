/** The revocation front-end for `serve`: OCSP responder + CRL service on the plain-HTTP app. */
import type { Frontend } from '../cli/frontends.js';
import type { Runtime } from '../cli/runtime.js';
import { publicUrls } from '../core/ports.js';
import { revocationConfig } from './config.js';
import { CrlService } from './crl/service.js';
import { DelegatedResponders } from './ocsp/delegated.js';
import { OcspResponder } from './ocsp/responder.js';
import { ocspFastHandler } from './fast.js';
import { revocationRouter } from './routes.js';

export async function revocationFrontend(rt: Runtime): Promise<Frontend> {
  const cfg = revocationConfig((rt.config as unknown as Record<string, unknown>).revocation);
  const clock = () => new Date();
  const logger = rt.logger.child({ room: 'revocation' });
  let delegated: DelegatedResponders | undefined;
  if (cfg.ocspSigner === 'delegated') {
    delegated = new DelegatedResponders({ issuers: rt.issuers, keys: rt.keys, authority: rt.authority, audit: rt.audit, clock, dir: rt.config.path('ocsp'), logger });
    await delegated.start();
  }
  const ocsp = new OcspResponder(
    { issuers: rt.issuers, store: rt.store, clock, logger, delegated },
    { validityMs: cfg.ocspValidityMinutes * 60_000, cacheTtlMs: cfg.ocspCacheSeconds * 1000, maxCertIds: cfg.ocspMaxCertIds },
  );
  const crl = new CrlService(
    { issuers: rt.issuers, store: rt.store, audit: rt.audit, clock, logger },
    {
      validityMs: cfg.crlValidityHours * 3600_000,
      debounceMs: cfg.crlDebounceMs,
      pollMs: cfg.storePollMs,
      partitions: cfg.crlPartitions.bySerialBuckets,
      partitionUrl: publicUrls(rt.config.publicBaseUrl).crlPartition,
    },
  );
  rt.authority.onRevocation(ocsp.onRevocation);
  rt.authority.onRevocation(crl.onRevocation);
  await crl.start();
  return {
    name: 'revocation',
    mounts: [{ app: 'http', path: '/', router: revocationRouter({ ocsp, crl, logger }) }],
    fast: [ocspFastHandler({ ocsp, logger })],
    close: async () => {
      await crl.close();
      await delegated?.settle();
    },
  };
}
