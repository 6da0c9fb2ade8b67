import { describe, expect, it } from 'vitest';
import { ERROR_KINDS, FlintError } from '../../../../src/errors/index.js';
import { loadEstConfig } from '../../../../src/protocols/est/config.js';
import { EST_STATUS, errorResponse } from '../../../../src/protocols/est/errors.js';
import { decodeBase64Body, encodeBase64Body, encodeCsrAttrs, mediaType, OIDS } from '../../../../src/protocols/est/wire.js';

describe('EST wire', () => {
  it('encodes the RFC 7030 §4.5.2 CsrAttrs example byte for byte', () => {
    const rfc = 'MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw==';
    const der = encodeCsrAttrs([
      { oid: OIDS.challengePassword },
      { type: OIDS.ecPublicKey, values: [OIDS['P-384']] },
      { type: '1.2.840.113549.1.9.14', values: ['1.3.6.1.1.1.1.22'] },
      { oid: OIDS.ecdsaWithSHA384 },
    ]);
    expect(der.toString('base64')).toBe(rfc);
  });

  it('decodes base64 bodies with whitespace and rejects non-base64 and empty ones', () => {
    const b = Buffer.from('hello world, this is a longer body to wrap'.repeat(3));
    expect(decodeBase64Body(encodeBase64Body(b), 'x')).toEqual(b);
    expect(decodeBase64Body(' aGVs\r\n bG8=\n', 'x').toString()).toBe('hello');
    expect(() => decodeBase64Body('not base64!', 'x')).toThrow(/not base64/);
    expect(() => decodeBase64Body(' \n', 'x')).toThrow(/empty/);
    expect(encodeBase64Body(Buffer.alloc(100)).split('\r\n').every((l) => l.length <= 64)).toBe(true);
  });

  it('reads the media type without parameters', () => {
    expect(mediaType('Application/PKCS10; charset=x')).toBe('application/pkcs10');
    expect(mediaType(undefined)).toBe('');
  });
});

describe('EST errors', () => {
  it('maps every error kind to a 4xx/5xx status', () => {
    for (const k of ERROR_KINDS) expect(EST_STATUS[k]).toBeGreaterThanOrEqual(400);
    expect(Object.keys(EST_STATUS).sort()).toEqual([...ERROR_KINDS].sort());
  });

  it('answers text/plain, challenges on 401 and never leaks internal detail', () => {
    const u = errorResponse(new FlintError('unauthorized', 'who are you'));
    expect(u.status).toBe(401);
    expect(u.headers['WWW-Authenticate']).toBe('Basic realm="estrealm"');
    expect(u.headers['Content-Type']).toMatch(/^text\/plain/);
    const i = errorResponse(new Error('db password is hunter2'));
    expect(i.status).toBe(500);
    expect(i.body).toBe('internal error\n');
    expect(errorResponse(new FlintError('malformed', 'x', { code: 'est.unsupportedMediaType' })).status).toBe(415);
    expect(errorResponse(new FlintError('malformed', 'x', { code: 'est.notImplemented' })).status).toBe(501);
    const r = errorResponse(new FlintError('rateLimited', 'slow down', { retryAfter: 30 }));
    expect(r.status).toBe(429);
    expect(r.headers['Retry-After']).toBe('30');
  });
});

describe('EST config', () => {
  it('defaults to the device profile under label "default"', () => {
    const c = loadEstConfig({ est: { users: [{ name: 'est', passwordHash: 'scrypt$1$2$3$a$b' }] } });
    expect(c.labels.get('default')).toEqual({ profile: 'device', auth: 'either', requireApproval: false, requireChallengePassword: false, channelBinding: false });
    expect(loadEstConfig({}).users).toEqual([]);
  });

  it('names the bad field', () => {
    expect(() => loadEstConfig({ est: { labels: { iot: { auth: 'token' } } } })).toThrow(/est\.labels\.iot\.auth/);
    expect(() => loadEstConfig({ est: { labels: { iot: { channelBinding: true, requireChallengePassword: true } } } })).toThrow(/est\.labels\.iot\.channelBinding/);
    expect(() => loadEstConfig({ est: { labels: { mfg: { bootstrapCaFile: 'no-such.pem' } } } }, (p) => `/nonexistent/${p}`)).toThrow(/est\.labels\.mfg\.bootstrapCaFile: cannot read \/nonexistent\/no-such\.pem/);
  });
});
