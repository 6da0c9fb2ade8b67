/**
 * The `est` section of flintca.json (the config schema is loose; this room validates its own part).
 *
 *   "est": {
 *     "users":  [{ "name": "est", "passwordHash": "scrypt$..." }],
 *     "labels": { "iot": { "profile": "device", "auth": "either", "requireApproval": true } }
 *   }
 *
 * The unlabelled URLs (/.well-known/est/simpleenroll) use label `default` (profile `device`,
 * auth `either`, no approval) unless `labels.default` says otherwise.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FlintError } from '../../errors/index.js';

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const estLabelSchema = z
  .object({
    profile: z.string().default('device'),
    /** basic = HTTP Basic only; cert = TLS client certificate issued by us; either = both. */
    auth: z.enum(['basic', 'cert', 'either']).default('either'),
    requireApproval: z.boolean().default(false),
    /** Ask for (csrattrs) and require a PKCS#9 challengePassword equal to an EST user's password. */
    requireChallengePassword: z.boolean().default(false),
    /**
     * Manufacturer (IDevID-style) bootstrap: PEM file of one or more CA certificates, relative to
     * the data directory. A TLS client certificate issued directly by one of them authenticates
     * simpleenroll on this label (not simplereenroll / serverkeygen).
     */
    bootstrapCaFile: z.string().min(1).optional(),
    /**
     * §3.5 channel binding: the CSR challengePassword must be the base64 of the TLS channel
     * binding (tls-unique for TLS ≤ 1.2, RFC 5929; tls-exporter, RFC 9266, for any version).
     */
    channelBinding: z.boolean().default(false),
  })
  .strict()
  .refine((l) => !(l.channelBinding && l.requireChallengePassword), {
    message: 'channelBinding and requireChallengePassword both use the CSR challengePassword; enable only one',
    path: ['channelBinding'],
  });

export const estConfigSchema = z
  .object({
    users: z.array(z.object({ name: z.string().min(1), passwordHash: z.string().startsWith('scrypt$') }).strict()).default([]),
    labels: z.record(z.string().regex(LABEL, 'letters, digits, dot, dash, underscore'), estLabelSchema).default({}),
  })
  .strict();

export type EstLabel = z.output<typeof estLabelSchema>;
export interface EstConfig {
  users: { name: string; passwordHash: string }[];
  labels: Map<string, EstLabel>;
  /** Parsed `bootstrapCaFile` certificates per label (only labels that configure one). */
  bootstrapCas: Map<string, X509Certificate[]>;
}

export const DEFAULT_LABEL = 'default';

/** Every certificate in a PEM file; invalidConfig naming the field when there is none or one is bad. */
export function readBootstrapCas(file: string, field: string): X509Certificate[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FlintError('invalidConfig', `${field}: cannot read ${file}: ${(e as Error).message}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new FlintError('invalidConfig', `${field}: ${file} holds no PEM certificate`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new FlintError('invalidConfig', `${field}: certificate ${i + 1} in ${file} does not parse: ${(e as Error).message}`);
    }
  });
}

/**
 * Validates `config.est` (absent = no Basic users, default label only); errors name the field.
 * `resolvePath` maps a configured file name (bootstrapCaFile) to a path (the data directory's).
 */
export function loadEstConfig(config: unknown, resolvePath: (p: string) => string = (p) => p): EstConfig {
  const section = (config as { est?: unknown } | null)?.est ?? {};
  const r = estConfigSchema.safeParse(section);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new FlintError('invalidConfig', `est.${i.path.join('.')}: ${i.message}`);
  }
  const labels = new Map<string, EstLabel>(Object.entries(r.data.labels));
  if (!labels.has(DEFAULT_LABEL)) labels.set(DEFAULT_LABEL, estLabelSchema.parse({}));
  const bootstrapCas = new Map<string, X509Certificate[]>();
  for (const [name, l] of labels) if (l.bootstrapCaFile) bootstrapCas.set(name, readBootstrapCas(resolvePath(l.bootstrapCaFile), `est.labels.${name}.bootstrapCaFile`));
  return { users: r.data.users, labels, bootstrapCas };
}
