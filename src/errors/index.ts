/**
 * The one internal error type (ARCHITECTURE.md rule 2). Protocol adapters map `kind` to their
 * wire format through their own error tables; anything that is not a FlintError is treated as
 * `internal` and its detail is logged, never sent.
 */
export const ERROR_KINDS = [
  'malformed',
  'unauthorized',
  'forbidden',
  'notFound',
  'badCSR',
  'badSignatureAlgorithm',
  'rejectedIdentifier',
  'profileViolation',
  'alreadyRevoked',
  'conflict',
  'rateLimited',
  'unavailable',
  'invalidConfig',
  'internal',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

export interface FlintErrorOptions {
  /** Stable machine-readable code, e.g. `csr.badSignature` (documented in the README table). */
  code?: string;
  cause?: unknown;
  /** Seconds a client should wait before retrying (rateLimited, unavailable). */
  retryAfter?: number;
  /** Every individual reason, e.g. each profile rule a request broke. */
  reasons?: string[];
}

export class FlintError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly detail: string;
  readonly retryAfter?: number;
  readonly reasons: string[];

  constructor(kind: ErrorKind, detail: string, options: FlintErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlintError';
    this.kind = kind;
    this.code = options.code ?? kind;
    this.detail = detail;
    this.retryAfter = options.retryAfter;
    this.reasons = options.reasons ?? [];
  }
}

export function isFlintError(e: unknown): e is FlintError {
  return e instanceof FlintError;
}

/** Turns anything thrown into a FlintError; untyped errors become a generic `internal` one. */
export function toFlintError(e: unknown): FlintError {
  if (e instanceof FlintError) return e;
  return new FlintError('internal', 'internal error', { cause: e });
}

/** Seconds a client is told to wait when an `unavailable` error (store or key store down) names none itself. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** The Retry-After (seconds) an error asks for: its own, or the default for `unavailable`. */
export function retryAfterSeconds(e: FlintError): number | undefined {
  return e.retryAfter ?? (e.kind === 'unavailable' ? UNAVAILABLE_RETRY_AFTER_SECONDS : undefined);
}

/**
 * The HTTP status of each error kind, for protocols that answer errors with a plain HTTP status
 * (EST, RFC 7030 §4.2.3, and SCEP before the requester is known); a protocol overrides single
 * codes in its own table. ACME maps kinds to problem types instead (protocols/acme/errors.ts).
 */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = Object.freeze({
  malformed: 400,
  badCSR: 400,
  badSignatureAlgorithm: 400,
  rejectedIdentifier: 400,
  profileViolation: 400,
  unauthorized: 401,
  forbidden: 403,
  notFound: 404,
  alreadyRevoked: 400,
  conflict: 409,
  rateLimited: 429,
  unavailable: 503,
  invalidConfig: 500,
  internal: 500,
});
