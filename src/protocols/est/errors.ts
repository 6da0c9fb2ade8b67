/**
 * Error table (ARCHITECTURE.md rule 3): FlintError kind → HTTP status. RFC 7030 §4.2.3 lets the
 * server answer with any HTTP error status and a human-readable text/plain body; codes that need
 * a more specific status than their kind override it below.
 */
import { HTTP_STATUS, retryAfterSeconds, toFlintError, type FlintError } from '../../errors/index.js';
import type { EstResponse } from './ports.js';

export const EST_STATUS = HTTP_STATUS;

/** Codes with their own status (content negotiation and unsupported operations). */
export const EST_CODE_STATUS: Readonly<Record<string, number>> = Object.freeze({
  'est.unsupportedMediaType': 415,
  'est.methodNotAllowed': 405,
  'est.notImplemented': 501,
  'est.bodyTooLarge': 413,
});

export const BASIC_CHALLENGE = 'Basic realm="estrealm"';

export function estStatus(e: FlintError): number {
  return EST_CODE_STATUS[e.code] ?? EST_STATUS[e.kind];
}

/** The wire form of an error: text/plain reason; internal detail is never sent. */
export function errorResponse(err: unknown, opts: { basicChallenge?: boolean } = {}): EstResponse {
  const e = toFlintError(err);
  const status = estStatus(e);
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
  if (status === 401 && opts.basicChallenge !== false) headers['WWW-Authenticate'] = BASIC_CHALLENGE;
  const retryAfter = retryAfterSeconds(e); // rateLimited; unavailable (store down: 503) always
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  const text = e.kind === 'internal' || e.kind === 'invalidConfig' ? 'internal error' : e.kind === 'unavailable' ? 'service unavailable' : [e.detail, ...e.reasons.filter((r) => r !== e.detail)].join('\n');
  return { status, headers, body: text + '\n' };
}
