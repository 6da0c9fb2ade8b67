import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashSecret } from '../../../../src/config/password.js';
import { freshRecentEvents } from '../../../helpers/recent-events.js';
import { EstAuthenticator, MAX_FAILURES } from '../../../../src/protocols/est/auth.js';
import { estLabelSchema } from '../../../../src/protocols/est/config.js';
import type { EstRequest } from '../../../../src/protocols/est/ports.js';

function setup() {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const auth = new EstAuthenticator({
    config: { users: [{ name: 'est', passwordHash: hashSecret('pw') }], labels: new Map(), bootstrapCas: new Map() },
    certificates: { get: async () => undefined },
    audit: { record: async () => [] },
    clock: () => new Date(now),
    recentEvents: freshRecentEvents(),
  });
  return { auth, advance: (ms: number) => (now += ms) };
}

const req = (user: string, pw: string, ip = '10.0.0.1'): EstRequest => ({ label: 'default', ip, authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`, body: Buffer.alloc(0) });
const label = estLabelSchema.parse({});

describe('EST authentication', () => {
  it('accepts the right password and rejects a wrong one', async () => {
    const { auth } = setup();
    expect(await auth.authenticate(req('est', 'pw'), label)).toEqual({ kind: 'basic', user: 'est' });
    await expect(auth.authenticate(req('est', 'nope'), label)).rejects.toMatchObject({ kind: 'unauthorized' });
    await expect(auth.authenticate(req('root', 'pw'), label)).rejects.toMatchObject({ kind: 'unauthorized' });
    await expect(auth.authenticate({ label: 'default', ip: 'x', body: Buffer.alloc(0) }, label)).rejects.toMatchObject({ kind: 'unauthorized', code: 'est.unauthenticated' });
  });

  it('throttles an address after repeated failures, for a while only', async () => {
    const { auth, advance } = setup();
    for (let i = 0; i < MAX_FAILURES; i++) await expect(auth.authenticate(req('est', 'bad'), label)).rejects.toMatchObject({ kind: 'unauthorized' });
    await expect(auth.authenticate(req('est', 'bad'), label)).rejects.toMatchObject({ kind: 'rateLimited' });
    await expect(auth.authenticate(req('est', 'pw'), label)).rejects.toMatchObject({ kind: 'rateLimited' });
    expect(await auth.authenticate(req('est', 'pw', '10.0.0.2'), label)).toMatchObject({ user: 'est' });
    advance(61_000);
    expect(await auth.authenticate(req('est', 'pw'), label)).toMatchObject({ user: 'est' });
  });

  it('refuses Basic on a cert-only label with 403', async () => {
    const { auth } = setup();
    await expect(auth.authenticate(req('est', 'pw'), estLabelSchema.parse({ auth: 'cert' }))).rejects.toMatchObject({ kind: 'forbidden' });
  });

  it('accepts a client certificate issued by a bootstrap CA, only while both are valid', async () => {
    let hasOpenssl = true;
    try {
      execFileSync('openssl', ['version']);
    } catch {
      hasOpenssl = false;
    }
    if (!hasOpenssl) return;
    const dir = mkdtempSync(join(tmpdir(), 'est-boot-'));
    try {
      const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
      for (const ca of ['mfg', 'other']) o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-subj', `/CN=${ca} CA`, '-days', '2');
      o('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'dev.key', '-out', 'dev.csr', '-subj', '/CN=dev');
      o('x509', '-req', '-in', 'dev.csr', '-CA', 'mfg.crt', '-CAkey', 'mfg.key', '-set_serial', '77', '-days', '1', '-out', 'dev.crt');
      const ca = (n: string) => new X509Certificate(readFileSync(join(dir, `${n}.crt`)));
      const der = new X509Certificate(readFileSync(join(dir, 'dev.crt'))).raw;
      const { auth, advance } = setupAt(Date.now());
      const r: EstRequest = { label: 'mfg', ip: '10.0.0.9', clientCert: { der, authorized: false }, body: Buffer.alloc(0) };
      expect(auth.bootstrap(r, [ca('other'), ca('mfg')])).toMatchObject({ kind: 'bootstrap', subject: 'CN=dev', serial: '4d' });
      expect(auth.bootstrap(r, [ca('other')])).toBeUndefined();
      expect(await auth.authenticate(r, estLabelSchema.parse({ auth: 'cert' }), [ca('mfg')])).toMatchObject({ kind: 'bootstrap' });
      await expect(auth.authenticate(r, estLabelSchema.parse({ auth: 'cert' }))).rejects.toMatchObject({ kind: 'unauthorized', code: 'est.badClientCert' });
      advance(3 * 86_400_000);
      expect(() => auth.bootstrap(r, [ca('mfg')])).toThrow(/expired/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function setupAt(start: number) {
  let now = start;
  const auth = new EstAuthenticator({
    config: { users: [], labels: new Map(), bootstrapCas: new Map() },
    certificates: { get: async () => undefined },
    audit: { record: async () => [] },
    clock: () => new Date(now),
    recentEvents: freshRecentEvents(),
  });
  return { auth, advance: (ms: number) => (now += ms) };
}
