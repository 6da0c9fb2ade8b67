/**
 * Admin API authentication (reused by every /admin/v1 route): bearer tokens made by
 * `flintca token create`, shown once, stored as SHA-256 of their 256-bit secret part, scoped
 * (`scep-challenge:LABEL`, `scep-challenge:*`) and revocable. Every use and every denial is
 * audited (never with the token itself).
 *
 * Token format: `flintca_<id>.<secret>`, id = 16 hex characters (public, listed and revoked by
 * it), secret = 43 characters of base64url.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AuditSink, Clock } from '../core/ports.js';
import { FlintError, retryAfterSeconds, toFlintError } from '../errors/index.js';
import type { AdminToken, EnrollmentRepository } from '../store/enrollment-types.js';

const TOKEN = /^flintca_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;
export const SCOPE = /^[a-z][a-z0-9-]*:(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$/;

export const hashTokenSecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** A new token: the printable value (shown once) and what the store keeps. */
export function newAdminToken(random: (n: number) => Buffer = randomBytes): { token: string; id: string; hash: string } {
  const id = random(8).toString('hex');
  const secret = random(32).toString('base64url');
  return { token: `flintca_${id}.${secret}`, id, hash: hashTokenSecret(secret) };
}

export function checkScopes(scopes: string[]): void {
  if (!scopes.length) throw new FlintError('malformed', 'a token needs at least one --scope (e.g. scep-challenge:LABEL)');
  for (const s of scopes) if (!SCOPE.test(s)) throw new FlintError('malformed', `bad scope "${s}": expected name:target, e.g. scep-challenge:iot or scep-challenge:*`);
}

/** True when `granted` covers `required` (`x:*` covers every `x:…`). */
export function scopeAllows(granted: readonly string[], required: string): boolean {
  const [kind] = required.split(':');
  return granted.includes(required) || granted.includes(`${kind}:*`);
}

export class AdminAuthenticator {
  constructor(private readonly d: { tokens: Pick<EnrollmentRepository, 'getAdminToken' | 'touchAdminToken'>; audit: Pick<AuditSink, 'record'>; clock: Clock }) {}

  /**
   * The token behind an Authorization header if it is valid, unrevoked and grants `scope`;
   * throws unauthorized (no/unknown/revoked token) or forbidden (scope), auditing the denial.
   */
  async authorize(header: string | undefined, scope: string, ip: string): Promise<AdminToken> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    const parsed = m ? TOKEN.exec(m[1]!) : null;
    let token: AdminToken | undefined;
    try {
      if (!m) throw new FlintError('unauthorized', 'an admin bearer token is required (Authorization: Bearer flintca_…)', { code: 'admin.unauthenticated' });
      if (!parsed) throw new FlintError('unauthorized', 'malformed admin token', { code: 'admin.badToken' });
      token = await this.d.tokens.getAdminToken(parsed[1]!);
      const want = Buffer.from(token?.hash ?? '0'.repeat(64), 'hex');
      const got = Buffer.from(hashTokenSecret(parsed[2]!), 'hex');
      if (!token || !timingSafeEqual(want, got)) throw new FlintError('unauthorized', 'unknown admin token', { code: 'admin.badToken' });
      if (token.revokedAt) throw new FlintError('unauthorized', 'this admin token was revoked', { code: 'admin.tokenRevoked' });
      if (!scopeAllows(token.scopes, scope)) throw new FlintError('forbidden', `this admin token does not grant ${scope}`, { code: 'admin.scope' });
    } catch (e) {
      const fe = toFlintError(e);
      await this.d.audit.record({ actor: token ? `token:${token.id}` : `admin:${ip}`, action: 'admin.token.use', object: `scope:${scope}`, result: 'denied', reason: fe.detail, data: { code: fe.code, ip } }).catch(() => undefined);
      throw fe;
    }
    await this.d.audit.record({ actor: `token:${token.id}`, action: 'admin.token.use', object: `scope:${scope}`, result: 'ok', data: { ip } });
    await this.d.tokens.touchAdminToken(token.id, this.d.clock()).catch(() => undefined);
    return token;
  }
}

/** JSON error body of the admin API: `{ error: code, detail }`; internal detail is never sent. */
export function sendAdminError(res: Response, err: unknown): void {
  const e = toFlintError(err);
  const status = { unauthorized: 401, forbidden: 403, notFound: 404, malformed: 400, conflict: 409, rateLimited: 429, unavailable: 503 }[e.kind as string] ?? (e.kind === 'internal' || e.kind === 'invalidConfig' ? 500 : 400);
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="flintca-admin"');
  const retryAfter = retryAfterSeconds(e);
  if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
  res.status(status).json({ error: e.code, detail: status === 503 ? 'service unavailable; retry later' : status >= 500 ? 'internal error' : e.detail });
}

/** Express middleware: requires a token granting `scope(req)`; puts it in res.locals.adminToken. */
export function requireScope(auth: AdminAuthenticator, scope: (req: Request) => string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    auth
      .authorize(req.headers.authorization, scope(req), req.socket.remoteAddress ?? 'unknown')
      .then((t) => {
        res.locals.adminToken = t;
        next();
      })
      .catch((e) => sendAdminError(res, e));
  };
}
