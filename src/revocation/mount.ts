/** The revocation front-end for `serve`: OCSP responder + CRL service on the plain-HTTP app. */
import type { Frontend } from '../cli/frontends.js';
import type { Runtime } from '../cli/runtime.js';
import { publicUrls } from '../core/ports.js';
import type { CertificateRecord } from '../store/types.js';
import { revocationConfig } from './config.js';
import { crlLeadership, followStoreChanges } from './crl/leader.js';
import { CrlService } from './crl/service.js';
import { DelegatedResponders } from './ocsp/delegated.js';
import { OcspResponder } from './ocsp/responder.js';
import { ocspFastHandler } from './fast.js';
import { revocationRouter } from './routes.js';

export async function revocationFrontend(rt: Runtime): Promise<Frontend> {
  const cfg = revocationConfig((rt.config as unknown as Record<string, unknown>).revocation);
  const clock = () => new Date();
  const logger = rt.logger.child({ room: 'revocation' });
  const leaseMs = cfg.leaseSeconds * 1000;
  let delegated: DelegatedResponders | undefined;
  if (cfg.ocspSigner === 'delegated') {
    delegated = new DelegatedResponders({ issuers: rt.issuers, keys: rt.keys, authority: rt.authority, audit: rt.audit, clock, store: rt.store, dir: rt.config.path('ocsp'), logger, leases: rt.leases, leaseMs });
    await delegated.start();
  }
  const ocsp = new OcspResponder(
    { issuers: rt.issuers, store: rt.store, clock, logger, delegated },
    { validityMs: cfg.ocspValidityMinutes * 60_000, cacheTtlMs: cfg.ocspCacheSeconds * 1000, maxCertIds: cfg.ocspMaxCertIds },
  );
  // Several nodes: only the holder of lease crl:<ca> generates that CA's CRLs (crl/leader.ts).
  const signing = rt.issuers.list().filter((i) => i.signer).map((i) => i.id);
  const leader = await crlLeadership(rt.leases, signing, leaseMs);
  const crl = new CrlService(
    { issuers: rt.issuers, store: rt.store, audit: rt.audit, clock, logger, leader },
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
  // Status changes committed on any node (PostgreSQL LISTEN/NOTIFY; SQLite: this process only, the
  // cache TTL covers other processes) drop that serial's cached OCSP answers at once.
  const unfollowOcsp = rt.store.subscribe((c) => {
    if (c.kind === 'certificateStatus') ocsp.onRevocation({ serial: c.serial } as CertificateRecord); // only the serial is read
  });
  const unfollowCrl = followStoreChanges(rt.store, crl, (id) => rt.issuers.has(id));
  await crl.start();
  return {
    name: 'revocation',
    mounts: [{ app: 'http', path: '/', router: revocationRouter({ ocsp, crl, logger }) }],
    fast: [ocspFastHandler({ ocsp, logger })],
    close: async () => {
      unfollowOcsp();
      unfollowCrl();
      await crl.close();
      await delegated?.close();
    },
  };
}
