import { execFileSync, spawnSync } from 'node:child_process';
import { constants, publicEncrypt, randomBytes, verify as cryptoVerify } from 'node:crypto';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlintError } from '../../../src/errors/index.js';
import { createSoftHsmToken, Pkcs11KeyStore, parsePkcs11Uri, pkcs11Uri, type Signer } from '../../../src/keys/index.js';
import { algorithmsFor, hashOf, type KeyType, type SignatureAlgorithm } from '../../../src/pki/algorithms.js';
import { children, readHeader } from '../../../src/pki/der.js';
import { makeTestToken, skipWithoutSoftHsm, type TestToken } from './softhsm-fixture.js';

const skip = skipWithoutSoftHsm();

function verifySignature(signer: Signer, alg: SignatureAlgorithm, data: Buffer, sig: Buffer): boolean {
  const hash = hashOf(alg);
  const key = signer.publicKeyObject;
  if (alg === 'ed25519') return cryptoVerify(null, data, key, sig);
  if (alg.startsWith('ecdsa')) return cryptoVerify(hash, data, { key, dsaEncoding: 'der' }, sig);
  if (alg.startsWith('rsa-pss')) {
    return cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha384' ? 48 : 32 }, sig);
  }
  return cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
}

async function rejection(p: Promise<unknown>): Promise<FlintError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FlintError);
    return e as FlintError;
  }
  throw new Error('expected a rejection');
}

describe.skipIf(skip)('Pkcs11KeyStore on SoftHSM', () => {
  let token: TestToken;
  let store: Pkcs11KeyStore;
  const signers = new Map<KeyType, Signer>();
  const tbs = randomBytes(777);

  beforeAll(async () => {
    token = await makeTestToken('flint keys/test');
    store = await Pkcs11KeyStore.open({ tokenLabel: token.label, pin: token.pin });
  });
  afterAll(async () => {
    await store?.close();
    token?.cleanup();
  });

  for (const keyType of ['RSA-2048', 'RSA-3072', 'P-256', 'P-384', 'Ed25519'] as const) {
    it(`generates ${keyType} and signs with ${algorithmsFor(keyType).join(', ')}`, async () => {
      const label = `key-${keyType}`;
      const signer = await store.generate(label, keyType);
      signers.set(keyType, signer);
      expect(signer.keyType).toBe(keyType);
      expect(signer.keyUri).toBe(pkcs11Uri(token.label, label));
      expect(signer.publicKey.equals(signer.publicKeyObject.export({ type: 'spki', format: 'der' }))).toBe(true);
      for (const alg of algorithmsFor(keyType)) {
        const sig = await signer.sign(tbs, alg);
        expect(verifySignature(signer, alg, tbs, sig), alg).toBe(true);
        expect(verifySignature(signer, alg, Buffer.concat([tbs, Buffer.from([0])]), sig), `${alg} on other data`).toBe(false);
      }
      // The default algorithm, and a fresh lookup that sees the same public key.
      expect(verifySignature(signer, signer.algorithm, tbs, await signer.sign(tbs))).toBe(true);
      const again = await store.open(signer.keyUri);
      expect(again.publicKey.equals(signer.publicKey)).toBe(true);
    });
  }

  it('returns ECDSA signatures as DER ECDSA-Sig-Value', async () => {
    for (const keyType of ['P-256', 'P-384'] as const) {
      const sig = await signers.get(keyType)!.sign(tbs);
      expect(sig[0]).toBe(0x30);
      expect(readHeader(sig).end).toBe(sig.length);
      const [r, s] = children(sig);
      expect(r![0]).toBe(0x02);
      expect(s![0]).toBe(0x02);
      expect(cryptoVerify(hashOf(signers.get(keyType)!.algorithm), tbs, { key: signers.get(keyType)!.publicKeyObject, dsaEncoding: 'der' }, sig)).toBe(true);
    }
  });

  it('generates RSA-4096', async () => {
    const signer = await store.generate('key-RSA-4096', 'RSA-4096');
    expect(signer.keyType).toBe('RSA-4096');
    expect(verifySignature(signer, 'rsa-pss-sha384', tbs, await signer.sign(tbs, 'rsa-pss-sha384'))).toBe(true);
  }, 120_000);

  it('runs 32 concurrent signs on one store', async () => {
    const keys = [signers.get('P-256')!, signers.get('RSA-2048')!];
    const jobs = Array.from({ length: 32 }, (_, i) => {
      const signer = keys[i % 2]!;
      const data = randomBytes(100 + i);
      return signer.sign(data).then((sig) => verifySignature(signer, signer.algorithm, data, sig));
    });
    expect(await Promise.all(jobs)).toEqual(Array(32).fill(true));
  });

  it('finds, opens and refuses by label and URI', async () => {
    expect(await store.find('no-such-key')).toBeUndefined();
    expect((await rejection(store.open(pkcs11Uri(token.label, 'no-such-key')))).kind).toBe('notFound');
    expect((await rejection(store.generate('key-P-256', 'P-256'))).kind).toBe('conflict');
    expect((await rejection(store.open(pkcs11Uri('other-token', 'key-P-256')))).kind).toBe('invalidConfig');
    expect((await rejection(signers.get('P-256')!.sign(tbs, 'rsa-pkcs1-sha256'))).kind).toBe('badSignatureAlgorithm');
    // A label needing percent-encoding survives the URI round trip.
    const odd = 'CA key; 2/ü%';
    const signer = await store.generate(odd, 'P-256');
    expect(parsePkcs11Uri(signer.keyUri).object).toBe(odd);
    expect((await store.open(signer.keyUri)).publicKey.equals(signer.publicKey)).toBe(true);
  });

  it('decrypts RSA PKCS#1 v1.5 inside the HSM', async () => {
    const signer = signers.get('RSA-2048')!;
    const secret = randomBytes(32);
    const ct = publicEncrypt({ key: signer.publicKeyObject, padding: constants.RSA_PKCS1_PADDING }, secret);
    const dec = await store.decrypter(signer.keyUri);
    expect((await dec.decrypt(ct)).equals(secret)).toBe(true);
    expect((await rejection(dec.decrypt(randomBytes(256).fill(0, 0, 1)))).kind).toBe('malformed');
    expect((await rejection(store.decrypter(signers.get('P-256')!.keyUri))).kind).toBe('invalidConfig');
  });

  it('stores private keys sensitive and never extractable (pkcs11-tool)', (ctx) => {
    if (spawnSync('pkcs11-tool', ['--version'], { stdio: 'ignore' }).error) {
      if (process.env.FLINTCA_REQUIRE_INTEROP === '1') throw new Error('pkcs11-tool (opensc) is required but missing');
      console.warn('*** SKIPPING pkcs11-tool check: opensc not installed ***');
      return ctx.skip();
    }
    const out = execFileSync(
      'pkcs11-tool',
      ['--module', token.modulePath, '--token-label', token.label, '--login', '--pin', token.pin, '--list-objects', '--type', 'privkey'],
      { encoding: 'utf8', env: process.env },
    );
    const blocks = out.split(/^Private Key Object; /m).slice(1);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const b of blocks) {
      const access = /Access:\s+(.*)/.exec(b)?.[1] ?? '';
      expect(access, b).toMatch(/(^|, )sensitive(,|$)/);
      expect(access, b).toContain('never extractable');
      const usage = /Usage:\s+(.*)/.exec(b)?.[1] ?? '';
      expect(usage, b).toContain('sign');
      expect(usage, b).not.toContain('unwrap');
      if (b.startsWith('RSA')) expect(usage, b).toContain('decrypt');
      else expect(usage, b).not.toContain('decrypt');
    }
  });

  it('reconnects after its sessions are closed or the library is finalised behind its back', async () => {
    const signer = signers.get('P-256')!;
    const rsa = signers.get('RSA-2048')!;
    // A second handle on the same (already loaded) library, as a crashed/reset HSM would look.
    const other = new pkcs11js.PKCS11();
    other.load(token.modulePath);
    try {
      other.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (e) {
      expect(String(e)).toContain('CKR_CRYPTOKI_ALREADY_INITIALIZED');
    }
    for (const slot of other.C_GetSlotList(true)) other.C_CloseAllSessions(slot); // also logs out
    expect(verifySignature(signer, signer.algorithm, tbs, await signer.sign(tbs))).toBe(true);
    expect(verifySignature(rsa, rsa.algorithm, tbs, await rsa.sign(tbs))).toBe(true);
    other.C_Finalize();
    const after = await Promise.all([signer.sign(tbs), rsa.sign(tbs), signer.sign(tbs)]);
    expect(verifySignature(signer, signer.algorithm, tbs, after[0]!)).toBe(true);
    expect(verifySignature(rsa, rsa.algorithm, tbs, after[1]!)).toBe(true);
    expect(await store.healthy()).toBe(true);
    for (const slot of other.C_GetSlotList(true)) other.C_CloseAllSessions(slot);
    expect(await store.healthy()).toBe(true); // reports after one reconnect
  });

  it("fails with 'unavailable' while the token is gone and recovers when it is back", async () => {
    const signer = signers.get('P-256')!;
    // Re-initialising SoftHSM re-reads SOFTHSM2_CONF: pointing it at a directory without our
    // token and finalising the library looks to the store like a removed token.
    const elsewhere = await createSoftHsmToken({ dir: join(token.dir, 'elsewhere'), label: 'unrelated', pin: '1111', soPin: '22222222' });
    const other = new pkcs11js.PKCS11();
    other.load(token.modulePath);
    try {
      process.env.SOFTHSM2_CONF = elsewhere.confPath;
      other.C_Finalize();
      const e = await rejection(signer.sign(tbs));
      expect(e.kind).toBe('unavailable');
      expect(e.message).toContain(`no token labelled "${token.label}"`);
      expect(e.message).not.toContain(token.pin);
      expect(await store.healthy()).toBe(false);
    } finally {
      process.env.SOFTHSM2_CONF = token.confPath;
    }
    try {
      other.C_Finalize();
    } catch {
      // the store may not have re-initialised it
    }
    expect(verifySignature(signer, signer.algorithm, tbs, await signer.sign(tbs))).toBe(true);
    expect(await store.healthy()).toBe(true);
  });

  it('reports unhealthy and refuses to sign once closed', async () => {
    const second = await Pkcs11KeyStore.open({ tokenLabel: token.label, pin: token.pin, poolSize: 1 });
    const signer = (await second.find('key-P-256'))!;
    expect(await second.healthy()).toBe(true);
    await second.close();
    expect(await second.healthy()).toBe(false);
    expect((await rejection(signer.sign(tbs))).kind).toBe('unavailable');
    // The first store shares the module and the login; it keeps working.
    expect(await store.healthy()).toBe(true);
    const p256 = signers.get('P-256')!;
    expect(verifySignature(p256, p256.algorithm, tbs, await p256.sign(tbs))).toBe(true);
  });
});
