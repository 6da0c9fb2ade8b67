/** §7.3.5 account key rollover: an inner JWS signed by the new key, wrapped in the account's outer JWS. */
import { flattenedVerify, importJWK, type JWK } from 'jose';
import { AcmeError } from '../errors.js';
import { ALLOWED_ALGS, thumbprintOf } from '../jws.js';
import { account, type AcmeContext, type AcmeReply } from './context.js';

const B64URL = /^[A-Za-z0-9_-]+$/;

export async function keyChange(ctx: AcmeContext): Promise<AcmeReply> {
  const a = account(ctx);
  const inner = ctx.req.payload;
  if (!inner || typeof inner.protected !== 'string' || typeof inner.payload !== 'string' || typeof inner.signature !== 'string' || 'header' in inner) {
    throw new AcmeError('malformed', 'keyChange payload must be a flattened JWS');
  }
  if (![inner.protected, inner.payload, inner.signature].every((x) => B64URL.test(x as string))) throw new AcmeError('malformed', 'inner JWS is not base64url');
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(inner.protected as string, 'base64url').toString('utf8')) as Record<string, unknown>;
    payload = JSON.parse(Buffer.from(inner.payload as string, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new AcmeError('malformed', 'inner JWS header or payload is not JSON');
  }
  if (typeof header.alg !== 'string' || !(ALLOWED_ALGS as readonly string[]).includes(header.alg)) {
    throw new AcmeError('badSignatureAlgorithm', 'unsupported inner JWS algorithm', { algorithms: [...ALLOWED_ALGS] });
  }
  if (header.url !== ctx.urls.keyChange) throw new AcmeError('malformed', 'inner JWS url must equal the keyChange URL');
  if (header.nonce !== undefined || header.kid !== undefined) throw new AcmeError('malformed', 'inner JWS must have a jwk and no nonce or kid');
  if (typeof header.jwk !== 'object' || header.jwk === null || 'd' in (header.jwk as object)) throw new AcmeError('malformed', 'inner JWS needs the new public jwk');
  const newJwk = header.jwk as JWK;
  try {
    await flattenedVerify(inner as { protected: string; payload: string; signature: string }, await importJWK(newJwk, header.alg), { algorithms: [...ALLOWED_ALGS] });
  } catch {
    throw new AcmeError('malformed', 'inner JWS signature verification failed');
  }
  if (payload.account !== ctx.urls.account(a.id)) throw new AcmeError('malformed', 'inner payload account does not match the kid');
  if (typeof payload.oldKey !== 'object' || payload.oldKey === null || (await thumbprintOf(payload.oldKey as JWK)) !== a.thumbprint) {
    throw new AcmeError('malformed', 'inner payload oldKey is not the current account key');
  }
  const thumbprint = await thumbprintOf(newJwk);
  const holder = await ctx.deps.repo.getAccountByThumbprint(thumbprint);
  if (holder) return Promise.reject(new AcmeError('malformed', 'the new key is already in use by an account', { status: 409 }));
  await ctx.deps.repo.updateAccount(a.id, { jwk: newJwk as Record<string, unknown>, thumbprint }, ctx.deps.audit.emitted([
    { actor: `acme:${a.id}`, action: 'acme.account.keyChange', object: `acme-account:${a.id}`, result: 'ok', data: { thumbprint } },
  ]));
  return { status: 200, json: { status: a.status, contact: a.contact, orders: ctx.urls.orders(a.id) }, location: ctx.urls.account(a.id) };
}
