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
  })
  .strict();

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
}

export const DEFAULT_LABEL = 'default';

/** Validates `config.est` (absent = no Basic users, default label only); errors name the field. */
export function loadEstConfig(config: unknown): EstConfig {
  const section = (config as { est?: unknown } | null)?.est ?? {};
  const r = estConfigSchema.safeParse(section);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new FlintError('invalidConfig', `est.${i.path.join('.')}: ${i.message}`);
  }
  const labels = new Map<string, EstLabel>(Object.entries(r.data.labels));
  if (!labels.has(DEFAULT_LABEL)) labels.set(DEFAULT_LABEL, estLabelSchema.parse({}));
  return { users: r.data.users, labels };
}
