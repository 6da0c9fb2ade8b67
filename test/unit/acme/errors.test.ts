import { describe, expect, it } from 'vitest';
import { ERROR_KINDS, FlintError } from '../../../src/errors/index.js';
import { ACME_ERROR_PREFIX, ACME_ERROR_TYPES, ACME_EXTENSION_ERROR_TYPES, AcmeError, KIND_TO_ACME, toProblem } from '../../../src/protocols/acme/errors.js';

/** RFC 8555 §6.7, the "ACME Error Types" table, copied by hand from the RFC text. */
const RFC8555_ERROR_TYPES = [
  'accountDoesNotExist', 'alreadyRevoked', 'badCSR', 'badNonce', 'badPublicKey', 'badRevocationReason',
  'badSignatureAlgorithm', 'caa', 'compound', 'connection', 'dns', 'externalAccountRequired',
  'incorrectResponse', 'invalidContact', 'malformed', 'orderNotReady', 'rateLimited', 'rejectedIdentifier',
  'serverInternal', 'tls', 'unauthorized', 'unsupportedContact', 'unsupportedIdentifier', 'userActionRequired',
];

describe('ACME error table', () => {
  it('lists exactly the RFC 8555 §6.7 types', () => {
    expect(Object.keys(ACME_ERROR_TYPES).sort()).toEqual([...RFC8555_ERROR_TYPES].sort());
    expect(ACME_ERROR_PREFIX).toBe('urn:ietf:params:acme:error:');
  });

  it('lists the extension types with their registering documents, none clashing with RFC 8555', () => {
    // RFC 9773 §7.4 (alreadyReplaced), draft-aaron-acme-profiles §6 (invalidProfile).
    expect(Object.keys(ACME_EXTENSION_ERROR_TYPES).sort()).toEqual(['alreadyReplaced', 'invalidProfile']);
    for (const t of Object.keys(ACME_EXTENSION_ERROR_TYPES)) expect(RFC8555_ERROR_TYPES).not.toContain(t);
    expect(toProblem(new AcmeError('alreadyReplaced', 'x'))).toMatchObject({ type: ACME_ERROR_PREFIX + 'alreadyReplaced', status: 409 });
    expect(toProblem(new AcmeError('invalidProfile', 'x'))).toMatchObject({ type: ACME_ERROR_PREFIX + 'invalidProfile', status: 400 });
  });

  it('maps every internal error kind to an RFC type with a 4xx/5xx status', () => {
    for (const kind of ERROR_KINDS) {
      const m = KIND_TO_ACME[kind];
      expect(RFC8555_ERROR_TYPES, kind).toContain(m.type);
      const p = toProblem(new FlintError(kind, 'x'));
      expect(p.type).toBe(ACME_ERROR_PREFIX + m.type);
      expect(p.status).toBeGreaterThanOrEqual(400);
    }
  });

  it('untyped errors become a generic serverInternal with no detail leaked', () => {
    const p = toProblem(new Error('secret path /etc/key'));
    expect(p).toEqual({ type: ACME_ERROR_PREFIX + 'serverInternal', detail: 'internal error', status: 500 });
    expect(toProblem(new FlintError('internal', 'db at /x broke')).detail).toBe('internal error');
  });

  it('keeps ACME-specific extras', () => {
    const p = toProblem(new AcmeError('badSignatureAlgorithm', 'no', { algorithms: ['ES256'] }));
    expect(p).toMatchObject({ type: ACME_ERROR_PREFIX + 'badSignatureAlgorithm', status: 400, algorithms: ['ES256'] });
  });
});
