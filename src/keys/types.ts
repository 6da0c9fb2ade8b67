/**
 * The key boundary (ARCHITECTURE.md rule 6): everything outside keys/ sees a Signer and a key URI,
 * never key bytes or PINs.
 */
import type { KeyObject } from 'node:crypto';
import type { KeyType, SignatureAlgorithm } from '../pki/algorithms.js';

export interface Signer {
  /** Where the key lives: `pkcs11:token=...;object=...;type=private` (RFC 7512) or `file:...`. */
  readonly keyUri: string;
  readonly keyType: KeyType;
  /** The algorithm `sign` uses when none is given. */
  readonly algorithm: SignatureAlgorithm;
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Buffer;
  /** The same public key as a node KeyObject (for verifying what we signed). */
  readonly publicKeyObject: KeyObject;
  /**
   * Signs `tbs` (the whole to-be-signed DER; hashing happens inside) and returns the signature
   * in the form X.509/CRL/OCSP carry it (ECDSA as DER ECDSA-Sig-Value).
   */
  sign(tbs: Uint8Array, algorithm?: SignatureAlgorithm): Promise<Buffer>;
}

/** RSA decryption for SCEP (PKCS#1 v1.5 key transport in EnvelopedData). */
export interface Decrypter {
  readonly keyUri: string;
  decrypt(ciphertext: Uint8Array): Promise<Buffer>;
}

export interface KeyStore {
  readonly kind: 'pkcs11' | 'file';
  /**
   * Generates a new key pair under `label` (non-extractable and sensitive on an HSM). `backup`
   * (key ceremonies, PKCS#11 only) allows wrapping under a trusted key, see keys/pkcs11/backup.ts.
   */
  generate(label: string, keyType: KeyType, opts?: { backup?: boolean }): Promise<Signer>;
  /** Finds an existing key by label; undefined when there is none. */
  find(label: string): Promise<Signer | undefined>;
  /** Opens a key by the URI a Signer reported; throws FlintError('notFound') when absent. */
  open(keyUri: string): Promise<Signer>;
  /** RSA decryption with a stored key (SCEP); throws when the key is not RSA. */
  decrypter(keyUri: string): Promise<Decrypter>;
  /** True when the key store answers (used by /readyz). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}
