/**
 * The `scep` section of flintca.json (the config schema is loose; this room validates its part).
 *
 *   "scep": {
 *     "challengeHash": "scrypt$…",            // static challenge of label `default` (init --scep-challenge)
 *     "ra": { "keyLabel": "scep-ra", "certFile": "ca/scep-ra.crt" },   // written by init (ECDSA issuing CA)
 *     "defaultLabel": "default",
 *     "labels": {
 *       "iot": { "profile": "device", "issuer": "issuing", "challengeHash": "scrypt$…",
 *                "requireApproval": false, "allowDES3": true }
 *     }
 *   }
 *
 * `/scep` and `/cgi-bin/pkiclient.exe` use `defaultLabel`; `/scep/{label}` a configured label.
 * Label `default` exists unless configured: profile `device`, the top-level challengeHash.
 */
import { z } from 'zod';
import { FlintError } from '../../errors/index.js';

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const scepLabelSchema = z
  .object({
    profile: z.string().default('device'),
    /** Issuing CA id; default: the profile's issuer, else the configured default issuer. */
    issuer: z.string().optional(),
    /** scrypt hash of the static challenge password; absent = only one-time dynamic challenges. */
    challengeHash: z.string().startsWith('scrypt$').optional(),
    /** Queue PKCSReq for `flintca requests approve` (PENDING until decided). */
    requireApproval: z.boolean().default(false),
    /**
     * Accept the legacy DES family (DES3-CBC, and single DES-CBC that micromdm scepclient ≤ 2.1
     * always sends): when false, such envelopes get FAILURE badAlg and GetCACaps omits DES3.
     */
    allowDES3: z.boolean().default(true),
  })
  .strict();

export const scepConfigSchema = z
  .object({
    challengeHash: z.string().startsWith('scrypt$').optional(),
    defaultLabel: z.string().regex(LABEL).default('default'),
    ra: z.object({ keyLabel: z.string().min(1), certFile: z.string().min(1) }).strict().optional(),
    labels: z.record(z.string().regex(LABEL, 'letters, digits, dot, dash, underscore'), scepLabelSchema).default({}),
    /** Largest PKIOperation message accepted (bytes, before base64 decoding of GET). */
    maxMessageBytes: z.number().int().min(4096).max(1024 * 1024).default(64 * 1024),
  })
  .strict();

export type ScepLabel = z.output<typeof scepLabelSchema>;
export interface ScepConfig {
  defaultLabel: string;
  labels: Map<string, ScepLabel>;
  ra?: { keyLabel: string; certFile: string };
  maxMessageBytes: number;
}

export const DEFAULT_LABEL = 'default';

/** Validates `config.scep` (absent = label `default` with dynamic challenges only); errors name the field. */
export function loadScepConfig(config: unknown): ScepConfig {
  const section = (config as { scep?: unknown } | null)?.scep ?? {};
  const r = scepConfigSchema.safeParse(section);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new FlintError('invalidConfig', `scep.${i.path.join('.')}: ${i.message}`);
  }
  const labels = new Map<string, ScepLabel>(Object.entries(r.data.labels));
  if (!labels.has(DEFAULT_LABEL)) labels.set(DEFAULT_LABEL, scepLabelSchema.parse({ challengeHash: r.data.challengeHash }));
  if (!labels.has(r.data.defaultLabel)) throw new FlintError('invalidConfig', `scep.defaultLabel: no label named ${r.data.defaultLabel}`);
  return { defaultLabel: r.data.defaultLabel, labels, ra: r.data.ra, maxMessageBytes: r.data.maxMessageBytes };
}
