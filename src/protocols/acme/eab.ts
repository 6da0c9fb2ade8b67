/**
 * External Account Binding (RFC 8555 §7.3.4): the newAccount payload carries a flattened JWS,
 * MACed (HS256/384/512) with a key the CA handed out, whose payload is the account JWK.
 *
 * Key storage: verifying an HMAC needs the key itself, so `acme_eab_keys.hmac_key` holds the raw
 * 32-byte key (not a hash). It is single-use (claimed atomically with the account insert), bound to
 * one provisioner, and worthless once used; protect the database like the rest of the CA state.
 */
import { randomBytes } from 'node:crypto';
import { flattenedVerify, type JWK } from 'jose';
import type { AcmeEabKeyRecord, AcmeRepository } from '../../store/acme-types.js';
import { AcmeError } from './errors.js';
import { thumbprintOf } from './jws.js';

export const EAB_ALGS = ['HS256', 'HS384', 'HS512'] as const;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** A fresh key for `flintca acme eab create`: the kid and the base64url HMAC key to hand the client. */
export function newEabKey(provisioner: string, now: Date): AcmeEabKeyRecord {
  return { kid: `eab-${randomBytes(12).toString('base64url')}`, provisioner, hmacKey: randomBytes(32), createdAt: now, accountId: null, usedAt: null };
}

/**
 * Checks the binding and returns its kid (claimed later, atomically with the account insert).
 * Every failure is `unauthorized` except structural ones (`malformed`).
 */
export async function verifyEab(
  binding: unknown,
  opts: { newAccountUrl: string; accountJwk: JWK; provisioner: string; repo: Pick<AcmeRepository, 'getEabKey'> },
): Promise<string> {
  if (typeof binding !== 'object' || binding === null || Array.isArray(binding)) throw new AcmeError('malformed', 'externalAccountBinding must be a flattened JWS object');
  const jws = binding as Record<string, unknown>;
  if ('header' in jws || 'signatures' in jws) throw new AcmeError('malformed', 'externalAccountBinding must be a flattened JWS without unprotected header');
  const { protected: prot, payload, signature } = jws;
  if (![prot, payload, signature].every((x) => typeof x === 'string' && B64URL.test(x))) throw new AcmeError('malformed', 'externalAccountBinding parts must be base64url');
  let header: Record<string, unknown>;
  let inner: unknown;
  try {
    header = JSON.parse(Buffer.from(prot as string, 'base64url').toString('utf8')) as Record<string, unknown>;
    inner = JSON.parse(Buffer.from(payload as string, 'base64url').toString('utf8'));
  } catch {
    throw new AcmeError('malformed', 'externalAccountBinding header or payload is not JSON');
  }
  if (typeof header !== 'object' || header === null) throw new AcmeError('malformed', 'externalAccountBinding header is not an object');
  if (typeof header.alg !== 'string' || !(EAB_ALGS as readonly string[]).includes(header.alg)) {
    throw new AcmeError('badSignatureAlgorithm', `externalAccountBinding alg must be one of ${EAB_ALGS.join(', ')}`, { algorithms: [...EAB_ALGS] });
  }
  if (header.nonce !== undefined) throw new AcmeError('malformed', 'externalAccountBinding must not carry a nonce');
  if (header.url !== opts.newAccountUrl) throw new AcmeError('unauthorized', 'externalAccountBinding url must be the newAccount URL');
  if (typeof header.kid !== 'string' || header.kid.length === 0) throw new AcmeError('malformed', 'externalAccountBinding needs a kid');
  const key = await opts.repo.getEabKey(header.kid);
  // Unknown, other provisioner's, or used keys look the same to the client.
  if (!key || key.provisioner !== opts.provisioner || key.accountId !== null) throw new AcmeError('unauthorized', 'the external account binding key is unknown or already used');
  try {
    await flattenedVerify({ protected: prot as string, payload: payload as string, signature: signature as string }, new Uint8Array(key.hmacKey), { algorithms: [...EAB_ALGS] });
  } catch {
    throw new AcmeError('unauthorized', 'externalAccountBinding MAC verification failed');
  }
  if (typeof inner !== 'object' || inner === null || (await thumbprintOf(inner as JWK).catch(() => '')) !== (await thumbprintOf(opts.accountJwk))) {
    throw new AcmeError('unauthorized', 'externalAccountBinding payload is not the account key');
  }
  return key.kid;
}
