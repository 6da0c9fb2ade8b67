/**
 * Key backup and restore on PKCS#11 (key ceremonies): a CA private key is wrapped under a fresh
 * AES-256 backup key with CKM_AES_KEY_WRAP_PAD (RFC 5649; SoftHSM 2.6 supports it, mechanism
 * 0x210A), and the backup key is returned for M-of-N splitting (keys/shares.ts).
 *
 * Trust model (PKCS#11 v2.40 §4.9/§4.10): a key generated for backup (`backup: true`) is
 * CKA_SENSITIVE, CKA_EXTRACTABLE and CKA_WRAP_WITH_TRUSTED — it can leave the token only wrapped by
 * a key whose CKA_TRUSTED is true, and only the security officer can set CKA_TRUSTED. SoftHSM 2.6
 * honours both (wrapping with an untrusted key fails with CKR_KEY_NOT_WRAPPABLE; a user setting
 * CKA_TRUSTED gets CKR_ATTRIBUTE_READ_ONLY; CKA_WRAP_WITH_TRUSTED cannot be reset). So the backup
 * logs in as SO, creates the wrapping key as a public session object with CKA_TRUSTED, logs out,
 * logs in as user, wraps, and destroys the session key. A non-extractable key is refused before
 * anything is wrapped.
 *
 * This module loads its own module instance: do not open a Pkcs11KeyStore on the same module in
 * the same process at the same time (a ceremony runs one step per process).
 */
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as graphene from 'graphene-pk11';
import type { ITemplate, Module, Session, SessionObject } from 'graphene-pk11';
import pkcs11js from 'pkcs11js';
import { FlintError } from '../../errors/index.js';
import { keyFamily, OID, type KeyType } from '../../pki/algorithms.js';
import { oid, octetString } from '../../pki/der.js';
import { ckrName, errText, readPublicKey } from './objects.js';
import { findSoftHsmModule } from './softhsm.js';
import { pkcs11Uri } from './uri.js';

/** CKM_AES_KEY_WRAP_PAD (RFC 5649); not exported by pkcs11js 2.1. */
const CKM_AES_KEY_WRAP_PAD = 0x210a;
export const BACKUP_MECHANISM = 'CKM_AES_KEY_WRAP_PAD';
const CKK_EC_EDWARDS = 0x40;

export interface TokenLogin {
  modulePath?: string;
  tokenLabel: string;
  pin: string;
}

export interface WrappedKey {
  keyUri: string;
  label: string;
  keyType: KeyType;
  /** SubjectPublicKeyInfo DER of the key pair. */
  publicKey: Buffer;
  mechanism: typeof BACKUP_MECHANISM;
  wrapped: Buffer;
  /** Key check value of the backup key: first 8 bytes of SHA-256("flintca-backup-kcv" || key), hex. */
  kcv: string;
}

export function keyCheckValue(aesKey: Uint8Array): string {
  return createHash('sha256').update('flintca-backup-kcv').update(aesKey).digest().subarray(0, 8).toString('hex');
}

interface Opened {
  module: Module;
  session: Session;
  where: string;
  close(): void;
}

function open(t: TokenLogin): Opened {
  const modulePath = t.modulePath ?? findSoftHsmModule();
  if (!modulePath || !existsSync(modulePath)) throw new FlintError('invalidConfig', `PKCS#11 module not found: ${modulePath ?? '(SoftHSM not installed)'}`);
  const module = graphene.Module.load(modulePath);
  module.initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  const where = `token "${t.tokenLabel}"`;
  try {
    const slot = [...module.getSlots(true)].find((s) => s.getToken().label === t.tokenLabel);
    if (!slot) throw new FlintError('invalidConfig', `no ${where} in PKCS#11 module ${modulePath}`);
    const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
    return {
      module,
      session,
      where,
      close: () => {
        try {
          session.logout();
        } catch {
          // not logged in
        }
        session.close();
        module.finalize();
      },
    };
  } catch (e) {
    module.finalize();
    throw e;
  }
}

function login(o: Opened, pin: string, user: 'user' | 'so'): void {
  try {
    o.session.login(pin, user === 'so' ? graphene.UserType.SO : graphene.UserType.USER);
  } catch (e) {
    const ckr = ckrName(e);
    const who = user === 'so' ? 'security-officer PIN' : 'PIN';
    if (ckr === 'CKR_PIN_INCORRECT' || ckr === 'CKR_PIN_LEN_RANGE') throw new FlintError('invalidConfig', `wrong ${who} for ${o.where}`);
    if (ckr === 'CKR_PIN_LOCKED') throw new FlintError('invalidConfig', `the ${who} of ${o.where} is locked`);
    throw new FlintError('invalidConfig', `cannot log in to ${o.where}: ${ckr ?? errText(e)}`);
  }
}

function privateKey(o: Opened, label: string): SessionObject {
  const found = o.session.find({ class: pkcs11js.CKO_PRIVATE_KEY, label });
  if (found.length === 0) throw new FlintError('notFound', `no private key labelled "${label}" on ${o.where}`);
  if (found.length > 1) throw new FlintError('invalidConfig', `${found.length} private keys labelled "${label}" on ${o.where}`);
  return found.items(0);
}

/**
 * Wraps the private key `keyLabel` under a new AES-256 key created as a trusted session object.
 * Returns the wrapped blob and the AES key (for Shamir splitting; the caller never stores it whole).
 */
export function wrapForBackup(t: TokenLogin & { soPin: string; keyLabel: string }): { wrapped: WrappedKey; backupKey: Buffer } {
  const o = open(t);
  try {
    // 1. As user: find the key and check it was generated for backup, before anything else.
    login(o, t.pin, 'user');
    const key = privateKey(o, t.keyLabel);
    const a = key.getAttribute({ extractable: null, sensitive: null, wrapWithTrusted: null }) as { extractable: boolean; sensitive: boolean; wrapWithTrusted: boolean };
    if (!a.extractable) {
      throw new FlintError('invalidConfig', `key "${t.keyLabel}" on ${o.where} is not extractable (CKA_EXTRACTABLE=false, generated without "backup: true"): it cannot be backed up; no backup or share file was written`, { code: 'ceremony.notExtractable' });
    }
    if (!a.sensitive || !a.wrapWithTrusted) {
      throw new FlintError('invalidConfig', `key "${t.keyLabel}" on ${o.where} is extractable but not CKA_SENSITIVE + CKA_WRAP_WITH_TRUSTED: refusing to back up a key that can leave the token unprotected`);
    }
    const { keyType, publicKeyObject } = readPublicKey(o.session, key, t.keyLabel, `key "${t.keyLabel}" on ${o.where}`);
    const publicKey = publicKeyObject.export({ type: 'spki', format: 'der' });
    o.session.logout();
    // 2. As SO: the wrapping key, trusted (only the SO may set CKA_TRUSTED), public session object.
    login(o, t.soPin, 'so');
    const backupKey = randomBytes(32);
    const wrapping = o.session.create({
      class: pkcs11js.CKO_SECRET_KEY, keyType: pkcs11js.CKK_AES, token: false, private: false,
      value: backupKey, wrap: true, unwrap: false, encrypt: false, decrypt: false, trusted: true, sensitive: true, extractable: false,
    });
    o.session.logout();
    // 3. As user again: wrap, then drop the wrapping key.
    login(o, t.pin, 'user');
    let wrapped: Buffer;
    try {
      wrapped = o.session.wrapKey({ name: CKM_AES_KEY_WRAP_PAD, params: null }, wrapping.toType(), privateKey(o, t.keyLabel).toType());
    } catch (e) {
      throw new FlintError('invalidConfig', `the token refused to wrap key "${t.keyLabel}": ${ckrName(e) ?? errText(e)}`, { cause: e });
    } finally {
      o.session.destroy(wrapping);
    }
    return {
      wrapped: { keyUri: pkcs11Uri(t.tokenLabel, t.keyLabel), label: t.keyLabel, keyType, publicKey, mechanism: BACKUP_MECHANISM, wrapped, kcv: keyCheckValue(backupKey) },
      backupKey,
    };
  } finally {
    o.close();
  }
}

/** Public-key object attributes from an SPKI, so the key store finds the pair (keys/pkcs11/objects.ts readPublicKey). */
function publicTemplate(keyType: KeyType, spki: Buffer): ITemplate {
  const jwk = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }) as { n?: string; e?: string; x?: string; y?: string };
  const fam = keyFamily(keyType);
  if (fam === 'rsa') return { keyType: pkcs11js.CKK_RSA, modulus: Buffer.from(jwk.n!, 'base64url'), publicExponent: Buffer.from(jwk.e!, 'base64url'), encrypt: true };
  if (fam === 'ed25519') return { keyType: CKK_EC_EDWARDS, paramsEC: oid(OID.ed25519), pointEC: octetString(Buffer.from(jwk.x!, 'base64url')) };
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return { keyType: pkcs11js.CKK_EC, paramsEC: oid(keyType === 'P-384' ? OID.p384 : OID.p256), pointEC: octetString(point) };
}

/**
 * Unwraps a backed-up key into a (fresh) token as a token object: sensitive, non-extractable
 * unless `backup` (then wrappable by a trusted key again), plus its public-key object. PKCS#11
 * §4.9 makes CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE false for an unwrapped key (it
 * existed outside this token, wrapped), so pkcs11-tool shows it as just "sensitive".
 */
export function unwrapFromBackup(t: TokenLogin & { label: string; backup: boolean; key: WrappedKey; backupKey: Uint8Array }): string {
  if (keyCheckValue(t.backupKey) !== t.key.kcv) throw new FlintError('invalidConfig', 'the shares do not reconstruct this backup\'s key (key check value differs): wrong or mismatched shares');
  const o = open(t);
  try {
    login(o, t.pin, 'user');
    if (o.session.find({ label: t.label }).length > 0) throw new FlintError('conflict', `an object labelled "${t.label}" already exists on ${o.where}`);
    const unwrapping = o.session.create({
      class: pkcs11js.CKO_SECRET_KEY, keyType: pkcs11js.CKK_AES, token: false, private: true,
      value: Buffer.from(t.backupKey), unwrap: true, wrap: false, encrypt: false, decrypt: false, sensitive: true, extractable: false,
    });
    const id = randomBytes(16);
    const fam = keyFamily(t.key.keyType);
    const ckk = fam === 'rsa' ? pkcs11js.CKK_RSA : fam === 'ec' ? pkcs11js.CKK_EC : CKK_EC_EDWARDS;
    const priv: ITemplate = {
      class: pkcs11js.CKO_PRIVATE_KEY, keyType: ckk, token: true, private: true, label: t.label, id,
      sensitive: true, extractable: t.backup, sign: true, decrypt: fam === 'rsa', unwrap: false, derive: false, signRecover: false,
    };
    if (t.backup) priv.wrapWithTrusted = true;
    try {
      o.session.unwrapKey({ name: CKM_AES_KEY_WRAP_PAD, params: null }, unwrapping.toType(), t.key.wrapped, priv);
    } catch (e) {
      throw new FlintError('invalidConfig', `the token refused to unwrap the backup: ${ckrName(e) ?? errText(e)}`, { cause: e });
    } finally {
      o.session.destroy(unwrapping);
    }
    o.session.create({ class: pkcs11js.CKO_PUBLIC_KEY, token: true, private: false, label: t.label, id, verify: true, encrypt: false, wrap: false, derive: false, ...publicTemplate(t.key.keyType, t.key.publicKey) });
    return pkcs11Uri(t.tokenLabel, t.label);
  } finally {
    o.close();
  }
}
