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
