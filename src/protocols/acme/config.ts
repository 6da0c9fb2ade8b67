/**
 * The `acme` section of flintca.json (the config schema is loose; this area validates its own part).
 *
 *   "acme": {
 *     "termsOfService": "https://ca.example/tos",
 *     "provisioners": {
 *       "acme":     { "profiles": ["tls-server"] },
 *       "internal": { "profiles": ["tls-server", "tls-client"], "dnsSuffixes": ["corp.example"],
 *                     "ipRanges": ["10.0.0.0/8"], "challenges": ["dns-01"], "requireEab": true,
 *                     "orderLifetime": "1d", "authzLifetime": "8h", "issuer": "issuing",
 *                     "rateLimits": { "newOrdersPerAccount": { "limit": 300, "window": "3h" },
 *                                     "newAccountsPerIp": { "limit": 10, "window": "3h" },
 *                                     "certificatesPerDomain": { "limit": 50, "window": "7d" },
 *                                     "failedValidationsPerIdentifier": { "limit": 5, "window": "1h" } } }
 *     },
 *     "alternateChains": { "issuing": ["chains/issuing-cross.pem"] },
 *     "processing": { "leaseSeconds": 60, "sweepSeconds": 2 }
 *   }
 *
 * Without `acme.provisioners` there is one provisioner, `acme`, issuing with `tls-server`.
 */
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { FlintError } from '../../errors/index.js';
import type { AcmeChallengeRecord } from '../../store/acme-types.js';

export type ChallengeType = AcmeChallengeRecord['type'];
export const CHALLENGE_TYPES: readonly ChallengeType[] = ['http-01', 'dns-01', 'tls-alpn-01'];
export const DEFAULT_PROVISIONER = 'acme';
export const DEFAULT_PROFILE = 'tls-server';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DAY = 86_400_000;

/** A lifetime: seconds (number) or "<n>s|m|h|d". */
const lifetime = z.union([
  z.number().int().positive().transform((n) => n * 1000),
  z.string().regex(/^\d+[smhd]$/, 'a duration like 3600s, 90m, 8h or 7d').transform((s) => Number(s.slice(0, -1)) * { s: 1000, m: 60_000, h: 3_600_000, d: DAY }[s.slice(-1) as 's']),
]);

const cidr = z.string().refine((s) => {
  const [addr, bits, ...rest] = s.split('/');
  const fam = isIP(addr ?? '');
  const n = Number(bits);
  return rest.length === 0 && fam !== 0 && bits !== undefined && /^\d+$/.test(bits) && n <= (fam === 4 ? 32 : 128);
}, 'a CIDR range like 10.0.0.0/8');

const rateLimit = z.object({ limit: z.number().int().positive(), window: lifetime }).strict();

/** Per-provisioner rate limits (each optional; absent = unlimited). */
export const RATE_LIMIT_NAMES = ['newOrdersPerAccount', 'newAccountsPerIp', 'certificatesPerDomain', 'failedValidationsPerIdentifier'] as const;
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];
export type RateLimits = Partial<Record<RateLimitName, { limit: number; windowMs: number }>>;

const suffix = z.string().min(1).transform((s) => s.toLowerCase().replace(/^\*?\./, '').replace(/\.$/, ''));

export const acmeProvisionerSchema = z
  .object({
    profiles: z.array(z.string().min(1)).min(1).default([DEFAULT_PROFILE]),
    dnsSuffixes: z.array(suffix).optional(),
    ipRanges: z.array(cidr).optional(),
    challenges: z.array(z.enum(['http-01', 'dns-01', 'tls-alpn-01'])).min(1).optional(),
    requireEab: z.boolean().default(false),
    orderLifetime: lifetime.default(7 * DAY),
    authzLifetime: lifetime.default(7 * DAY),
    /** Issuing CA for this provisioner's certificates (default: the profile's / the default issuer). */
    issuer: z.string().min(1).optional(),
    /** §7.1.4: attach a valid (and, with reusePendingAuthorizations, pending) authorization of the same account + identifier to new orders. */
    reuseAuthorizations: z.boolean().default(true),
    reusePendingAuthorizations: z.boolean().default(true),
    rateLimits: z.object(Object.fromEntries(RATE_LIMIT_NAMES.map((n) => [n, rateLimit.optional()])) as Record<RateLimitName, z.ZodOptional<typeof rateLimit>>).strict().optional(),
  })
  .strict();

export const acmeConfigSchema = z
  .object({
    termsOfService: z.url().optional(),
    provisioners: z.record(z.string().regex(NAME, 'letters, digits, dot, dash, underscore'), acmeProvisionerSchema).optional(),
    /** Store-backed jobs: lease a node holds on a validation / finalization, and how often every node sweeps for lapsed ones. */
    processing: z.object({ leaseSeconds: z.number().int().min(1).max(3600).default(60), sweepSeconds: z.number().int().min(1).max(600).default(2) }).strict().optional(),
    /** §7.4.2 alternate chains: issuer id → PEM files (relative to the data dir), each an alternate chain above the leaf. */
    alternateChains: z.record(z.string(), z.array(z.string().min(1)).min(1)).optional(),
  })
  .strict();

export interface AcmeProvisioner {
  name: string;
  /** Signing profiles this provisioner may use; the first is the default. */
  profiles: string[];
  dnsSuffixes?: string[];
  ipRanges?: string[];
  challenges: ChallengeType[];
  requireEab: boolean;
  orderLifetimeMs: number;
  authzLifetimeMs: number;
  termsOfService?: string;
  issuer?: string;
  reuseAuthorizations?: boolean;
  reusePendingAuthorizations?: boolean;
  rateLimits?: RateLimits;
}

export function defaultProvisioner(name = DEFAULT_PROVISIONER, profile = DEFAULT_PROFILE, extra: Partial<AcmeProvisioner> = {}): AcmeProvisioner {
  return { name, profiles: [profile], challenges: [...CHALLENGE_TYPES], requireEab: false, orderLifetimeMs: 7 * DAY, authzLifetimeMs: 7 * DAY, ...extra };
}

/** Validates config.acme; returns the provisioners by name (insertion order; never empty). */
export function loadAcmeConfig(config: unknown, knownProfiles?: Iterable<string>): Map<string, AcmeProvisioner> {
  const section = typeof config === 'object' && config !== null ? (config as Record<string, unknown>).acme : undefined;
  const r = acmeConfigSchema.safeParse(section ?? {});
  if (!r.success) {
    const issues = r.error.issues.map((i) => `acme.${i.path.join('.')}: ${i.message}`).join('; ');
    throw new FlintError('invalidConfig', `flintca.json: ${issues}`);
  }
  const out = new Map<string, AcmeProvisioner>();
  const tos = r.data.termsOfService;
  const entries = Object.entries(r.data.provisioners ?? {});
  if (entries.length === 0) out.set(DEFAULT_PROVISIONER, defaultProvisioner(DEFAULT_PROVISIONER, DEFAULT_PROFILE, tos ? { termsOfService: tos } : {}));
  for (const [name, p] of entries) {
    out.set(name, {
      name,
      profiles: p.profiles,
      ...(p.dnsSuffixes ? { dnsSuffixes: p.dnsSuffixes } : {}),
      ...(p.ipRanges ? { ipRanges: p.ipRanges } : {}),
      challenges: p.challenges ?? [...CHALLENGE_TYPES],
      requireEab: p.requireEab,
      orderLifetimeMs: p.orderLifetime,
      authzLifetimeMs: p.authzLifetime,
      ...(tos ? { termsOfService: tos } : {}),
      ...(p.issuer ? { issuer: p.issuer } : {}),
      reuseAuthorizations: p.reuseAuthorizations,
      reusePendingAuthorizations: p.reusePendingAuthorizations,
      ...(p.rateLimits
        ? { rateLimits: Object.fromEntries(Object.entries(p.rateLimits).flatMap(([k, v]) => (v ? [[k, { limit: v.limit, windowMs: v.window }]] : []))) as RateLimits }
        : {}),
    });
  }
  if (knownProfiles) {
    const known = new Set(knownProfiles);
    for (const p of out.values()) {
      const missing = p.profiles.filter((x) => !known.has(x));
      if (missing.length) throw new FlintError('invalidConfig', `flintca.json: acme.provisioners.${p.name}.profiles: unknown profile(s) ${missing.join(', ')}`);
    }
  }
  return out;
}

/**
 * Startup checks against what `serve` loaded: every provisioner's profiles exist and admit ACME and
 * this provisioner, its issuer and every alternate-chain issuer exist. Errors name the field.
 */
export function checkAcmeConfig(
  config: unknown,
  provisioners: Map<string, AcmeProvisioner>,
  known: { profiles: ReadonlyMap<string, { protocols: readonly string[]; provisioners: readonly string[] }>; issuers: (id: string) => boolean },
): void {
  const bad = (field: string, why: string) => new FlintError('invalidConfig', `flintca.json: ${field}: ${why}`);
  for (const p of provisioners.values()) {
    const field = `acme.provisioners.${p.name}`;
    p.profiles.forEach((name, i) => {
      const prof = known.profiles.get(name);
      if (!prof) throw bad(`${field}.profiles[${i}]`, `unknown profile ${name} (known: ${[...known.profiles.keys()].join(', ')})`);
      if (!prof.protocols.includes('acme')) throw bad(`${field}.profiles[${i}]`, `profile ${name} does not allow the acme protocol`);
      if (!prof.provisioners.includes('*') && !prof.provisioners.includes(p.name)) throw bad(`${field}.profiles[${i}]`, `profile ${name} does not allow provisioner ${p.name}`);
    });
    if (p.issuer !== undefined && !known.issuers(p.issuer)) throw bad(`${field}.issuer`, `unknown issuer ${p.issuer}`);
  }
  for (const id of Object.keys(alternateChainFiles(config))) if (!known.issuers(id)) throw bad(`acme.alternateChains.${id}`, `unknown issuer ${id}`);
}

/** config.acme.alternateChains (already validated by loadAcmeConfig). */
export function alternateChainFiles(config: unknown): Record<string, string[]> {
  const section = typeof config === 'object' && config !== null ? ((config as Record<string, unknown>).acme as Record<string, unknown> | undefined) : undefined;
  return (section?.alternateChains as Record<string, string[]> | undefined) ?? {};
}

/** Why the provisioner refuses this identifier, or undefined when it is allowed. */
export function identifierRefusal(p: AcmeProvisioner, id: { type: 'dns' | 'ip'; value: string }): string | undefined {
  if (id.type === 'dns') {
    if (!p.dnsSuffixes) return undefined;
    const name = id.value.toLowerCase().replace(/^\*\./, '');
    if (p.dnsSuffixes.some((s) => name === s || name.endsWith(`.${s}`))) return undefined;
    return `${id.value} is not under an allowed DNS suffix of provisioner ${p.name} (${p.dnsSuffixes.join(', ')})`;
  }
  if (!p.ipRanges) return undefined;
  const bl = new BlockList();
  for (const r of p.ipRanges) {
    const [addr, bits] = r.split('/') as [string, string];
    bl.addSubnet(addr, Number(bits), isIP(addr) === 6 ? 'ipv6' : 'ipv4');
  }
  const fam = isIP(id.value) === 6 ? 'ipv6' : 'ipv4';
  if (bl.check(id.value, fam)) return undefined;
  return `${id.value} is not in an allowed IP range of provisioner ${p.name} (${p.ipRanges.join(', ')})`;
}

/** config.acme.processing with defaults (already validated by loadAcmeConfig). */
export function processingSettings(config: unknown): { leaseMs: number; sweepMs: number } {
  const section = typeof config === 'object' && config !== null ? ((config as Record<string, unknown>).acme as Record<string, unknown> | undefined) : undefined;
  const p = (section?.processing ?? {}) as { leaseSeconds?: number; sweepSeconds?: number };
  return { leaseMs: (p.leaseSeconds ?? 60) * 1000, sweepMs: (p.sweepSeconds ?? 2) * 1000 };
}
