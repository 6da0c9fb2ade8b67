/** The signing-profile file format (profiles/*.yaml), validated with zod. See README "Profiles". */
import { z } from 'zod';
import { KEY_USAGES } from '../pki/types.js';
import { SIGNATURE_ALGORITHMS } from '../pki/algorithms.js';

const DURATION = /^(\d+)(s|m|h|d)$/;

/** "90d", "24h", "5m", "30s" → milliseconds. */
export function parseDuration(s: string): number {
  const m = DURATION.exec(s.trim());
  if (!m) throw new Error(`bad duration "${s}" (use e.g. 90d, 24h, 5m, 30s)`);
  const n = Number(m[1]);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

const duration = z.string().regex(DURATION, 'a duration like 90d, 24h, 5m or 30s').transform(parseDuration);

const cidr = z.string().refine((s) => /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(s), 'an IP range in CIDR form, e.g. 10.0.0.0/8');

const PROTOCOLS = ['acme', 'est', 'scep', 'cli', 'ceremony'] as const;

export const profileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    description: z.string().default(''),
    /** Issuing CA registry id; default: the configured default issuer. */
    issuer: z.string().optional(),
    keyTypes: z
      .object({
        rsa: z.object({ minBits: z.number().int().min(2048).default(2048), maxBits: z.number().int().default(4096) }).nullable().default(null),
        ec: z.object({ curves: z.array(z.enum(['P-256', 'P-384'])).min(1) }).nullable().default(null),
        ed25519: z.boolean().default(false),
      })
      .strict(),
    signatureAlgorithm: z.enum(SIGNATURE_ALGORITHMS).optional(),
    validity: z
      .object({ default: duration, max: duration, backdate: duration.default(60_000) })
      .strict()
      .refine((v) => v.default <= v.max, { message: 'default must not exceed max', path: ['default'] }),
    keyUsage: z.array(z.enum(KEY_USAGES)).default([]),
    extKeyUsage: z.array(z.string()).default([]),
    basicConstraints: z.object({ ca: z.boolean(), pathLen: z.number().int().min(0).optional() }).strict().default({ ca: false }),
    subject: z
      .object({
        /** CSR subject attribute types copied into the certificate; others are dropped. */
        keep: z.array(z.string()).default(['CN']),
        /** Attributes the CA sets whatever the CSR says (e.g. O). */
        template: z.record(z.string(), z.string()).default({}),
        /** Use the first DNS SAN as CN when the CSR has no CN. */
        commonNameFromSan: z.boolean().default(false),
        requireCommonName: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    sans: z
      .object({
        dns: z
          .object({
            allowed: z.boolean().default(true),
            /** Allowed DNS suffixes, e.g. ".internal"; empty = any name. */
            suffixes: z.array(z.string()).default([]),
            /** Regular expressions a DNS name may match instead of a suffix. */
            patterns: z.array(z.string()).default([]),
            wildcards: z.boolean().default(false),
          })
          .strict()
          .prefault({}),
        ip: z.object({ allowed: z.boolean().default(false), ranges: z.array(cidr).default([]) }).strict().prefault({}),
        email: z.object({ allowed: z.boolean().default(false), domains: z.array(z.string()).default([]) }).strict().prefault({}),
        uri: z.object({ allowed: z.boolean().default(false), schemes: z.array(z.string()).default([]) }).strict().prefault({}),
        maxNames: z.number().int().min(1).default(100),
        requireOne: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** Put CRL distribution point / AIA OCSP / AIA caIssuers URLs into certificates. */
    crl: z.boolean().default(true),
    ocsp: z.boolean().default(true),
    caIssuers: z.boolean().default(true),
    /** Delta CRL pointer (Freshest CRL) in issued certificates. */
    deltaCrl: z.boolean().default(false),
    mustStaple: z.boolean().default(false),
    /** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): for delegated OCSP responder certificates. */
    ocspNoCheck: z.boolean().default(false),
    policies: z.array(z.string().regex(/^\d+(\.\d+)+$/, 'a dotted OID')).default([]),
    /** Which front-ends may use this profile. */
    protocols: z.array(z.enum(PROTOCOLS)).default([...PROTOCOLS]),
    /** ACME provisioners / EST and SCEP labels allowed; ["*"] = all. */
    provisioners: z.array(z.string()).default(['*']),
  })
  .strict();

export type ProfileFile = z.input<typeof profileSchema>;
export type Profile = Readonly<z.output<typeof profileSchema>>;
export type Protocol = (typeof PROTOCOLS)[number];
