/**
 * pki/public-key.ts: the fast SPKI imports give the same key as node:crypto's SPKI import, and
 * every other shape still goes through it (so nothing is accepted that it would reject).
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publicKeyFromSpki } from '../../../src/pki/public-key.js';

const spkiOf = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
/** Same type and key material (JWK: an EC key keeps the point form it was imported with in SPKI exports). */
const same = (a: KeyObject, b: KeyObject) =>
  a.asymmetricKeyType === b.asymmetricKeyType &&
  (a.asymmetricKeyType === 'rsa-pss' ? spkiOf(a).equals(spkiOf(b)) : JSON.stringify(a.export({ format: 'jwk' })) === JSON.stringify(b.export({ format: 'jwk' })));
/** What an import gives: the key's JWK, or 'throws'. */
const outcome = (f: () => KeyObject) => {
  try {
    const k = f();
    return `${k.asymmetricKeyType} ${JSON.stringify(k.export({ format: 'jwk' }))}`;
  } catch {
    return 'throws';
  }
};

describe('publicKeyFromSpki', () => {
  it.each([
    ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    ['P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
    ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
    ['P-521 (SPKI import)', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
    ['Ed25519 (SPKI import)', () => generateKeyPairSync('ed25519').publicKey],
    ['RSASSA-PSS (SPKI import, stays rsa-pss)', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey],
  ])('%s: the same key as createPublicKey(spki)', (_, gen) => {
    const spki = spkiOf(gen());
    const k = publicKeyFromSpki(spki);
    expect(same(k, createPublicKey({ key: spki, format: 'der', type: 'spki' }))).toBe(true);
    expect(publicKeyFromSpki(Buffer.from(spki))).toBe(k); // cached
  });

  it('a compressed EC point is imported through the SPKI path', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const jwk = k.export({ format: 'jwk' });
    const x = Buffer.from(jwk.x!, 'base64url');
    const y = Buffer.from(jwk.y!, 'base64url');
    const compressed = Buffer.concat([Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'), Buffer.from([0x02 | (y[31]! & 1)]), x]);
    expect(same(publicKeyFromSpki(compressed), k)).toBe(true);
  });

  it('on mutated input, the outcome (key or error) is the one of the SPKI import', () => {
    for (const key of [generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey]) {
      const spki = spkiOf(key);
      const inputs = [Buffer.concat([spki, Buffer.from([0])]), spki.subarray(0, spki.length - 1)];
      for (let i = 0; i < spki.length; i += 3) {
        const m = Buffer.from(spki);
        m[i] = m[i]! ^ (i % 2 ? 0x01 : 0x80);
        inputs.push(m);
      }
      for (const input of inputs) {
        expect(outcome(() => publicKeyFromSpki(input))).toBe(outcome(() => createPublicKey({ key: input, format: 'der', type: 'spki' })));
      }
    }
  });
});
