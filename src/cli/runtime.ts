/**
 * The composition root (ARCHITECTURE.md): the only place concrete classes are constructed and
 * wired. Commands open what they need through here.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { AuditLog } from '../audit/index.js';
import { env, loadConfig, useSoftHsmConf, type Config } from '../config/index.js';
import { Authority, IssuerRegistry, publicUrls, type IssuanceObserver } from '../core/index.js';
import { LeaseKeeper, makeNodeId } from '../core/leases.js';
import { FlintError } from '../errors/index.js';
import { openKeyStore } from '../keys/index.js';
import type { KeyStore } from '../keys/types.js';
import { loadProfiles, type Profile } from '../profiles/index.js';
import { revocationConfig } from '../revocation/config.js';
import { PgStore, SqliteStore } from '../store/index.js';
import type { Store } from '../store/types.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  store: Store;
  keys: KeyStore;
  audit: AuditLog;
  issuers: IssuerRegistry;
  profiles: Map<string, Profile>;
  authority: Authority;
  /** This node's leases on work that must happen once across nodes (released on close). */
  leases: LeaseKeeper;
  close(): Promise<void>;
}

export function makeLogger(destination: 'stdout' | 'stderr', defaultLevel: string): Logger {
  return pino({ level: env().logLevel ?? defaultLevel, base: { service: 'flintca' } }, pino.destination(destination === 'stdout' ? 1 : 2));
}

/** `sqlite:FILE` or `postgres://…` (FLINTCA_DB_URL overrides the config file). `logger` hears about lost PostgreSQL connections. */
export function openStore(config: Config, logger?: Logger): Promise<Store> {
  return openStoreAt(config.databaseUrl, (f) => config.path(f), logger);
}

const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url);

/** A store by URL; a relative sqlite:FILE is resolved by `path` (against the data directory). */
export async function openStoreAt(url: string, path: (file: string) => string, logger?: Logger): Promise<Store> {
  if (isPostgresUrl(url)) {
    // pg errors carry a code and a message naming at most the user and database, never the password.
    return PgStore.open(url, { onError: (message, e) => logger?.warn({ code: (e as { code?: string } | undefined)?.code, error: (e as Error | undefined)?.message }, message) });
  }
  // Only the scheme: a mistyped URL may hold a password.
  if (!url.startsWith('sqlite:')) throw new FlintError('invalidConfig', `databaseUrl: scheme "${url.split(':')[0]}" is neither sqlite:FILE nor postgres://...`);
  return SqliteStore.open(path(url.slice('sqlite:'.length)));
}

/**
 * The database a new CA goes into (init, the install ceremony): FLINTCA_DB_URL when set, else
 * sqlite:flintca.db in the new data directory.
 */
export function newCaDatabaseUrl(): string {
  return env().dbUrl ?? 'sqlite:flintca.db';
}

/**
 * newCaDatabaseUrl as flintca.json records it: with FLINTCA_DB_URL=postgres://… a later `serve`
 * without the variable must open that database, not a new empty SQLite file. The password is left
 * out (it is a secret: give it through FLINTCA_DB_URL or PGPASSWORD).
 */
export function recordedDatabaseUrl(): string {
  return withoutPassword(newCaDatabaseUrl());
}

/** A database URL fit for files, messages and logs: a postgres:// URL loses its password. */
export function withoutPassword(url: string): string {
  if (!isPostgresUrl(url)) return url;
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

/**
 * A new CA never writes into a PostgreSQL database that already holds one (another deployment's
 * CAs, certificates and audit chain): refused before anything is created. A new data directory's
 * SQLite file is new by construction.
 */
export async function assertNewCaDatabaseEmpty(): Promise<void> {
  const url = newCaDatabaseUrl();
  if (!isPostgresUrl(url)) return;
  const store = await openStoreAt(url, (f) => f);
  try {
    if ((await store.cas.list()).length > 0) {
      throw new FlintError('conflict', `FLINTCA_DB_URL: the database ${recordedDatabaseUrl()} already holds a CA; a new CA needs an empty database`);
    }
  } finally {
    await store.close();
  }
}

export async function openKeys(config: Config): Promise<KeyStore> {
  const ks = config.keyStore;
  if (ks.kind === 'pkcs11') {
    if (ks.softhsmConf) useSoftHsmConf(ks.softhsmConf);
    return openKeyStore({ kind: 'pkcs11', modulePath: ks.modulePath, tokenLabel: ks.tokenLabel, pin: config.secrets.pkcs11Pin!.reveal(), poolSize: ks.poolSize });
  }
  return openKeyStore({ kind: 'file', dir: ks.dir, passphrase: config.secrets.keyPassphrase!.reveal() });
}

export function auditPublicKeyPath(config: Config): string {
  return config.path('ca/audit-key.pub.pem');
}

export async function openRuntime(dataDir: string, opts: { logger: Logger; observer?: IssuanceObserver; serverOverrides?: Partial<Config['server']> }): Promise<Runtime> {
  const config = loadConfig(dataDir, opts.serverOverrides);
  const logger = opts.logger;
  const profiles = loadProfiles(config.path(config.profilesDir));
  const store = await openStore(config, logger);
  let keys: KeyStore | undefined;
  try {
    keys = await openKeys(config);
    const auditSigner = await keys.find(config.audit.keyLabel);
    const audit = new AuditLog(store.audit, logger, auditSigner ? { signer: auditSigner, every: config.audit.checkpointEvery, intervalMs: config.audit.checkpointIntervalSeconds * 1000 } : undefined);
    const issuers = await IssuerRegistry.load(store.cas, keys);
    if (!issuers.has(config.defaultIssuer)) throw new FlintError('invalidConfig', `defaultIssuer: no CA named ${config.defaultIssuer} in the store`);
    const authority = new Authority({
      store,
      audit,
      issuers,
      profiles,
      defaultIssuer: config.defaultIssuer,
      urls: publicUrls(config.publicBaseUrl),
      clock: () => new Date(),
      random: (n) => randomBytes(n),
      observer: opts.observer,
      crlPartitions: revocationConfig((config as unknown as Record<string, unknown>).revocation).crlPartitions.bySerialBuckets,
    });
    const k = keys;
    const leases = new LeaseKeeper(store.leases, makeNodeId(), logger.child({ room: 'leases' }));
    return {
      config,
      logger,
      store,
      keys: k,
      audit,
      issuers,
      profiles,
      authority,
      leases,
      close: async () => {
        await leases.close();
        await audit.close().catch((e) => logger.warn({ err: e }, 'final audit checkpoint failed'));
        await store.close();
        await k.close();
      },
    };
  } catch (e) {
    await store.close().catch(() => undefined);
    await keys?.close().catch(() => undefined);
    throw e;
  }
}

export function readAuditPublicKey(config: Config): string | undefined {
  const p = auditPublicKeyPath(config);
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}
