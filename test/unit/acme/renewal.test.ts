/** RFC 9773 ARI helpers: certID parsing and the suggested window. */
import { describe, expect, it } from 'vitest';
import { AcmeError } from '../../../src/protocols/acme/errors.js';
import { parseCertId, suggestedWindow } from '../../../src/protocols/acme/handlers/renewal.js';

describe('ARI', () => {
  it('parses certIDs (the serial keeps its DER sign byte out of the store key)', () => {
    const aki = Buffer.from('0102030405', 'hex').toString('base64url');
    expect(parseCertId(`${aki}.${Buffer.from('0087abcd', 'hex').toString('base64url')}`)).toEqual({ aki: Buffer.from('0102030405', 'hex'), serial: '87abcd' });
    for (const bad of ['', 'abc', 'a.b.c', `${aki}.`, `.${aki}`, `${aki}.a+b`]) expect(() => parseCertId(bad)).toThrow(AcmeError);
  });

  it('suggests the last third of the lifetime, or now when revoked', () => {
    const notBefore = new Date('2026-01-01T00:00:00Z');
    const notAfter = new Date('2026-01-31T00:00:00Z');
    const now = new Date('2026-01-05T00:00:00Z');
    expect(suggestedWindow({ notBefore, notAfter, status: 'valid' }, now)).toEqual({ start: '2026-01-21T00:00:00.000Z', end: '2026-01-31T00:00:00.000Z' });
    const r = suggestedWindow({ notBefore, notAfter, status: 'revoked' }, now);
    expect(new Date(r.start) < now && new Date(r.end) > now).toBe(true);
    // Rollover: the issuing CA is retiring, so a valid certificate should be renewed now too.
    const retiring = suggestedWindow({ notBefore, notAfter, status: 'valid' }, now, true);
    expect(new Date(retiring.start) < now && new Date(retiring.end) > now).toBe(true);
  });
});
