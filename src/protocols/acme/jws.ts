/**
 * Request authentication (RFC 8555 §6.2–6.5): flattened JWS JSON, protected header with alg,
 * nonce, url and exactly one of jwk / kid; signature checked with jose.
 */
import { calculateJwkThumbprint, flattenedVerify, importJWK, type JWK } from 'jose';
import type { AcmeAccountRecord, AcmeRepository } from '../../store/acme-types.js';
import { AcmeError } from './errors.js';
import type { NonceService } from './nonces.js';

export const ALLOWED_ALGS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const;
const B64URL = /^[A-Za-z0-9_-]*$/;

export interface VerifiedRequest {
  /** Parsed payload; null for POST-as-GET (empty payload). */
  payload: Record<string, unknown> | null;
  jwk: JWK;
  thumbprint: string;
  /** Set when the request was signed with a kid. */
  account?: AcmeAccountRecord;
}

export interface JwsInput {
  contentType: string | undefined;
  body: Buffer | undefined;
  /** The URL the client used (scheme + Host + path). */
  url: string;
  /** 'jwk' for newAccount, 'kid' for everything else, 'either' for revokeCert. */
  key: 'jwk' | 'kid' | 'either';
  /** Account URL prefix, e.g. https://h/acme/acme/acct/ */
  accountUrlPrefix: string;
  /** Provisioner of the request URL: a kid account of another provisioner does not exist here. */
  provisioner?: string;
}

function decodeJson(part: unknown, what: string): Record<string, unknown> {
  if (typeof part !== 'string' || !B64URL.test(part)) throw new AcmeError('malformed', `${what} is not base64url`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new AcmeError('malformed', `${what} is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AcmeError('malformed', `${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

export async function thumbprintOf(jwk: JWK): Promise<string> {
  try {
    return await calculateJwkThumbprint(jwk, 'sha256');
  } catch {
    throw new AcmeError('badPublicKey', 'the JWK is not a usable public key');
  }
}

/**
 * Imported public keys by JWK and algorithm: importing costs more than verifying, and an account
 * signs many requests. Node-local but only derived from the request's own key material (a rolled
 * key is a different JWK), so it cannot go stale across nodes. Bounded.
 */
const keyCache = new Map<string, Awaited<ReturnType<typeof importJWK>>>();
async function importKey(jwk: JWK, alg: string): Promise<Awaited<ReturnType<typeof importJWK>>> {
  const k = `${alg}|${JSON.stringify(jwk)}`;
  let key = keyCache.get(k);
  if (!key) {
    key = await importJWK(jwk, alg);
    if (keyCache.size >= 1000) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(k, key);
  }
  return key;
}

export async function verifyJws(input: JwsInput, nonces: NonceService, repo: Pick<AcmeRepository, 'getAccount'>): Promise<VerifiedRequest> {
  const ct = (input.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct !== 'application/jose+json') throw new AcmeError('malformed', 'Content-Type must be application/jose+json', { status: 415 });
  if (!input.body || input.body.length === 0) throw new AcmeError('malformed', 'empty request body');
  let jws: Record<string, unknown>;
  try {
    jws = JSON.parse(input.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new AcmeError('malformed', 'request body is not JSON');
  }
  if (typeof jws !== 'object' || jws === null || Array.isArray(jws)) throw new AcmeError('malformed', 'request body is not a JWS object');
  if ('signatures' in jws) throw new AcmeError('malformed', 'only the flattened JWS JSON serialization is accepted');
  if ('header' in jws) throw new AcmeError('malformed', 'unprotected JWS headers are not allowed');
  const { protected: prot, payload, signature } = jws;
  if (typeof payload !== 'string' || !B64URL.test(payload)) throw new AcmeError('malformed', 'payload is missing or not base64url');
  if (typeof signature !== 'string' || !B64URL.test(signature) || signature.length === 0) throw new AcmeError('malformed', 'signature is missing or not base64url');
  const header = decodeJson(prot, 'protected header');

  const alg = header.alg;
  if (typeof alg !== 'string' || !(ALLOWED_ALGS as readonly string[]).includes(alg)) {
    throw new AcmeError('badSignatureAlgorithm', `unsupported JWS algorithm ${JSON.stringify(alg)}`, { algorithms: [...ALLOWED_ALGS] });
  }
  if (header.url !== input.url) throw new AcmeError('unauthorized', `JWS url ${JSON.stringify(header.url)} does not match the request URL ${input.url}`);
  const hasJwk = header.jwk !== undefined;
  const hasKid = header.kid !== undefined;
  if (hasJwk === hasKid) throw new AcmeError('malformed', 'the protected header must contain exactly one of jwk and kid');
  if (input.key === 'jwk' && !hasJwk) throw new AcmeError('malformed', 'this resource requires a jwk in the protected header');
  if (input.key === 'kid' && !hasKid) throw new AcmeError('malformed', 'this resource requires a kid in the protected header');
  if (typeof header.nonce !== 'string' || !(await nonces.consume(header.nonce))) throw new AcmeError('badNonce', 'JWS has an invalid or used anti-replay nonce');

  let jwk: JWK;
  let account: AcmeAccountRecord | undefined;
  if (hasJwk) {
    if (typeof header.jwk !== 'object' || header.jwk === null || Array.isArray(header.jwk)) throw new AcmeError('malformed', 'jwk is not an object');
    jwk = header.jwk as JWK;
    if ('d' in jwk || 'p' in jwk || 'k' in jwk) throw new AcmeError('badPublicKey', 'the jwk must be a public key');
  } else {
    const kid = header.kid;
    if (typeof kid !== 'string' || !kid.startsWith(input.accountUrlPrefix)) throw new AcmeError('accountDoesNotExist', 'kid is not an account URL of this server');
    account = await repo.getAccount(kid.slice(input.accountUrlPrefix.length));
    if (!account || (input.provisioner !== undefined && (account.provisioner ?? 'acme') !== input.provisioner)) throw new AcmeError('accountDoesNotExist', 'no account with this kid');
    if (account.status !== 'valid') throw new AcmeError('unauthorized', `account is ${account.status}`);
    jwk = account.jwk as JWK;
  }

  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importKey(jwk, alg);
  } catch {
    // With a kid the stored key is fine: the client signed with an algorithm that does not fit it.
    throw account ? new AcmeError('malformed', `the account key cannot verify ${alg} signatures`) : new AcmeError('badPublicKey', `the key cannot be used with ${alg}`);
  }
  try {
    await flattenedVerify({ protected: prot as string, payload, signature }, key, { algorithms: [...ALLOWED_ALGS] });
  } catch {
    throw new AcmeError('malformed', 'JWS signature verification failed');
  }
  const thumbprint = account ? account.thumbprint : await thumbprintOf(jwk);
  const body = payload === '' ? null : decodeJson(payload, 'payload');
  return { payload: body, jwk, thumbprint, account };
}
