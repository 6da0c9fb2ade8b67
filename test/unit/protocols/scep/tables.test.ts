/** SCEP config loading, the failInfo / status tables (rule 3) and admin token helpers. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_KINDS, FlintError } from '../../../../src/errors/index.js';
import { checkScopes, hashTokenSecret, newAdminToken, scopeAllows } from '../../../../src/http/admin-auth.js';
import { loadScepConfig } from '../../../../src/protocols/scep/config.js';
import { errorResponse, failInfoFor, SCEP_KIND_FAILINFO, SCEP_STATUS } from '../../../../src/protocols/scep/errors.js';
import { capabilities, FAIL_INFO } from '../../../../src/protocols/scep/wire.js';
import { decodeGetMessage } from '../../../../src/protocols/scep/routes.js';

describe('SCEP config', () => {
  it('defaults: label default with the top-level static challenge, DES3 allowed', () => {
    const c = loadScepConfig({ scep: { challengeHash: 'scrypt$1$2$3$a$b' } });
    expect(c.defaultLabel).toBe('default');
    expect(c.labels.get('default')).toMatchObject({ profile: 'device', challengeHash: 'scrypt$1$2$3$a$b', allowDES3: true, requireApproval: false });
    expect(loadScepConfig({}).labels.get('default')?.challengeHash).toBeUndefined();
  });

  it('names the field of a bad label', () => {
    expect(() => loadScepConfig({ scep: { labels: { iot: { allowDES3: 'no' } } } })).toThrow(/scep\.labels\.iot\.allowDES3/);
    expect(() => loadScepConfig({ scep: { labels: { 'bad label': {} } } })).toThrow(/scep\.labels/);
    expect(() => loadScepConfig({ scep: { defaultLabel: 'nope' } })).toThrow(/scep\.defaultLabel/);
  });

  it('GetCACaps drops DES3 when disabled', () => {
    expect(capabilities(true)).toContain('DES3');
    expect(capabilities(false)).not.toContain('DES3');
  });
});

describe('SCEP error tables', () => {
  it('map every error kind to a failInfo and an HTTP status', () => {
    for (const k of ERROR_KINDS) {
      expect(Object.values(FAIL_INFO)).toContain(SCEP_KIND_FAILINFO[k]);
      expect(SCEP_STATUS[k]).toBeGreaterThanOrEqual(400);
    }
    expect(failInfoFor(new FlintError('malformed', 'x', { code: 'scep.badAlg' }))).toBe(FAIL_INFO.badAlg);
    expect(failInfoFor(new FlintError('malformed', 'x', { code: 'scep.notForUs' }))).toBe(FAIL_INFO.badMessageCheck);
    expect(failInfoFor(new FlintError('forbidden', 'x', { code: 'scep.challengeUsed' }))).toBe(FAIL_INFO.badRequest);
  });

  it('every scep.* / cms.* / admin.* code is documented in the README (rule 3)', () => {
    const root = join(import.meta.dirname, '../../../..');
    const files = ['src/protocols/scep/challenges.ts', 'src/protocols/scep/enroll.ts', 'src/protocols/scep/handlers.ts', 'src/protocols/scep/message.ts', 'src/protocols/scep/routes.ts', 'src/protocols/scep/admin.ts', 'src/protocols/scep/errors.ts', 'src/pki/cms-read.ts', 'src/http/admin-auth.ts', 'src/cli/admin.ts'];
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const codes = new Set(files.flatMap((f) => [...readFileSync(join(root, f), 'utf8').matchAll(/'((?:scep|cms|admin)\.[A-Za-z]+)'/g)].map((m) => m[1]!)));
    expect(codes.size).toBeGreaterThan(20);
    expect([...codes].filter((c) => !readme.includes(c))).toEqual([]);
  });

  it('text/plain answers never carry internal detail', () => {
    const r = errorResponse(new Error('secret stack detail'));
    expect(r.status).toBe(500);
    expect(String(r.body)).not.toMatch(/secret/);
    expect(errorResponse(new FlintError('malformed', 'x', { code: 'scep.messageTooLarge' })).status).toBe(413);
  });

  it('GET message: standard, URL-safe and space-mangled base64; garbage refused', () => {
    expect(decodeGetMessage('MA A=').equals(Buffer.from('MA+A', 'base64'))).toBe(true);
    expect(decodeGetMessage('-_8=').equals(Buffer.from('+/8=', 'base64'))).toBe(true);
    expect(() => decodeGetMessage('%%%')).toThrow(/base64/);
  });
});

describe('admin tokens', () => {
  it('format, hashing and scopes', () => {
    const t = newAdminToken();
    expect(t.token).toMatch(/^flintca_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    expect(t.hash).toBe(hashTokenSecret(t.token.split('.')[1]!));
    expect(t.hash).not.toContain(t.token.split('.')[1]!);
    expect(scopeAllows(['scep-challenge:iot'], 'scep-challenge:iot')).toBe(true);
    expect(scopeAllows(['scep-challenge:iot'], 'scep-challenge:other')).toBe(false);
    expect(scopeAllows(['scep-challenge:*'], 'scep-challenge:other')).toBe(true);
    expect(scopeAllows(['other:*'], 'scep-challenge:iot')).toBe(false);
    expect(() => checkScopes([])).toThrow(/scope/);
    expect(() => checkScopes(['scep-challenge'])).toThrow(/bad scope/);
  });
});
