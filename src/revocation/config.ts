/**
 * The optional `revocation` section of flintca.json (the config schema is loose; this room
 * validates its own part; errors name the field path):
 *
 *   "revocation": { "crlValidityHours": 24, "crlDebounceMs": 2000, "storePollMs": 1000,
 *                   "ocspValidityMinutes": 60, "ocspCacheSeconds": 3, "ocspMaxCertIds": 100,
 *                   "ocspSigner": "delegated", "crlPartitions": { "bySerialBuckets": 0 },
 *                   "leaseSeconds": 15 }
 *
 * CRLs are regenerated when less than half of crlValidityHours is left (RFC 5280 §5.1.2.5 nextUpdate).
 * ocspCacheSeconds bounds how late a revocation made by another process (CLI, another node) shows
 * in OCSP; storePollMs bounds it for CRLs.
 * ocspSigner: "delegated" signs OCSP with a per-CA responder certificate (RFC 6960 §4.2.2.2),
 * "ca" with the CA key itself (§2.6).
 * crlPartitions.bySerialBuckets: N > 0 also publishes N partitioned CRLs per CA (RFC 5280 §5.2.5),
 * /crl/{ca}-p{k}.crl holding the entries whose first serial octet mod N is k.
 * leaseSeconds: with several nodes on one store, CRL generation and OCSP responder issuance per CA
 * run on the holder of a lease of this length (renewed every third); another node takes over at
 * most this long after the holder dies.
 */
import { z } from 'zod';
import { FlintError } from '../errors/index.js';

export const revocationConfigSchema = z
  .object({
    crlValidityHours: z.number().min(1).max(24 * 31).default(24),
    crlDebounceMs: z.number().int().min(0).max(60_000).default(2000),
    storePollMs: z.number().int().min(100).max(3600_000).default(1000),
    ocspValidityMinutes: z.number().min(1).max(7 * 24 * 60).default(60),
    ocspCacheSeconds: z.number().min(0).max(3600).default(3),
    ocspMaxCertIds: z.number().int().min(1).max(1000).default(100),
    ocspSigner: z.enum(['delegated', 'ca']).default('delegated'),
    crlPartitions: z.object({ bySerialBuckets: z.number().int().min(0).max(256).default(0) }).strict().default({ bySerialBuckets: 0 }),
    leaseSeconds: z.number().min(1).max(600).default(15),
  })
  .strict();

export type RevocationConfig = z.output<typeof revocationConfigSchema>;

export function revocationConfig(raw: unknown): RevocationConfig {
  const r = revocationConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new FlintError('invalidConfig', r.error.issues.map((i) => `flintca.json: revocation.${i.path.join('.')}: ${i.message}`).join('\n'));
  return r.data;
}
