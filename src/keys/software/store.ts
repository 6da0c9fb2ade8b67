/**
 * KeyStore on node:crypto for machines without an HSM: each key is an encrypted PKCS#8 PEM file
 * (PBES2, AES-256-CBC; RFC 8018) `dir/<label>.key.pem`, mode 0600. Decrypted KeyObjects are
 * cached in memory after first use: PBES2 key derivation per signature would be far too slow.
 */
import { constants, createPrivateKey, createPublicKey, generateKeyPair, privateDecrypt, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FlintError } from '../../errors/index.js';
import { algorithmsFor, defaultSignatureAlgorithm, hashOf, keyFamily } from '../../pki/algorithms.js';
import type { KeyType, SignatureAlgorithm } from '../../pki/algorithms.js';
import type { Decrypter, KeyStore, Signer } from '../types.js';

export interface SoftwareStoreOptions {
  dir: string;
  passphrase: string;
}

interface LoadedKey {
  label: string;
  keyType: KeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Read only by tlsKeyMaterial: no public member hands the passphrase out. */
const tlsPassphrases = new WeakMap<SoftwareKeyStore, string>();

/** Labels become file names: keep them boring. */
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class SoftwareKeyStore implements KeyStore {
  readonly kind = 'file' as const;
  readonly dir: string;
  readonly #passphrase: string;
  private readonly keys = new Map<string, LoadedKey>();
  private readonly signers = new Map<string, Signer>();

  private constructor(dir: string, passphrase: string) {
    this.dir = dir;
    this.#passphrase = passphrase;
    tlsPassphrases.set(this, passphrase);
  }

  static async open(opts: SoftwareStoreOptions): Promise<SoftwareKeyStore> {
    if (!opts.passphrase) throw new FlintError('invalidConfig', 'software key store passphrase is empty');
    const dir = resolve(opts.dir);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new FlintError('invalidConfig', `cannot create software key directory ${dir}: ${(e as Error).message}`, { cause: e });
    }
    return new SoftwareKeyStore(dir, opts.passphrase);
  }

  /** Path of a key's PEM file. */
  keyPath(label: string): string {
    checkLabel(label);
    return join(this.dir, `${label}.key.pem`);
  }

  async generate(label: string, keyType: KeyType): Promise<Signer> {
    const path = this.keyPath(label);
    const { privateKey, publicKey } = await generate(keyType);
    const pem = this.encrypt(privateKey);
    try {
      // 'wx': fail instead of overwriting, atomically (two generators racing for one label).
      await writeFile(path, pem, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FlintError('conflict', `a key labelled "${label}" already exists in ${this.dir}`);
      throw new FlintError('unavailable', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
    }
    await chmod(path, 0o600); // in case the file system ignored the creation mode
    this.keys.set(label, { label, keyType, privateKey, publicKey });
    return this.signerFor(label)!;
  }

  async find(label: string): Promise<Signer | undefined> {
    const key = await this.load(label);
    return key ? this.signerFor(label) : undefined;
  }

  async open(keyUri: string): Promise<Signer> {
    const label = labelFromUri(keyUri);
    const signer = await this.find(label);
    if (!signer) throw new FlintError('notFound', `no software key labelled "${label}" in ${this.dir}`);
    return signer;
  }

  async decrypter(keyUri: string): Promise<Decrypter> {
    const label = labelFromUri(keyUri);
    const key = await this.load(label);
    if (!key) throw new FlintError('notFound', `no software key labelled "${label}" in ${this.dir}`);
    if (keyFamily(key.keyType) !== 'rsa') throw new FlintError('invalidConfig', `key ${keyUri} is ${key.keyType}, not RSA: it cannot decrypt`);
    return { keyUri: fileUri(label), decrypt: async (ciphertext) => rsaPkcs1Decrypt(key.privateKey, ciphertext) };
  }

  async healthy(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.keys.clear();
    this.signers.clear();
  }

  /** The encrypted PEM of a key exactly as stored (for node's TLS, see tlsKeyMaterial). */
  async encryptedPem(label: string): Promise<string> {
    if (!(await this.load(label))) throw new FlintError('notFound', `no software key labelled "${label}" in ${this.dir}`);
    return readFile(this.keyPath(label), 'utf8');
  }

  private encrypt(k: KeyObject): string {
    return k.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: this.#passphrase }) as string;
  }

  private async load(label: string): Promise<LoadedKey | undefined> {
    const cached = this.keys.get(label);
    if (cached) return cached;
    let pem: string;
    try {
      pem = await readFile(this.keyPath(label), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new FlintError('unavailable', `cannot read software key ${label}: ${(e as Error).message}`, { cause: e });
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: pem, format: 'pem', passphrase: this.#passphrase });
    } catch (e) {
      // With a wrong passphrase AES-CBC unpadding usually fails (bad decrypt); otherwise the
      // PKCS#8 decoder chokes on garbage. Either way: the passphrase does not open this file.
      throw new FlintError('invalidConfig', `cannot decrypt software key ${label}: wrong passphrase`, { cause: e });
    }
    const key: LoadedKey = { label, keyType: keyTypeOf(privateKey, label), privateKey, publicKey: createPublicKey(privateKey) };
    this.keys.set(label, key);
    return key;
  }

  private signerFor(label: string): Signer | undefined {
    const existing = this.signers.get(label);
    if (existing) return existing;
    const key = this.keys.get(label);
    if (!key) return undefined;
    const signer = new SoftwareSigner(key);
    this.signers.set(label, signer);
    return signer;
  }
}

class SoftwareSigner implements Signer {
  readonly keyUri: string;
  readonly keyType: KeyType;
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: Buffer;
  readonly publicKeyObject: KeyObject;
  readonly #key: KeyObject;

  constructor(k: LoadedKey) {
    this.keyUri = fileUri(k.label);
    this.keyType = k.keyType;
    this.algorithm = defaultSignatureAlgorithm(k.keyType);
    this.publicKeyObject = k.publicKey;
    this.publicKey = k.publicKey.export({ type: 'spki', format: 'der' });
    this.#key = k.privateKey;
  }

  sign(tbs: Uint8Array, algorithm: SignatureAlgorithm = this.algorithm): Promise<Buffer> {
    if (!algorithmsFor(this.keyType).includes(algorithm)) {
      return Promise.reject(new FlintError('badSignatureAlgorithm', `${algorithm} cannot be used with a ${this.keyType} key`));
    }
    const hash = hashOf(algorithm);
    const family = keyFamily(this.keyType);
    const key =
      family === 'ec'
        ? { key: this.#key, dsaEncoding: 'der' as const }
        : algorithm.startsWith('rsa-pss')
          ? { key: this.#key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha384' ? 48 : 32 }
          : family === 'rsa'
            ? { key: this.#key, padding: constants.RSA_PKCS1_PADDING }
            : this.#key;
    // RSA goes to the libuv thread pool (a 2048-bit sign is ~1 ms of CPU); EC/Ed25519 signs cost
    // tens of µs, less than the thread-pool round trip, so they run inline (same choice as PKCS#11).
    if (family !== 'rsa') return Promise.resolve(cryptoSign(hash, tbs, key));
    return new Promise((done, fail) => cryptoSign(hash, tbs, key, (err, sig) => (err ? fail(err) : done(sig))));
  }
}

/**
 * The TLS listener's key must be a software key: node's TLS stack signs handshakes with an
 * OpenSSL key it holds itself and cannot call out to PKCS#11. This returns the encrypted PEM as
 * stored plus its passphrase for `tls.createServer({ key, passphrase })`, so no plaintext key
 * is ever written anywhere.
 */
export async function tlsKeyMaterial(store: SoftwareKeyStore, label: string): Promise<{ keyPem: string; passphrase: string }> {
  return { keyPem: await store.encryptedPem(label), passphrase: tlsPassphrases.get(store)! };
}

function generate(keyType: KeyType): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return new Promise((done, fail) => {
    const cb = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) => (err ? fail(err) : done({ privateKey, publicKey }));
    switch (keyFamily(keyType)) {
      case 'rsa':
        return generateKeyPair('rsa', { modulusLength: Number(keyType.slice(4)), publicExponent: 65537 }, cb);
      case 'ec':
        return generateKeyPair('ec', { namedCurve: keyType }, cb);
      default:
        return generateKeyPair('ed25519', {}, cb);
    }
  });
}

function keyTypeOf(k: KeyObject, label: string): KeyType {
  const d = k.asymmetricKeyDetails ?? {};
  if (k.asymmetricKeyType === 'ed25519') return 'Ed25519';
  if (k.asymmetricKeyType === 'ec' && d.namedCurve === 'prime256v1') return 'P-256';
  if (k.asymmetricKeyType === 'ec' && d.namedCurve === 'secp384r1') return 'P-384';
  if (k.asymmetricKeyType === 'rsa') {
    const t = `RSA-${d.modulusLength}`;
    if (t === 'RSA-2048' || t === 'RSA-3072' || t === 'RSA-4096') return t;
  }
  throw new FlintError('invalidConfig', `software key ${label} has an unsupported type (${k.asymmetricKeyType} ${d.namedCurve ?? d.modulusLength ?? ''})`);
}

function checkLabel(label: string): void {
  if (!LABEL.test(label)) throw new FlintError('invalidConfig', `invalid key label "${label}": use letters, digits, '.', '_' and '-' (at most 128)`);
}

const fileUri = (label: string): string => `file:${label}`;

function labelFromUri(keyUri: string): string {
  if (!keyUri.startsWith('file:')) throw new FlintError('invalidConfig', `not a software key URI (file:<label>): ${keyUri}`);
  const label = keyUri.slice(5);
  checkLabel(label);
  return label;
}

/**
 * RSAES-PKCS1-v1_5 decryption (RFC 8017 §7.2.2). Node 20 refuses RSA_PKCS1_PADDING for private
 * decryption (CVE-2023-46809, the Marvin attack) unless started with --security-revert, so we
 * decrypt raw (RSA_NO_PADDING) and check EM = 0x00 || 0x02 || PS (≥ 8 non-zero) || 0x00 || M
 * here, scanning every byte with branch-free arithmetic so the time does not depend on where the
 * separator is. The one branch left is the final good/bad outcome: callers (SCEP) must treat a
 * failure exactly like a failed content decryption so no padding oracle is observable.
 */
export function rsaPkcs1Decrypt(key: KeyObject, ciphertext: Uint8Array): Buffer {
  const k = (key.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  if (ciphertext.length !== k) throw new FlintError('malformed', 'RSA decryption failed');
  let em: Buffer;
  try {
    em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, ciphertext);
  } catch (e) {
    throw new FlintError('malformed', 'RSA decryption failed', { cause: e }); // c ≥ n
  }
  let bad = em[0]! | (em[1]! ^ 0x02);
  let looking = 1; // 1 until the first zero after PS
  let sep = 0;
  for (let i = 2; i < k; i++) {
    const isZero = ((em[i]! - 1) >>> 31) & 1; // 1 iff em[i] === 0
    sep |= i & -(looking & isZero);
    looking &= isZero ^ 1;
  }
  bad |= looking; // no separator
  bad |= ((sep - 10) >>> 31) & 1; // PS shorter than 8 bytes (separator before index 10)
  if (bad !== 0) throw new FlintError('malformed', 'RSA decryption failed');
  return Buffer.from(em.subarray(sep + 1));
}
