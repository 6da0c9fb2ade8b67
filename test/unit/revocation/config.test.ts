import { describe, expect, it } from 'vitest';
import { revocationConfig } from '../../../src/revocation/config.js';

describe('revocation config section', () => {
  it('defaults: 24 h CRLs, 1 s store poll, 2 s debounce, 1 h OCSP validity, 3 s cache, 100 CertIDs', () => {
    expect(revocationConfig(undefined)).toEqual({ crlValidityHours: 24, crlDebounceMs: 2000, storePollMs: 1000, ocspValidityMinutes: 60, ocspCacheSeconds: 3, ocspMaxCertIds: 100, ocspSigner: 'delegated', crlPartitions: { bySerialBuckets: 0 }, leaseSeconds: 15 });
    expect(revocationConfig({ crlValidityHours: 6 }).crlValidityHours).toBe(6);
  });
  it('names the field on errors and rejects unknown keys', () => {
    expect(() => revocationConfig({ crlValidityHours: 0 })).toThrow(/revocation\.crlValidityHours/);
    expect(() => revocationConfig({ ocspCache: 1 })).toThrow(/revocation/);
  });
});
