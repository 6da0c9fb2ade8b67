import { describe, expect, it } from 'vitest';
import { hashSecret } from '../../../../src/config/password.js';
import { EstAuthenticator, MAX_FAILURES } from '../../../../src/protocols/est/auth.js';
import { estLabelSchema } from '../../../../src/protocols/est/config.js';
import type { EstRequest } from '../../../../src/protocols/est/ports.js';

function setup() {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const auth = new EstAuthenticator({
    config: { users: [{ name: 'est', passwordHash: hashSecret('pw') }], labels: new Map() },
    certificates: { get: async () => undefined },
    audit: { record: async () => [] },
    clock: () => new Date(now),
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
});
