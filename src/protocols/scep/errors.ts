/**
 * Error tables (ARCHITECTURE.md rule 3). A request whose signer we identified (its signature
 * verified) gets a CertRep FAILURE with a failInfo (RFC 8894 §3.3.2.2); anything before that
 * gets an HTTP status with a text/plain reason. Codes win over kinds.
 */
import { HTTP_STATUS, retryAfterSeconds, toFlintError, type ErrorKind, type FlintError } from '../../errors/index.js';
import { FAIL_INFO, type FailInfo } from './wire.js';
import type { ScepResponse } from './ports.js';

export const SCEP_CODE_FAILINFO: Readonly<Record<string, FailInfo>> = Object.freeze({
  'scep.badAlg': FAIL_INFO.badAlg,
  'scep.decryptFailed': FAIL_INFO.badMessageCheck,
  'scep.notForUs': FAIL_INFO.badMessageCheck,
  'cms.malformed': FAIL_INFO.badMessageCheck,
  'cms.wrongContentType': FAIL_INFO.badMessageCheck,
  'scep.badCertId': FAIL_INFO.badCertId,
  'certificate.unknown': FAIL_INFO.badCertId,
});

export const SCEP_KIND_FAILINFO: Readonly<Record<ErrorKind, FailInfo>> = Object.freeze({
  malformed: FAIL_INFO.badRequest,
  badCSR: FAIL_INFO.badRequest,
  badSignatureAlgorithm: FAIL_INFO.badAlg,
  rejectedIdentifier: FAIL_INFO.badRequest,
  profileViolation: FAIL_INFO.badRequest,
  unauthorized: FAIL_INFO.badRequest,
  forbidden: FAIL_INFO.badRequest,
  notFound: FAIL_INFO.badCertId,
  alreadyRevoked: FAIL_INFO.badRequest,
  conflict: FAIL_INFO.badRequest,
  rateLimited: FAIL_INFO.badRequest,
  unavailable: FAIL_INFO.badRequest,
  invalidConfig: FAIL_INFO.badRequest,
  internal: FAIL_INFO.badRequest,
});

export const failInfoFor = (e: FlintError): FailInfo => SCEP_CODE_FAILINFO[e.code] ?? SCEP_KIND_FAILINFO[e.kind];

/** HTTP statuses for errors answered before the requester is identified. */
export const SCEP_STATUS = HTTP_STATUS;

export const SCEP_CODE_STATUS: Readonly<Record<string, number>> = Object.freeze({
  'scep.methodNotAllowed': 405,
  'scep.messageTooLarge': 413,
});

/** text/plain reason; internal detail is never sent. */
export function errorResponse(err: unknown): ScepResponse {
  const e = toFlintError(err);
  const status = SCEP_CODE_STATUS[e.code] ?? SCEP_STATUS[e.kind];
  const text = e.kind === 'internal' || e.kind === 'invalidConfig' ? 'internal error' : e.kind === 'unavailable' ? `service unavailable: ${e.detail}` : e.detail;
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
  if (e.code === 'scep.methodNotAllowed') headers.Allow = 'GET, POST';
  const retryAfter = retryAfterSeconds(e); // unavailable (store down: 503) always; rateLimited
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  return { status, headers, body: `${e.code}: ${text}\n` };
}
