/**
 * Key-ceremony files: one YAML file per ceremony (modelled on Boulder's `ceremony` tool), validated
 * with zod BEFORE anything touches an HSM. Errors name the field path (`validity.notAfter: ...`).
 *
 * Secrets never appear in a ceremony file: PINs are named by an environment variable or a file
 * (`pin: {env: CEREMONY_ROOT_PIN}` / `pin: {file: root.pin}`), resolved here (config/ is the only
 * room that reads process.env) only when the ceremony really runs. Paths are relative to the
 * directory the command runs in, as in Boulder.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FlintError } from '../errors/index.js';
import { Secret } from './secret.js';

/** The key types of pki/algorithms (KEY_TYPES); config/ sits above pki/ and cannot import it. */
const keyType = z.enum(['RSA-2048', 'RSA-3072', 'RSA-4096', 'P-256', 'P-384', 'Ed25519']);

const pinSource = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }),
  z.strictObject({ file: z.string().min(1) }),
], { error: 'must be {env: VARIABLE} or {file: PATH} (never a literal PIN)' });
export type PinSource = z.infer<typeof pinSource>;

const label = z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only');

const token = z.strictObject({
  /** PKCS#11 library; default: SoftHSM 2. */
  module: z.string().min(1).optional(),
  /** Token (partition) label. */
  label: z.string().min(1).max(32),
  pin: pinSource,
  /** Security-officer PIN: only `backup` needs it (CKA_TRUSTED can only be set by the SO). */
  soPin: pinSource.optional(),
});
export type TokenSpec = z.infer<typeof token>;

const isoDate = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(s) && !Number.isNaN(Date.parse(s)), 'an ISO 8601 UTC time such as 2026-01-01T00:00:00Z');

const validity = z
  .strictObject({ notBefore: isoDate, notAfter: isoDate })
  .refine((v) => Date.parse(v.notAfter) > Date.parse(v.notBefore), { message: 'notAfter must be after notBefore', path: ['notAfter'] });

/** Subject as an ordered map (order as written): {C: US, O: Example, CN: Example Root}. */
const subject = z
  .record(z.string().regex(/^([A-Za-z]+|\d+(\.\d+)+)$/, 'an attribute name (CN, O, OU, C, ...) or dotted OID'), z.string().min(1).max(64))
  .refine((r) => Object.keys(r).length > 0, 'at least one attribute');

const oidString = z.string().regex(/^[0-2](\.\d+)+$/, 'a dotted OID');
const nameConstraints = z.strictObject({
  permittedDns: z.array(z.string().min(1)).optional(),
  excludedDns: z.array(z.string().min(1)).optional(),
  permittedIp: z.array(z.string().regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/, 'CIDR')).optional(),
  excludedIp: z.array(z.string().regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/, 'CIDR')).optional(),
  permittedEmail: z.array(z.string().min(1)).optional(),
  excludedEmail: z.array(z.string().min(1)).optional(),
});

const keySpec = z.strictObject({
  label,
  type: keyType,
  /** Allow a wrapped backup (CKA_EXTRACTABLE + CKA_WRAP_WITH_TRUSTED); default false. */
  backup: z.boolean().default(false),
});

const output = z.strictObject({
  dir: z.string().min(1),
  /** Base name of every output file (`<name>.crt`, `<name>.csr`, ...). */
  name: label,
});

/** The offline CA key and certificate a signing ceremony uses. */
const issuer = z.strictObject({ keyLabel: label, certificate: z.string().min(1) });

const caFields = {
  validity,
  pathLength: z.number().int().min(0).max(10).optional(),
  nameConstraints: nameConstraints.optional(),
  policies: z.array(oidString).default([]),
};

const urls = {
  crlUrl: z.url().optional(),
  caIssuersUrl: z.url().optional(),
  ocspUrl: z.url().optional(),
};

const description = z.string().max(2000).optional();

const rootSchema = z.strictObject({
  ceremony: z.literal('root'),
  description,
  token,
  key: keySpec,
  certificate: z.strictObject({ subject, ...caFields }),
  output,
});

const intermediateSchema = z.strictObject({
  ceremony: z.literal('intermediate'),
  description,
  token,
  key: keySpec,
  csr: z.strictObject({ subject }),
  output,
});

const signIntermediateSchema = z.strictObject({
  ceremony: z.literal('sign-intermediate'),
  description,
  token,
  issuer,
  csr: z.string().min(1),
  certificate: z.strictObject({ subject: subject.optional(), ...caFields, ...urls }),
  output,
});

const ocspSignerSchema = z.strictObject({
  ceremony: z.literal('ocsp-signer'),
  description,
  token,
  issuer,
  /** SubjectPublicKeyInfo PEM of the responder key (from a `key` ceremony on the online token). */
  publicKey: z.string().min(1),
  certificate: z.strictObject({ subject, validity }),
  output,
});

const crlSchema = z.strictObject({
  ceremony: z.literal('crl'),
  description,
  token,
  issuer,
  crl: z.strictObject({
    number: z.number().int().min(1),
    thisUpdate: isoDate,
    nextUpdate: isoDate,
    revoked: z
      .array(z.strictObject({
        serial: z.string().regex(/^[0-9a-fA-F:]+$/, 'hex serial'),
        revokedAt: isoDate,
        reason: z.enum(['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn']).default('unspecified'),
      }))
      .default([]),
  }).refine((c) => Date.parse(c.nextUpdate) > Date.parse(c.thisUpdate), { message: 'nextUpdate must be after thisUpdate', path: ['nextUpdate'] }),
  output,
});

const keySchema = z.strictObject({
  ceremony: z.literal('key'),
  description,
  token,
  key: keySpec,
  output,
});

const backupSchema = z.strictObject({
  ceremony: z.literal('backup'),
  description,
  token,
  keyLabel: label,
  /** Certificate of the key (optional): its fingerprint goes into the backup and the transcript. */
  certificate: z.string().min(1).optional(),
  shares: z
    .strictObject({ threshold: z.number().int().min(2).max(255), custodians: z.array(label).min(2).max(255) })
    .refine((s) => s.threshold <= s.custodians.length, { message: 'threshold must not exceed the number of custodians', path: ['threshold'] })
    .refine((s) => new Set(s.custodians).size === s.custodians.length, { message: 'custodian names must be unique', path: ['custodians'] }),
  output,
});

const restoreSchema = z.strictObject({
  ceremony: z.literal('restore'),
  description,
  /** The fresh token the key is restored into. */
  token,
  backup: z.string().min(1),
  shares: z.array(z.string().min(1)).min(2),
  /** Label on the new token (default: the backed-up label); `backup: true` keeps it wrappable. */
  key: z.strictObject({ label: label.optional(), backup: z.boolean().default(false) }).prefault({}),
  /** Prove the restored key by signing and verifying with this certificate's public key. */
  certificate: z.string().min(1).optional(),
  output,
});

const caInstall = z.strictObject({ id: label, certificate: z.string().min(1), keyLabel: label });

const installSchema = z.strictObject({
  ceremony: z.literal('install'),
  description,
  /** The data directory to create (must not exist or be empty). */
  data: z.string().min(1),
  name: z.string().min(1).default('Flint CA'),
  publicBaseUrl: z.url(),
  httpsBaseUrl: z.url(),
  /** Names of the CA's own HTTPS certificate. */
  dns: z.array(z.string().min(1)).min(1).default(['localhost', '127.0.0.1']),
  /** The online token. A `file` PIN is referenced from flintca.json; an `env` PIN must be given to serve as FLINTCA_PKCS11_PIN. */
  token,
  /** SoftHSM only: the softhsm2.conf that holds the online token (written into flintca.json). */
  softhsmConf: z.string().min(1).optional(),
  /** `keyUri`: where the offline root key lives (from its transcript), recorded in the store; no key is opened. */
  root: z.strictObject({ id: label.default('root'), certificate: z.string().min(1), keyUri: z.string().regex(/^pkcs11:/, 'an RFC 7512 pkcs11: URI').optional() }),
  issuing: z.array(caInstall).min(1),
  defaultIssuer: label.optional(),
  /** Delegated OCSP responder certificates for offline CAs, signed in an `ocsp-signer` ceremony; key label `ocsp-<ca>` on the online token. */
  ocspResponders: z.array(z.strictObject({ ca: label, certificate: z.string().min(1) })).default([]),
  /** CRLs signed offline (`crl` ceremony), DER or PEM, served until replaced. */
  crls: z.array(z.string().min(1)).default([]),
  estPassword: pinSource.optional(),
  scepChallenge: pinSource.optional(),
});

const rolloverSchema = z.strictObject({
  ceremony: z.literal('rollover'),
  description,
  /** An installed data directory; its key store (flintca.json) holds the new key. */
  data: z.string().min(1),
  ca: caInstall,
  /** The CA being replaced: marked retiring, keeps answering OCSP and publishing CRLs. */
  retire: label,
});

export const ceremonySchema = z.discriminatedUnion('ceremony', [
  rootSchema, intermediateSchema, signIntermediateSchema, ocspSignerSchema, crlSchema, keySchema, backupSchema, restoreSchema, installSchema, rolloverSchema,
]);
export type Ceremony = z.infer<typeof ceremonySchema>;
export type CeremonyType = Ceremony['ceremony'];
export const CEREMONY_TYPES: readonly CeremonyType[] = ['root', 'intermediate', 'sign-intermediate', 'ocsp-signer', 'crl', 'key', 'backup', 'restore', 'install', 'rollover'];

/** Parses and validates ceremony YAML text; throws 'invalidConfig' naming `file: field.path: reason` for each problem. */
export function parseCeremony(text: string, file = 'ceremony'): Ceremony {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    throw new FlintError('invalidConfig', `${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new FlintError('invalidConfig', `${file}: (root): must be a mapping with a "ceremony" field`);
  const kind = (raw as Record<string, unknown>).ceremony;
  if (typeof kind !== 'string' || !(CEREMONY_TYPES as readonly string[]).includes(kind)) {
    throw new FlintError('invalidConfig', `${file}: ceremony: must be one of ${CEREMONY_TYPES.join(', ')}`);
  }
  const r = ceremonySchema.safeParse(raw);
  if (!r.success) {
    throw new FlintError('invalidConfig', r.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n'));
  }
  return r.data;
}

export function loadCeremony(path: string): { ceremony: Ceremony; text: Buffer } {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch {
    throw new FlintError('invalidConfig', `cannot read ceremony file ${path}`);
  }
  return { ceremony: parseCeremony(text.toString('utf8'), path), text };
}

/** Describes where a PIN comes from, for dry runs and transcripts (never the PIN). */
export function describePin(p: PinSource): string {
  return 'env' in p ? `environment variable ${p.env}` : `file ${p.file}`;
}

/** Reads a PIN from its source; `what` names it in errors (the value is never echoed). */
export function resolvePin(p: PinSource, what: string): Secret {
  if ('env' in p) {
    const v = process.env[p.env];
    if (!v) throw new FlintError('invalidConfig', `${what}: environment variable ${p.env} is not set`);
    return new Secret(v);
  }
  let v: string;
  try {
    v = readFileSync(resolve(p.file), 'utf8').trim();
  } catch {
    throw new FlintError('invalidConfig', `${what}: cannot read PIN file ${p.file}`);
  }
  if (!v) throw new FlintError('invalidConfig', `${what}: PIN file ${p.file} is empty`);
  return new Secret(v);
}
