import { constants, publicEncrypt, randomBytes, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlintError } from '../../../src/errors/index.js';
import { openKeyStore, SoftwareKeyStore, tlsKeyMaterial, type Signer } from '../../../src/keys/index.js';
import { rsaPkcs1Decrypt } from '../../../src/keys/software/store.js';
import { algorithmsFor, hashOf, type KeyType, type SignatureAlgorithm } from '../../../src/pki/algorithms.js';

const PASSPHRASE = 'correct horse battery staple 42';

function verifySignature(signer: Signer, alg: SignatureAlgorithm, data: Buffer, sig: Buffer): boolean {
  const hash = hashOf(alg);
  const key = signer.publicKeyObject;
  if (alg === 'ed25519') return cryptoVerify(null, data, key, sig);
  if (alg.startsWith('ecdsa')) return cryptoVerify(hash, data, { key, dsaEncoding: 'der' }, sig);
  if (alg.startsWith('rsa-pss')) return cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha384' ? 48 : 32 }, sig);
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

describe('SoftwareKeyStore', () => {
  let dir: string;
  let store: SoftwareKeyStore;
  const tbs = randomBytes(600);
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flintca-keys-'));
    store = await SoftwareKeyStore.open({ dir, passphrase: PASSPHRASE });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const keyType of ['RSA-2048', 'RSA-3072', 'P-256', 'P-384', 'Ed25519'] as KeyType[]) {
    it(`generates ${keyType}, stores it encrypted with mode 0600, signs with every algorithm`, async () => {
      const label = `k-${keyType}`;
      const signer = await store.generate(label, keyType);
      expect(signer.keyUri).toBe(`file:${label}`);
      expect(signer.keyType).toBe(keyType);
      const path = join(dir, `${label}.key.pem`);
      const pem = readFileSync(path, 'utf8');
      expect(pem.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----')).toBe(true);
      expect(pem).not.toContain(PASSPHRASE);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      for (const alg of algorithmsFor(keyType)) {
        const sig = await signer.sign(tbs, alg);
        expect(verifySignature(signer, alg, tbs, sig), alg).toBe(true);
        if (alg.startsWith('ecdsa')) expect(sig[0]).toBe(0x30);
      }
      // A second store (cold cache) decrypts the file and sees the same key.
      const other = await SoftwareKeyStore.open({ dir, passphrase: PASSPHRASE });
      const reopened = await other.open(signer.keyUri);
      expect(reopened.publicKey.equals(signer.publicKey)).toBe(true);
      expect(verifySignature(reopened, reopened.algorithm, tbs, await reopened.sign(tbs))).toBe(true);
    });
  }

  it('generates RSA-4096', async () => {
    const signer = await store.generate('k-RSA-4096', 'RSA-4096');
    expect(verifySignature(signer, 'rsa-pkcs1-sha512', tbs, await signer.sign(tbs, 'rsa-pkcs1-sha512'))).toBe(true);
  }, 120_000);

  it('says the passphrase is wrong without printing it', async () => {
    const wrong = 'not the passphrase 9173';
    const other = await openKeyStore({ kind: 'file', dir, passphrase: wrong });
    const e = await rejection(other.find('k-P-256'));
    expect(e.kind).toBe('invalidConfig');
    expect(e.message).toBe('cannot decrypt software key k-P-256: wrong passphrase');
    const everything = [e.message, e.stack, String(e.cause), JSON.stringify(e)].join('\n');
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(PASSPHRASE);
  });

  it('finds, opens and refuses', async () => {
    expect(await store.find('absent')).toBeUndefined();
    expect((await rejection(store.open('file:absent'))).kind).toBe('notFound');
    expect((await rejection(store.generate('k-P-256', 'P-256'))).kind).toBe('conflict');
    expect((await rejection(store.generate('../escape', 'P-256'))).kind).toBe('invalidConfig');
    expect((await rejection(store.open('pkcs11:object=k-P-256'))).kind).toBe('invalidConfig');
    const p256 = (await store.find('k-P-256'))!;
    expect((await rejection(p256.sign(tbs, 'ed25519'))).kind).toBe('badSignatureAlgorithm');
    expect(await store.healthy()).toBe(true);
  });

  it('decrypts RSA PKCS#1 v1.5 (own unpadding over raw RSA) and rejects bad padding', async () => {
    const signer = (await store.find('k-RSA-2048'))!;
    const dec = await store.decrypter(signer.keyUri);
    for (const len of [0, 1, 16, 32, 245]) {
      const secret = randomBytes(len);
      const ct = publicEncrypt({ key: signer.publicKeyObject, padding: constants.RSA_PKCS1_PADDING }, secret);
      expect((await dec.decrypt(ct)).equals(secret), `length ${len}`).toBe(true);
    }
    // OAEP-padded and random ciphertexts are not PKCS#1 v1.5 type 2.
    const oaep = publicEncrypt({ key: signer.publicKeyObject, padding: constants.RSA_PKCS1_OAEP_PADDING }, randomBytes(16));
    expect((await rejection(dec.decrypt(oaep))).kind).toBe('malformed');
    expect((await rejection(dec.decrypt(randomBytes(255)))).kind).toBe('malformed');
    expect((await rejection(dec.decrypt(Buffer.alloc(256, 0xff)))).kind).toBe('malformed');
    expect((await rejection(store.decrypter('file:k-P-256'))).kind).toBe('invalidConfig');
  });

  it('unpads exactly RFC 8017 §7.2.2 (PS at least 8 bytes, separator required)', async () => {
    const signer = (await store.find('k-RSA-2048'))!;
    const key = (store as unknown as { keys: Map<string, { privateKey: import('node:crypto').KeyObject }> }).keys.get('k-RSA-2048')!.privateKey;
    const raw = (em: Buffer) => publicEncrypt({ key: signer.publicKeyObject, padding: constants.RSA_NO_PADDING }, em);
    const em = (psLen: number, sep = true) => {
      const m = Buffer.alloc(256, 0x5a);
      m[0] = 0;
      m[1] = 2;
      if (sep) m[2 + psLen] = 0;
      return m;
    };
    expect(rsaPkcs1Decrypt(key, raw(em(8))).length).toBe(256 - 11);
    expect(() => rsaPkcs1Decrypt(key, raw(em(7)))).toThrow(/RSA decryption failed/);
    expect(() => rsaPkcs1Decrypt(key, raw(em(0, false)))).toThrow(/RSA decryption failed/);
    expect(rsaPkcs1Decrypt(key, raw(em(253))).length).toBe(0);
    const wrongType = em(8);
    wrongType[1] = 1;
    expect(() => rsaPkcs1Decrypt(key, raw(wrongType))).toThrow(/RSA decryption failed/);
  });

  it('gives node TLS the encrypted PEM and its passphrase', async () => {
    await store.generate('tls', 'P-256');
    const { keyPem, passphrase } = await tlsKeyMaterial(store, 'tls');
    expect(keyPem.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----')).toBe(true);
    expect(passphrase).toBe(PASSPHRASE);
    // node accepts it (a mismatched cert is fine for this check: no handshake is made)
    expect(() => createServer({ key: keyPem, passphrase })).not.toThrow();
    expect(() => createServer({ key: keyPem, passphrase: 'wrong' })).toThrow();
  });
});
