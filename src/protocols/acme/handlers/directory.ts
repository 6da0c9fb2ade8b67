/** §7.1.1 directory. */
import type { Directory } from '../wire.js';
import type { AcmeUrls } from '../urls.js';

export function directory(urls: AcmeUrls, profile: string): Directory {
  return {
    newNonce: urls.newNonce,
    newAccount: urls.newAccount,
    newOrder: urls.newOrder,
    revokeCert: urls.revokeCert,
    keyChange: urls.keyChange,
    meta: { externalAccountRequired: false, profiles: { [profile]: 'the default ACME signing profile' } },
  };
}
