/**
 * ACME problem types (RFC 8555 §6.7) as data (ARCHITECTURE.md rule 3): the list of types with
 * their HTTP status, and the table mapping internal error kinds to them.
 */
import { isFlintError, retryAfterSeconds, type ErrorKind } from '../../errors/index.js';
import type { Problem } from './wire.js';

export const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

/** Every error type registered by RFC 8555 §6.7 (Table "ACME Error Types"), with the status we send. */
export const ACME_ERROR_TYPES = {
  accountDoesNotExist: 400,
  alreadyRevoked: 400,
  badCSR: 400,
  badNonce: 400,
  badPublicKey: 400,
  badRevocationReason: 400,
  badSignatureAlgorithm: 400,
  caa: 403,
  compound: 403,
  connection: 400,
  dns: 400,
  externalAccountRequired: 400,
  incorrectResponse: 403,
  invalidContact: 400,
  malformed: 400,
  orderNotReady: 403,
  rateLimited: 429,
  rejectedIdentifier: 400,
  serverInternal: 500,
  tls: 400,
  unauthorized: 403,
  unsupportedContact: 400,
  unsupportedIdentifier: 400,
  userActionRequired: 403,
} as const satisfies Record<string, number>;

/**
 * Error types registered after RFC 8555 by extensions this server implements:
 * `alreadyReplaced` (RFC 9773 §7.4, ARI `replaces` naming an already replaced certificate) and
 * `invalidProfile` (draft-aaron-acme-profiles §6, newOrder `profile` not offered).
 */
export const ACME_EXTENSION_ERROR_TYPES = {
  alreadyReplaced: 409,
  invalidProfile: 400,
} as const satisfies Record<string, number>;

export type AcmeErrorType = keyof typeof ACME_ERROR_TYPES | keyof typeof ACME_EXTENSION_ERROR_TYPES;

export function isAcmeErrorType(t: string): t is AcmeErrorType {
  return Object.hasOwn(ACME_ERROR_TYPES, t) || Object.hasOwn(ACME_EXTENSION_ERROR_TYPES, t);
}

/** Internal error kind → ACME problem type (and status when it differs from the type's default). */
export const KIND_TO_ACME: Record<ErrorKind, { type: AcmeErrorType; status?: number }> = {
  malformed: { type: 'malformed' },
  unauthorized: { type: 'unauthorized' },
  forbidden: { type: 'unauthorized' },
  notFound: { type: 'malformed', status: 404 },
  badCSR: { type: 'badCSR' },
  badSignatureAlgorithm: { type: 'badSignatureAlgorithm' },
  rejectedIdentifier: { type: 'rejectedIdentifier' },
  profileViolation: { type: 'badCSR' },
  alreadyRevoked: { type: 'alreadyRevoked' },
  conflict: { type: 'malformed', status: 409 },
  rateLimited: { type: 'rateLimited' },
  unavailable: { type: 'serverInternal', status: 503 },
  invalidConfig: { type: 'serverInternal' },
  internal: { type: 'serverInternal' },
};

/** An error meant for the ACME client, typed by problem type. */
export class AcmeError extends Error {
  constructor(
    readonly type: AcmeErrorType,
    readonly detail: string,
    readonly extra: { status?: number; algorithms?: string[]; subproblems?: Problem['subproblems']; retryAfter?: number } = {},
  ) {
    super(detail);
    this.name = 'AcmeError';
  }
}

export function problem(type: AcmeErrorType, detail: string, status?: number): Problem {
  return { type: ACME_ERROR_PREFIX + type, detail, status: status ?? (ACME_ERROR_TYPES as Record<string, number>)[type] ?? (ACME_EXTENSION_ERROR_TYPES as Record<string, number>)[type]! };
}

/** Anything thrown → a problem document; untyped errors become a generic serverInternal (detail never sent). */
export function toProblem(e: unknown): Problem {
  if (e instanceof AcmeError) {
    const p = problem(e.type, e.detail, e.extra.status);
    if (e.extra.algorithms) p.algorithms = e.extra.algorithms;
    if (e.extra.subproblems) p.subproblems = e.extra.subproblems;
    return p;
  }
  if (isFlintError(e)) {
    const m = KIND_TO_ACME[e.kind];
    const detail = e.kind === 'internal' || e.kind === 'invalidConfig' ? 'internal error' : e.reasons.length ? `${e.detail}: ${e.reasons.join('; ')}` : e.detail;
    return problem(m.type, detail, m.status);
  }
  return problem('serverInternal', 'internal error');
}

/**
 * Seconds the client should wait (rateLimited, unavailable), for the Retry-After header of a
 * problem response; `unavailable` (store down: 503 serverInternal) always gets one (RFC 8555 §6.6).
 */
export function retryAfterOf(e: unknown): number | undefined {
  if (e instanceof AcmeError) return e.extra.retryAfter;
  if (isFlintError(e)) return retryAfterSeconds(e);
  return undefined;
}
