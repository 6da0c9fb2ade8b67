/**
 * `flintca init`: the non-interactive development ceremony (CONTRACT.md). Creates the key store
 * (a SoftHSM token when SoftHSM is present, else encrypted software keys), the audit key, an
 * offline-style root, the online issuing CA, the CA's own TLS certificate, the default profiles and
 * DIR/flintca.json. Idempotent unless --force.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/index.js';
import { configPath, hashSecret, type Config, type FileConfig } from '../config/index.js';
import { Authority, IssuerRegistry, createRootCa, createSubordinateCa, publicUrls, trustedKeyRequest, type CaSetupDeps } from '../core/index.js';
import { FlintError } from '../errors/index.js';
import { createSoftHsmToken, findSoftHsmModule, SoftwareKeyStore } from '../keys/index.js';
import type { KeyStore } from '../keys/types.js';
import { certificateFingerprint } from '../pki/certificate.js';
import { toPem } from '../pki/pem.js';
import { loadProfiles } from '../profiles/index.js';
import { assertNewCaDatabaseEmpty, auditPublicKeyPath, openKeys, openStore, recordedDatabaseUrl } from './runtime.js';
import { loadConfig } from '../config/index.js';

export interface InitOptions {
  data: string;
  hsm?: 'softhsm' | 'file';
  pin?: string;
  soPin?: string;
  name: string;
  dns: string;
  estPassword?: string;
  scepChallenge?: string;
  force?: boolean;
  httpPort?: number;
  httpsPort?: number;
  /** Issuing CA key: p-256 (default) or rsa-2048 (SCEP then needs no RA). */
  issuingKeyType?: 'p-256' | 'rsa-2048';
}

export const SCEP_RA_KEY_LABEL = 'scep-ra';
export const SCEP_RA_CERT_FILE = 'ca/scep-ra.crt';

/**
 * SCEP needs RSA key transport (RFC 8894 §2.1): for a non-RSA issuing CA, an RSA-2048 RA key in
 * the key store and an RA certificate (profile scep-ra: keyEncipherment + digitalSignature)
 * issued by the issuing CA.
 */
async function createScepRa(keys: KeyStore, authority: Authority, audit: AuditLog, name: string, certFile: string, actor: string): Promise<void> {
  const raKey = await keys.generate(SCEP_RA_KEY_LABEL, 'RSA-2048');
  await audit.record({ actor, action: 'key.generate', object: raKey.keyUri, result: 'ok', data: { keyType: 'RSA-2048', purpose: 'SCEP RA' } });
  const csr = trustedKeyRequest(raKey.publicKey, [{ type: 'O', value: name }, { type: 'CN', value: `${name} SCEP RA` }], {}, 'RSA-2048', 2048);
  const ra = await authority.issue({ csr, trustedKey: true, profile: 'scep-ra', protocol: 'cli', requester: actor });
  writeFileSync(certFile, toPem(ra.der, 'CERTIFICATE'));
  await audit.record({ actor, action: 'scep.ra.issue', object: `certificate:${ra.serial}`, result: 'ok', data: { keyUri: raKey.keyUri, notAfter: ra.notAfter.toISOString() } });
}

export const SHIPPED_PROFILES_DIR = fileURLToPath(new URL('../../profiles/', import.meta.url));

export function writeSecret(file: string, value: string): void {
  writeFileSync(file, value + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function newSecret(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * The HTTPS listener's key and certificate (also used by the key-ceremony install step). The key
 * is a software key: node's TLS cannot sign through PKCS#11.
 */
export async function issueListenerCertificate(o: { config: Pick<Config, 'path' | 'tls' | 'secrets'>; audit: AuditLog; authority: Authority; names: string[]; actor: string }): Promise<void> {
  const { config, audit, authority, names, actor } = o;
  const host = names.find((n) => !isIP(n)) ?? 'localhost';
  const tlsKeys = await SoftwareKeyStore.open({ dir: config.path(config.tls.keyDir), passphrase: config.secrets.tlsPassphrase!.reveal() });
  try {
    const tlsKey = await tlsKeys.generate(config.tls.keyLabel, 'P-256');
    await audit.record({ actor, action: 'key.generate', object: tlsKey.keyUri, result: 'ok', data: { keyType: 'P-256', purpose: 'HTTPS listener' } });
    const csr = trustedKeyRequest(tlsKey.publicKey, [{ type: 'CN', value: host }], { dns: names.filter((n) => !isIP(n)).map((n) => n.toLowerCase()), ip: names.filter((n) => isIP(n)) }, 'P-256', 256);
    const tlsCert = await authority.issue({ csr, trustedKey: true, profile: 'tls-server', protocol: 'cli', requester: actor, notAfter: new Date(Date.now() + 365 * 86_400_000) }).catch(async (e) => {
      // tls-server's max validity may be shorter than a year; fall back to its default.
      if (e instanceof FlintError && e.kind === 'profileViolation') return authority.issue({ csr, trustedKey: true, profile: 'tls-server', protocol: 'cli', requester: actor });
      throw e;
    });
    writeFileSync(config.path(config.tls.certFile), [tlsCert.der, ...tlsCert.chain.slice(0, -1)].map((d) => toPem(d, 'CERTIFICATE')).join(''));
  } finally {
    await tlsKeys.close();
  }
}

export async function runInit(o: InitOptions, logger: Logger, out: (line: string) => void): Promise<void> {
  const dir = resolve(o.data);
  if (existsSync(configPath(dir)) && !o.force) {
    out(`Flint CA already initialised in ${dir} (use --force to start over)`);
    return;
  }
  await assertNewCaDatabaseEmpty();
  if (o.force && existsSync(dir)) for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const sub of ['ca', 'tls', 'profiles']) mkdirSync(join(dir, sub), { recursive: true });

  const hsm = o.hsm ?? (findSoftHsmModule() ? 'softhsm' : 'file');
  let keyStoreConfig: FileConfig['keyStore'];
  if (hsm === 'softhsm') {
    if (!findSoftHsmModule()) throw new FlintError('invalidConfig', '--hsm softhsm: libsofthsm2.so not found (apt-get install softhsm2)');
    mkdirSync(join(dir, 'hsm'), { recursive: true });
    const pin = o.pin ?? newSecret();
    const soPin = o.soPin ?? newSecret();
    const { confPath } = await createSoftHsmToken({ dir: join(dir, 'hsm'), label: 'flintca', pin, soPin });
    writeSecret(join(dir, 'hsm', 'pin'), pin);
    keyStoreConfig = { kind: 'pkcs11', tokenLabel: 'flintca', pinFile: 'hsm/pin', softhsmConf: confPath.startsWith(dir) ? confPath.slice(dir.length + 1) : confPath, poolSize: 4 };
  } else {
    mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
    writeSecret(join(dir, 'keys', 'passphrase'), o.pin ?? newSecret());
    keyStoreConfig = { kind: 'file', dir: 'keys', passphraseFile: 'keys/passphrase' };
  }
  writeSecret(join(dir, 'tls', 'passphrase'), newSecret());

  const names = o.dns.split(',').map((s) => s.trim()).filter(Boolean);
  const host = names.find((n) => !isIP(n)) ?? 'localhost';
  const httpPort = o.httpPort ?? 8080;
  const issuingKeyType = o.issuingKeyType === 'rsa-2048' ? 'RSA-2048' : 'P-256';
  const httpsPort = o.httpsPort ?? 8443;
  const fileConfig: Record<string, unknown> = {
    version: 1,
    name: o.name,
    publicBaseUrl: `http://${host}:${httpPort}`,
    httpsBaseUrl: `https://${host}:${httpsPort}`,
    keyStore: keyStoreConfig,
    databaseUrl: recordedDatabaseUrl(),
    profilesDir: 'profiles',
    defaultIssuer: 'issuing',
    tls: { certFile: 'tls/server.crt', keyDir: 'tls', keyLabel: 'tls-server', passphraseFile: 'tls/passphrase' },
    server: { host: '0.0.0.0', httpsPort, httpPort },
    audit: { keyLabel: 'audit', checkpointEvery: 1000, checkpointIntervalSeconds: 300 },
    est: o.estPassword ? { users: [{ name: 'est', passwordHash: hashSecret(o.estPassword) }] } : undefined,
    scep: {
      ...(o.scepChallenge ? { challengeHash: hashSecret(o.scepChallenge) } : {}),
      ...(issuingKeyType !== 'RSA-2048' ? { ra: { keyLabel: SCEP_RA_KEY_LABEL, certFile: SCEP_RA_CERT_FILE } } : {}),
    },
  };
  writeFileSync(configPath(dir), JSON.stringify(fileConfig, null, 2) + '\n');
  cpSync(SHIPPED_PROFILES_DIR, join(dir, 'profiles'), { recursive: true });

  const config = loadConfig(dir);
  const profiles = loadProfiles(config.path(config.profilesDir));
  const store = await openStore(config);
  let keys: KeyStore | undefined;
  try {
    keys = await openKeys(config);
    const actor = 'cli:init';
    const auditKey = await keys.generate(config.audit.keyLabel, 'P-256');
    writeFileSync(auditPublicKeyPath(config), toPem(auditKey.publicKey, 'PUBLIC KEY'));
    const audit = new AuditLog(store.audit, logger, { signer: auditKey, every: config.audit.checkpointEvery, intervalMs: 3_600_000 });
    await audit.record({ actor, action: 'key.generate', object: auditKey.keyUri, result: 'ok', data: { keyType: 'P-256', purpose: 'audit checkpoints' } });
    await audit.record({ actor, action: 'config.create', object: configPath(dir), result: 'ok', data: { keyStore: keys.kind, profiles: [...profiles.keys()] } });
    const deps: CaSetupDeps = { store, keys, audit, clock: () => new Date(), random: (n) => randomBytes(n) };
    await createRootCa(deps, { id: 'root', keyLabel: 'root-ca', keyType: 'P-256', subject: [{ type: 'O', value: o.name }, { type: 'CN', value: `${o.name} Root CA` }], validityDays: 3650, pathLen: 1, actor });
    let issuers = await IssuerRegistry.load(store.cas, keys);
    const urls = publicUrls(config.publicBaseUrl);
    await createSubordinateCa(deps, issuers, urls, 'root', { id: 'issuing', keyLabel: 'issuing-ca-1', keyType: issuingKeyType, subject: [{ type: 'O', value: o.name }, { type: 'CN', value: `${o.name} Issuing CA 1` }], validityDays: 1825, pathLen: 0, actor });
    issuers = await IssuerRegistry.load(store.cas, keys);

    const authority = new Authority({ store, audit, issuers, profiles, defaultIssuer: 'issuing', urls, clock: () => new Date(), random: (n) => randomBytes(n) });
    await issueListenerCertificate({ config, audit, authority, names, actor });
    if (issuingKeyType !== 'RSA-2048') await createScepRa(keys, authority, audit, o.name, config.path(SCEP_RA_CERT_FILE), actor);

    const root = issuers.get('root');
    const issuing = issuers.get('issuing');
    writeFileSync(join(dir, 'ca', 'root.crt'), toPem(root.record.certDer, 'CERTIFICATE'));
    writeFileSync(join(dir, 'ca', 'issuing.crt'), toPem(issuing.record.certDer, 'CERTIFICATE'));
    writeFileSync(join(dir, 'ca', 'chain.pem'), issuing.chain.map((d) => toPem(d, 'CERTIFICATE')).join(''));
    await audit.close();

    out(`Flint CA initialised in ${dir}`);
    out(`  key store:   ${keys.kind === 'pkcs11' ? `SoftHSM token "flintca" (${config.path('hsm')})` : `encrypted software keys (${config.path('keys')})`}`);
    out(`  root CA:     ${root.record.subject}  sha256=${certificateFingerprint(root.record.certDer, 'sha256')}  key=${root.record.keyUri}`);
    out(`  issuing CA:  ${issuing.record.subject}  sha256=${certificateFingerprint(issuing.record.certDer, 'sha256')}  key=${issuing.record.keyUri}`);
    if (issuingKeyType !== 'RSA-2048') out(`  SCEP RA:     ${config.path(SCEP_RA_CERT_FILE)} (RSA-2048 key "${SCEP_RA_KEY_LABEL}")`);
    out(`  TLS cert:    ${config.path(config.tls.certFile)} for ${names.join(', ')}`);
    out(`  audit key:   ${auditKey.keyUri} (public key ${auditPublicKeyPath(config)})`);
    out(`  trust root:  ${join(dir, 'ca', 'root.crt')}`);
    out(`  config:      ${configPath(dir)}`);
  } finally {
    await store.close().catch(() => undefined);
    await keys?.close().catch(() => undefined);
  }
}
