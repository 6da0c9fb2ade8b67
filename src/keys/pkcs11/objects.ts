/**
 * PKCS#11 key objects: generation templates, signature mechanisms, and reading a public key back
 * as a node KeyObject. PKCS#11 v2.40 base spec §4 (objects), current mechanisms §2.1 (RSA),
 * §2.3 (EC); PKCS#11 v3.0 §2.3.5+ (Edwards curves).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { ITemplate, MechanismType, Session, SessionObject } from 'graphene-pk11';
import pkcs11js from 'pkcs11js';
import { FlintError } from '../../errors/index.js';
import { defaultSignatureAlgorithm, keyFamily, OID } from '../../pki/algorithms.js';
import type { KeyType, SignatureAlgorithm } from '../../pki/algorithms.js';
import { oid, readHeader } from '../../pki/der.js';
import type { Signer } from '../types.js';

// Not exported by pkcs11js 2.1: PKCS#11 v3.0 Edwards-curve constants.
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;

const EC_PARAMS = {
  'P-256': oid(OID.p256),
  'P-384': oid(OID.p384),
  // id-Ed25519 (RFC 8410); PKCS#11 3.0 also allows PrintableString "edwards25519", accepted below.
  Ed25519: oid(OID.ed25519),
};
const EDWARDS25519_NAME = Buffer.from('130c656477617264733235353139', 'hex');

const pss = (mech: number, hashAlg: number, mgf: number, saltLen: number): pkcs11js.Mechanism => ({
  mechanism: mech,
  parameter: { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg, mgf, saltLen } as pkcs11js.RsaPSS,
});

/** Signature algorithm → mechanism. ECDSA hashes on the host: SoftHSM 2.6 lacks CKM_ECDSA_SHA256. */
export const SIGN_MECHANISMS: Record<SignatureAlgorithm, pkcs11js.Mechanism> = {
  'rsa-pkcs1-sha256': { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS },
  'rsa-pkcs1-sha384': { mechanism: pkcs11js.CKM_SHA384_RSA_PKCS },
  'rsa-pkcs1-sha512': { mechanism: pkcs11js.CKM_SHA512_RSA_PKCS },
  // RSASSA-PSS as RFC 4055 profiles it: MGF1 with the same hash, salt = hash length.
  'rsa-pss-sha256': pss(pkcs11js.CKM_SHA256_RSA_PKCS_PSS, pkcs11js.CKM_SHA256, pkcs11js.CKG_MGF1_SHA256, 32),
  'rsa-pss-sha384': pss(pkcs11js.CKM_SHA384_RSA_PKCS_PSS, pkcs11js.CKM_SHA384, pkcs11js.CKG_MGF1_SHA384, 48),
  'ecdsa-sha256': { mechanism: pkcs11js.CKM_ECDSA },
  'ecdsa-sha384': { mechanism: pkcs11js.CKM_ECDSA },
  ed25519: { mechanism: CKM_EDDSA }, // pure Ed25519: no parameters (v3.0 §2.3.14)
};

/** Signature length in bytes: CKM_ECDSA and CKM_EDDSA return r||s, RSA the modulus length. */
export function signatureLength(keyType: KeyType): number {
  return keyType === 'P-384' ? 96 : keyFamily(keyType) === 'rsa' ? Number(keyType.slice(4)) / 8 : 64;
}

/**
 * Key-pair templates (PKCS#11 §4.8–4.9): token objects, sensitive, never extractable, only the usages we need.
 * `backup: true` (key ceremonies only) makes the private key extractable but still sensitive and
 * CKA_WRAP_WITH_TRUSTED: it can leave the token only wrapped under a key the SO marked CKA_TRUSTED.
 */
export function keyTemplates(label: string, keyType: KeyType, id: Buffer, opts: { backup?: boolean } = {}): { mechanism: MechanismType; pub: ITemplate; priv: ITemplate } {
  const family = keyFamily(keyType);
  const rsa = family === 'rsa';
  const ckk = rsa ? pkcs11js.CKK_RSA : family === 'ec' ? pkcs11js.CKK_EC : CKK_EC_EDWARDS;
  const common = { keyType: ckk, token: true, label, id, derive: false };
  const pub: ITemplate = { ...common, class: pkcs11js.CKO_PUBLIC_KEY, private: false, verify: true, encrypt: rsa, wrap: false };
  // SoftHSM defaults CKA_DECRYPT and CKA_UNWRAP to true: say false explicitly. RSA decrypts for SCEP.
  const priv: ITemplate = {
    ...common, class: pkcs11js.CKO_PRIVATE_KEY, private: true, sensitive: true, extractable: false,
    sign: true, signRecover: false, decrypt: rsa, unwrap: false,
  };
  if (opts.backup) Object.assign(priv, { extractable: true, wrapWithTrusted: true });
  if (rsa) {
    Object.assign(pub, { modulusBits: Number(keyType.slice(4)), publicExponent: Buffer.from([1, 0, 1]) });
    return { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN, pub, priv };
  }
  pub.paramsEC = EC_PARAMS[keyType as keyof typeof EC_PARAMS];
  const mechanism = family === 'ec' ? pkcs11js.CKM_EC_KEY_PAIR_GEN : { name: CKM_EC_EDWARDS_KEY_PAIR_GEN, params: null };
  return { mechanism, pub, priv };
}

function attrs(s: Session, handle: Buffer, types: number[]): Buffer[] {
  return s.lib.C_GetAttributeValue(s.handle, handle, types.map((type) => ({ type }))).map((a) => a.value as Buffer);
}

/**
 * Reads the public half of the key pair whose private key is `priv`: the public key object with
 * the same CKA_ID (or label), built into a KeyObject via JWK. `where` names key and token in errors.
 */
export function readPublicKey(s: Session, privObj: SessionObject, label: string, where: string): { keyType: KeyType; publicKeyObject: KeyObject } {
  // graphene decodes CK_ULONG attributes; raw C_GetAttributeValue below for byte strings, because
  // graphene reports CKA_EC_PARAMS under its older alias name (paramsECDSA).
  const { keyType: ckk, id } = privObj.getAttribute({ keyType: null, id: null }) as { keyType: number; id: Buffer | null };
  const priv = privObj.handle;
  const pubs = s.find(id && id.length > 0 ? { class: pkcs11js.CKO_PUBLIC_KEY, id } : { class: pkcs11js.CKO_PUBLIC_KEY, label });
  const pub = pubs.length > 0 ? pubs.items(0).handle : undefined;
  let jwk: Record<string, string>;
  if (ckk === pkcs11js.CKK_RSA) {
    // CKA_MODULUS and CKA_PUBLIC_EXPONENT are public attributes, readable on the private key too.
    const [n, e] = attrs(s, pub ?? priv, [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT]);
    jwk = { kty: 'RSA', n: n!.toString('base64url'), e: e!.toString('base64url') };
  } else if (ckk === pkcs11js.CKK_EC || ckk === CKK_EC_EDWARDS) {
    if (!pub) throw new FlintError('invalidConfig', `${where} has no public key object`);
    const [params, point] = attrs(s, pub, [pkcs11js.CKA_EC_PARAMS, pkcs11js.CKA_EC_POINT]);
    jwk = ecJwk(params!, point!, where);
  } else {
    throw new FlintError('invalidConfig', `${where} has unsupported CKA_KEY_TYPE ${ckk}`);
  }
  const publicKeyObject = createPublicKey({ key: jwk, format: 'jwk' });
  return { keyType: keyTypeOf(publicKeyObject, where), publicKeyObject };
}

/** CKA_EC_PARAMS + CKA_EC_POINT → JWK. The point is a DER OCTET STRING (§2.3.3), but some tokens give it raw. */
function ecJwk(params: Buffer, point: Buffer, where: string): Record<string, string> {
  const curve = params.equals(EC_PARAMS['P-256']) ? 'P-256' : params.equals(EC_PARAMS['P-384']) ? 'P-384'
    : params.equals(EC_PARAMS.Ed25519) || params.equals(EDWARDS25519_NAME) ? 'Ed25519' : undefined;
  if (!curve) throw new FlintError('invalidConfig', `${where} uses an unsupported curve (CKA_EC_PARAMS ${params.toString('hex')})`);
  const rawLen = curve === 'Ed25519' ? 32 : curve === 'P-256' ? 65 : 97;
  let raw = point;
  if (point.length !== rawLen && point[0] === 0x04) {
    const h = readHeader(point);
    raw = point.subarray(h.contentStart, h.end);
  }
  if (raw.length !== rawLen) throw new FlintError('invalidConfig', `${where} has a malformed CKA_EC_POINT`);
  if (curve === 'Ed25519') return { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') };
  const n = (rawLen - 1) / 2;
  return { kty: 'EC', crv: curve, x: raw.subarray(1, 1 + n).toString('base64url'), y: raw.subarray(1 + n).toString('base64url') };
}

function keyTypeOf(k: KeyObject, where: string): KeyType {
  const d = k.asymmetricKeyDetails ?? {};
  if (k.asymmetricKeyType === 'ed25519') return 'Ed25519';
  if (k.asymmetricKeyType === 'ec') return d.namedCurve === 'prime256v1' ? 'P-256' : 'P-384';
  const t = `RSA-${d.modulusLength}`;
  if (t === 'RSA-2048' || t === 'RSA-3072' || t === 'RSA-4096') return t;
  throw new FlintError('invalidConfig', `${where} is ${t}; Flint CA supports RSA-2048/3072/4096`);
}

/** A key on the token; signing goes back through the store (its session pool and reconnects). */
export class Pkcs11Signer implements Signer {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: Buffer;
  constructor(
    readonly keyUri: string,
    readonly label: string,
    readonly keyType: KeyType,
    readonly publicKeyObject: KeyObject,
    private readonly signFn: (tbs: Uint8Array, alg: SignatureAlgorithm) => Promise<Buffer>,
  ) {
    this.algorithm = defaultSignatureAlgorithm(keyType);
    this.publicKey = publicKeyObject.export({ type: 'spki', format: 'der' });
  }
  sign(tbs: Uint8Array, algorithm: SignatureAlgorithm = this.algorithm): Promise<Buffer> {
    return this.signFn(tbs, algorithm);
  }
}

export function ckrName(e: unknown): string | undefined {
  const m = /\b(CKR_[A-Z0-9_]+)/.exec(e instanceof Error ? e.message : String(e));
  return m?.[1];
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}
