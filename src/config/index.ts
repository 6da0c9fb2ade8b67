/**
 * Loads DIR/flintca.json and FLINTCA_* environment variables into a frozen, typed Config.
 * The only module that reads process.env (ARCHITECTURE.md). Errors name the field path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { FlintError } from '../errors/index.js';
import { Secret } from './secret.js';

export { Secret } from './secret.js';

const keyStoreSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('pkcs11'),
    /** PKCS#11 module path; FLINTCA_PKCS11_MODULE overrides; default: SoftHSM's. */
    modulePath: z.string().optional(),
    tokenLabel: z.string().min(1),
    /** File holding the user PIN (FLINTCA_PKCS11_PIN overrides). */
    pinFile: z.string().optional(),
    /** SoftHSM configuration to point SOFTHSM2_CONF at (dev tokens made by `init`). */
    softhsmConf: z.string().optional(),
    poolSize: z.number().int().min(1).max(64).default(4),
  }),
  z.object({
    kind: z.literal('file'),
    dir: z.string().default('keys'),
    /** File holding the passphrase that encrypts the PKCS#8 key files (FLINTCA_KEY_PASSPHRASE overrides). */
    passphraseFile: z.string().optional(),
  }),
]);

export const configSchema = z
  .object({
    version: z.literal(1),
    name: z.string().default('Flint CA'),
    /** Base URL of the plain-HTTP listener as relying parties reach it (CDP, AIA, OCSP). */
    publicBaseUrl: z.string().url(),
    /** Base URL of the HTTPS listener (ACME directory, EST). */
    httpsBaseUrl: z.string().url(),
    keyStore: keyStoreSchema,
    /** `sqlite:FILE` (relative to the data dir) or `postgres://...`; FLINTCA_DB_URL overrides. */
    databaseUrl: z.string().default('sqlite:flintca.db'),
    profilesDir: z.string().default('profiles'),
    defaultIssuer: z.string().default('issuing'),
    tls: z.object({
      certFile: z.string().default('tls/server.crt'),
      keyDir: z.string().default('tls'),
      keyLabel: z.string().default('tls-server'),
      passphraseFile: z.string().default('tls/passphrase'),
    }),
    server: z
      .object({
        host: z.string().default('0.0.0.0'),
        httpsPort: z.number().int().min(0).max(65535).default(8443),
        httpPort: z.number().int().min(0).max(65535).default(8080),
        /** Largest request body any endpoint accepts, in bytes. */
        bodyLimit: z.number().int().min(1024).default(256 * 1024),
        shutdownGraceMs: z.number().int().min(0).default(10_000),
      })
      .prefault({}),
    audit: z
      .object({
        keyLabel: z.string().default('audit'),
        checkpointEvery: z.number().int().min(1).default(1000),
        checkpointIntervalSeconds: z.number().int().min(1).default(300),
      })
      .prefault({}),
  })
  .loose();

export type FileConfig = z.infer<typeof configSchema>;

export interface Config extends FileConfig {
  dataDir: string;
  /** Absolute path helper for files named relative to the data dir. */
  path(p: string): string;
  secrets: {
    pkcs11Pin?: Secret;
    keyPassphrase?: Secret;
    tlsPassphrase?: Secret;
  };
}

/** The FLINTCA_* environment, read in one place. */
export function env(): {
  data?: string;
  httpsPort?: number;
  httpPort?: number;
  dbUrl?: string;
  pkcs11Module?: string;
  pkcs11Pin?: string;
  keyPassphrase?: string;
  requireInterop: boolean;
  testPgUrl?: string;
  logLevel?: string;
} {
  const e = process.env;
  const port = (v: string | undefined) => (v ? Number(v) : undefined);
  return {
    data: e.FLINTCA_DATA || undefined,
    httpsPort: port(e.FLINTCA_HTTPS_PORT),
    httpPort: port(e.FLINTCA_HTTP_PORT),
    dbUrl: e.FLINTCA_DB_URL || undefined,
    pkcs11Module: e.FLINTCA_PKCS11_MODULE || undefined,
    pkcs11Pin: e.FLINTCA_PKCS11_PIN || undefined,
    keyPassphrase: e.FLINTCA_KEY_PASSPHRASE || undefined,
    requireInterop: e.FLINTCA_REQUIRE_INTEROP === '1',
    testPgUrl: e.FLINTCA_TEST_PG_URL || undefined,
    logLevel: e.FLINTCA_LOG_LEVEL || undefined,
  };
}

/** Sets SOFTHSM2_CONF for this process; must happen before the PKCS#11 module is loaded. */
export function useSoftHsmConf(path: string): void {
  process.env.SOFTHSM2_CONF = path;
}

/** The environment for a child tool (e.g. softhsm2-util): this process's, plus `extra`. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...extra };
}

export function configPath(dataDir: string): string {
  return join(resolve(dataDir), 'flintca.json');
}

function formatZodIssues(file: string, err: z.ZodError): string {
  return err.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
}

function readSecretFile(file: string, what: string): Secret {
  try {
    return new Secret(readFileSync(file, 'utf8').trim());
  } catch {
    throw new FlintError('invalidConfig', `cannot read ${what} from ${file}`);
  }
}

/** Loads and validates DIR/flintca.json, then applies environment and CLI overrides. */
export function loadConfig(dataDir: string, overrides: Partial<FileConfig['server']> = {}): Config {
  const dir = resolve(dataDir);
  const file = configPath(dir);
  if (!existsSync(file)) throw new FlintError('invalidConfig', `${file} not found: run \`flintca init --data ${dataDir}\` first`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FlintError('invalidConfig', `${file}: not valid JSON: ${(e as Error).message}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new FlintError('invalidConfig', formatZodIssues(file, parsed.error));
  const e = env();
  const fc = parsed.data;
  const abs = (p: string) => (isAbsolute(p) ? p : join(dir, p));
  const server = {
    ...fc.server,
    ...(e.httpsPort !== undefined ? { httpsPort: e.httpsPort } : {}),
    ...(e.httpPort !== undefined ? { httpPort: e.httpPort } : {}),
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
  const secrets: Config['secrets'] = {};
  const ks = { ...fc.keyStore };
  if (ks.kind === 'pkcs11') {
    if (e.pkcs11Module) ks.modulePath = e.pkcs11Module;
    if (ks.softhsmConf) ks.softhsmConf = abs(ks.softhsmConf);
    if (e.pkcs11Pin) secrets.pkcs11Pin = new Secret(e.pkcs11Pin);
    else if (ks.pinFile) secrets.pkcs11Pin = readSecretFile(abs(ks.pinFile), 'the PKCS#11 PIN');
    else throw new FlintError('invalidConfig', `${file}: keyStore.pinFile: no PIN configured (set FLINTCA_PKCS11_PIN or keyStore.pinFile)`);
  } else {
    ks.dir = abs(ks.dir);
    if (e.keyPassphrase) secrets.keyPassphrase = new Secret(e.keyPassphrase);
    else if (ks.passphraseFile) secrets.keyPassphrase = readSecretFile(abs(ks.passphraseFile), 'the key passphrase');
    else throw new FlintError('invalidConfig', `${file}: keyStore.passphraseFile: no passphrase configured (set FLINTCA_KEY_PASSPHRASE or keyStore.passphraseFile)`);
  }
  if (existsSync(abs(fc.tls.passphraseFile))) secrets.tlsPassphrase = readSecretFile(abs(fc.tls.passphraseFile), 'the TLS key passphrase');
  const databaseUrl = e.dbUrl ?? fc.databaseUrl;
  const config: Config = {
    ...fc,
    keyStore: ks,
    server,
    databaseUrl,
    dataDir: dir,
    path: abs,
    secrets,
  };
  return Object.freeze(config);
}
export { hashSecret, verifySecret } from './password.js';
