/** §7.1.1 directory, with the profiles extension (draft-aaron-acme-profiles) and ARI (RFC 9773). */
import type { AcmeProvisioner } from '../config.js';
import type { Directory } from '../wire.js';
import type { AcmeUrls } from '../urls.js';

export function directory(urls: AcmeUrls, prov: AcmeProvisioner, descriptions: Record<string, string> = {}): Directory {
  const meta: NonNullable<Directory['meta']> = {
    externalAccountRequired: prov.requireEab,
    profiles: Object.fromEntries(prov.profiles.map((p, i) => [p, descriptions[p] || (i === 0 ? `signing profile ${p} (default)` : `signing profile ${p}`)])),
  };
  if (prov.termsOfService) meta.termsOfService = prov.termsOfService;
  return {
    newNonce: urls.newNonce,
    newAccount: urls.newAccount,
    newOrder: urls.newOrder,
    revokeCert: urls.revokeCert,
    keyChange: urls.keyChange,
    renewalInfo: urls.renewalInfo,
    meta,
  };
}
