import { describe, expect, it } from 'vitest';
import { parseChange } from '../../../src/store/postgres/changes.js';

describe('PostgreSQL change feed payloads', () => {
  it('parses the two StoreChange kinds and drops the origin field', () => {
    expect(parseChange(JSON.stringify({ kind: 'certificateStatus', serial: '0a', issuerId: 'issuing', status: 'revoked', origin: 'other' }), 'me')).toEqual({ kind: 'certificateStatus', serial: '0a', issuerId: 'issuing', status: 'revoked' });
    expect(parseChange(JSON.stringify({ kind: 'crl', caId: 'issuing', origin: 'other' }), 'me')).toEqual({ kind: 'crl', caId: 'issuing' });
  });

  it("ignores this store's own echo and anything malformed", () => {
    expect(parseChange(JSON.stringify({ kind: 'crl', caId: 'issuing', origin: 'me' }), 'me')).toBeUndefined();
    for (const p of [undefined, '', 'not json', 'null', '42', '{"kind":"crl"}', '{"kind":"certificateStatus","serial":"0a","issuerId":"i","status":"bogus"}', '{"kind":"other"}']) {
      expect(parseChange(p, 'me')).toBeUndefined();
    }
  });
});
