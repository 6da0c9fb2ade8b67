import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlintError } from '../../../src/errors/index.js';
import { openKeyStore, Pkcs11KeyStore } from '../../../src/keys/index.js';
import { makeTestToken, skipWithoutSoftHsm, type TestToken } from './softhsm-fixture.js';

const skip = skipWithoutSoftHsm();
const RIGHT_PIN = '80613729';
const WRONG_PIN = '97531864';

/** Opens and expects a FlintError('invalidConfig') that leaks neither PIN anywhere. */
async function openFails(opts: Parameters<typeof Pkcs11KeyStore.open>[0]): Promise<FlintError> {
  let err: unknown;
  try {
    const store = await Pkcs11KeyStore.open(opts);
    await store.close();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FlintError);
  const fe = err as FlintError;
  expect(fe.kind).toBe('invalidConfig');
  const everything = [fe.message, fe.detail, fe.stack, String(fe.cause), (fe.cause as Error | undefined)?.stack, JSON.stringify(fe)].join('\n');
  for (const pin of [RIGHT_PIN, WRONG_PIN]) expect(everything).not.toContain(pin);
  return fe;
}

describe.skipIf(skip)('Pkcs11KeyStore.open failures', () => {
  let token: TestToken;
  beforeAll(async () => {
    token = await makeTestToken('flint-open', RIGHT_PIN);
  });
  afterAll(() => token?.cleanup());

  it('names a missing module file', async () => {
    const e = await openFails({ modulePath: '/nonexistent/libpkcs11.so', tokenLabel: token.label, pin: RIGHT_PIN });
    expect(e.message).toBe('PKCS#11 module not found: /nonexistent/libpkcs11.so');
  });

  it('names a module that does not load', async () => {
    const bogus = join(token.dir, 'not-a-library.so');
    writeFileSync(bogus, 'this is not an ELF file\n');
    const e = await openFails({ modulePath: bogus, tokenLabel: token.label, pin: RIGHT_PIN });
    expect(e.message).toContain(`cannot load PKCS#11 module ${bogus}`);
  });

  it('names a missing token and lists the ones there are', async () => {
    const e = await openFails({ tokenLabel: 'no-such-token', pin: RIGHT_PIN });
    expect(e.message).toContain('no token labelled "no-such-token"');
    expect(e.message).toContain(token.modulePath);
    expect(e.message).toContain('"flint-open"');
  });

  it('says the PIN is wrong without printing it', async () => {
    const e = await openFails({ tokenLabel: token.label, pin: WRONG_PIN });
    expect(e.message).toBe(`wrong PIN for token "flint-open" (module ${token.modulePath})`);
  });

  it('rejects an empty PIN', async () => {
    const e = await openFails({ tokenLabel: token.label, pin: '' });
    expect(e.message).toContain('PIN');
  });

  it('still rejects a wrong PIN while another store is logged in to the token', async () => {
    const good = await openKeyStore({ kind: 'pkcs11', tokenLabel: token.label, pin: RIGHT_PIN, poolSize: 2 });
    try {
      // PKCS#11 answers CKR_USER_ALREADY_LOGGED_IN without checking the PIN; the store must not.
      const e = await openFails({ tokenLabel: token.label, pin: WRONG_PIN });
      expect(e.message).toContain('wrong PIN');
      const second = await Pkcs11KeyStore.open({ tokenLabel: token.label, pin: RIGHT_PIN });
      const signer = await second.generate('shared', 'P-256');
      await second.close();
      expect(await good.healthy()).toBe(true);
      expect((await (await good.open(signer.keyUri)).sign(Buffer.from('x'))).length).toBeGreaterThan(8);
    } finally {
      await good.close();
    }
  });

  it('opens again after every store was closed (module finalised and re-initialised)', async () => {
    const store = await Pkcs11KeyStore.open({ tokenLabel: token.label, pin: RIGHT_PIN });
    expect(await store.healthy()).toBe(true);
    expect(await store.find('shared')).toBeDefined();
    await store.close();
  });
});
