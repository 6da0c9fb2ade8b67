/**
 * The key room (ARCHITECTURE.md rule 6): Signers, Decrypters and key stores. Private key bytes
 * and PINs never leave this folder; everything else holds key URIs.
 */
import type { KeyStore } from './types.js';
import { Pkcs11KeyStore } from './pkcs11/store.js';
import { SoftwareKeyStore } from './software/store.js';

export type { Decrypter, KeyStore, Signer } from './types.js';
export type { KeyType, SignatureAlgorithm } from '../pki/algorithms.js';
export { Pkcs11KeyStore, parsePkcs11Uri, pkcs11Uri, type Pkcs11StoreOptions } from './pkcs11/store.js';
export { createSoftHsmToken, findSoftHsmModule, softHsmAvailable, SOFTHSM_MODULE_CANDIDATES, type SoftHsmTokenOptions } from './pkcs11/softhsm.js';
export { SoftwareKeyStore, tlsKeyMaterial, type SoftwareStoreOptions } from './software/store.js';

export type KeyStoreConfig =
  | { kind: 'pkcs11'; modulePath?: string; tokenLabel: string; pin: string; poolSize?: number; signMode?: 'auto' | 'sync' | 'async' }
  | { kind: 'file'; dir: string; passphrase: string };

/**
 * Opens the configured key store. For SoftHSM, the SOFTHSM2_CONF environment variable must already point at
 * its configuration (cli/ sets it before calling this).
 */
export async function openKeyStore(cfg: KeyStoreConfig): Promise<KeyStore> {
  if (cfg.kind === 'pkcs11') {
    const { kind: _kind, ...opts } = cfg;
    return Pkcs11KeyStore.open(opts);
  }
  return SoftwareKeyStore.open({ dir: cfg.dir, passphrase: cfg.passphrase });
}
export { wrapForBackup, unwrapFromBackup, keyCheckValue, BACKUP_MECHANISM, type WrappedKey, type TokenLogin } from './pkcs11/backup.js';
export { splitSecret, combineShares, formatShare, parseShare, type Share } from './shares.js';
