/**
 * The SCEP CMS pieces (pki/cms-read.ts, pki/cms-write.ts) checked against openssl cms in both
 * directions, and against a captured scepclient message; the readers never throw anything but
 * FlintError on mutated input.
 */
import { constants, createCipheriv, privateDecrypt, randomBytes, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FlintError } from '../../../src/errors/index.js';
import { parseEnvelopeDer, parseSignedMessageDer } from '../../../src/pki/cms-der.js';
import { attrOctets, attrString, certRef, decryptContent, parseEnvelope, parseEnvelopeBer, parseSignedMessage, parseSignedMessageBer, recipientFor, signedDataCertificates, verifySignedMessage } from '../../../src/pki/cms-read.js';
import { buildCertsOnly, buildEnvelope, buildSignedMessage, printableAttr } from '../../../src/pki/cms-write.js';
import { hasCommand, run } from '../../helpers/flintca.js';
import { requireTool, tempDir } from '../../helpers/tmp.js';

const tmp = tempDir('flintca-cms-');
afterAll(() => tmp.cleanup());
const f = (n: string) => join(tmp.path, n);
const enabled = requireTool(hasCommand('openssl'), 'openssl');
const FIXTURE = readFileSync(join(import.meta.dirname, '../../fixtures/scep/pkcsreq-scepclient-2.1.der'));

/** An RSA key + self-signed certificate made by openssl. */
function identity(name: string): { key: string; cert: string; certDer: Buffer } {
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`), '-subj', `/CN=${name}`, '-days', '1']);
  run('openssl', ['x509', '-in', f(`${name}.pem`), '-outform', 'DER', '-out', f(`${name}.der`)]);
  return { key: f(`${name}.key`), cert: f(`${name}.pem`), certDer: readFileSync(f(`${name}.der`)) };
}

/** PKCS#1 v1.5 unpadding by hand (node 20 refuses RSA_PKCS1_PADDING for private decryption). */
function rsaDecrypt(keyFile: string, c: Buffer): Buffer {
  const em = privateDecrypt({ key: readFileSync(keyFile, 'utf8'), padding: constants.RSA_NO_PADDING }, c);
  return em.subarray(em.indexOf(0, 2) + 1);
}

describe.runIf(enabled)('SCEP CMS against openssl', () => {
  const bob = identity('bob');

  it.each(['aes-256-cbc', 'aes-128-cbc', 'des-ede3-cbc'] as const)('buildEnvelope (%s) decrypts with openssl cms -decrypt', (cipher) => {
    const content = randomBytes(700);
    writeFileSync(f('env.der'), buildEnvelope(content, bob.certDer, cipher));
    const r = run('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', f('env.der'), '-recip', bob.cert, '-inkey', bob.key, '-binary', '-out', f('env.out')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(f('env.out')).equals(content)).toBe(true);
  });

  it.each([['-aes256'], ['-aes128'], ['-des3']])('openssl cms -encrypt %s opens with parseEnvelope + decryptContent', (flag) => {
    const content = randomBytes(333);
    writeFileSync(f('plain.bin'), content);
    const r = run('openssl', ['cms', '-encrypt', '-binary', flag, '-in', f('plain.bin'), '-outform', 'DER', '-out', f('enc.der'), bob.cert]);
    expect(r.code, r.stderr).toBe(0);
    const env = parseEnvelope(readFileSync(f('enc.der')));
    const ri = recipientFor(env, certRef(bob.certDer))!;
    expect(ri).toBeDefined();
    const key = rsaDecrypt(bob.key, ri.encryptedKey);
    expect(decryptContent(env.contentEncryptionOid, key, env.iv, env.encryptedContent).equals(content)).toBe(true);
    const alice = identity('alice');
    expect(recipientFor(env, certRef(alice.certDer))).toBeUndefined();
    // The DER walker reads openssl's DER exactly as the asn1js path does.
    expect(parseEnvelopeDer(readFileSync(f('enc.der')))).toEqual(parseEnvelopeBer(readFileSync(f('enc.der'))));
  });

  it('openssl cms -encrypt -stream (BER, indefinite lengths) opens through the asn1js path', () => {
    const content = randomBytes(333);
    writeFileSync(f('plain.bin'), content);
    const r = run('openssl', ['cms', '-encrypt', '-binary', '-stream', '-aes256', '-in', f('plain.bin'), '-outform', 'DER', '-out', f('enc-ber.der'), bob.cert]);
    expect(r.code, r.stderr).toBe(0);
    const ber = readFileSync(f('enc-ber.der'));
    expect(parseEnvelopeDer(ber)).toBeUndefined();
    const env = parseEnvelope(ber);
    const key = rsaDecrypt(bob.key, recipientFor(env, certRef(bob.certDer))!.encryptedKey);
    expect(decryptContent(env.contentEncryptionOid, key, env.iv, env.encryptedContent).equals(content)).toBe(true);
  });

  it('buildSignedMessage verifies with openssl cms -verify; its certs-only content lists the certificates', async () => {
    const content = buildCertsOnly([bob.certDer]);
    const der = await buildSignedMessage({
      content,
      certificates: [bob.certDer],
      signerCertDer: bob.certDer,
      digest: 'sha256',
      attributes: [printableAttr('2.16.840.1.113733.1.9.7', 'tx-1')],
      signingTime: new Date(),
      sign: async (attrs) => sign('sha256', attrs, { key: readFileSync(bob.key, 'utf8'), padding: constants.RSA_PKCS1_PADDING }),
    });
    writeFileSync(f('signed.der'), der);
    const r = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', f('signed.der'), '-CAfile', bob.cert, '-purpose', 'any', '-binary', '-out', f('signed.out')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(f('signed.out')).equals(content)).toBe(true);
    const m = parseSignedMessage(der);
    expect(verifySignedMessage(m)).toBeUndefined();
    expect(attrString(m, '2.16.840.1.113733.1.9.7')).toBe('tx-1');
    expect(signedDataCertificates(m.content)[0]!.equals(bob.certDer)).toBe(true);
  });

  it('reads and verifies an openssl cms -sign message; a flipped content byte fails the messageDigest check', () => {
    writeFileSync(f('data.bin'), randomBytes(100));
    const r = run('openssl', ['cms', '-sign', '-binary', '-nodetach', '-md', 'sha512', '-in', f('data.bin'), '-signer', bob.cert, '-inkey', bob.key, '-outform', 'DER', '-out', f('osign.der')]);
    expect(r.code, r.stderr).toBe(0);
    const der = readFileSync(f('osign.der'));
    const m = parseSignedMessage(der);
    expect(m.signer.digest).toBe('sha512');
    expect(verifySignedMessage(m)).toBeUndefined();
    m.content[0] = m.content[0]! ^ 1;
    expect(verifySignedMessage(m)).toMatch(/messageDigest/);
    // -stream writes BER with indefinite lengths: the asn1js path reads what the DER walker cannot.
    const s = run('openssl', ['cms', '-sign', '-binary', '-nodetach', '-stream', '-in', f('data.bin'), '-signer', bob.cert, '-inkey', bob.key, '-outform', 'DER', '-out', f('ostream.der')]);
    expect(s.code, s.stderr).toBe(0);
    const ber = readFileSync(f('ostream.der'));
    expect(ber[1]).toBe(0x80);
    const mb = parseSignedMessage(ber);
    expect(verifySignedMessage(mb)).toBeUndefined();
    expect(mb.content.equals(readFileSync(f('data.bin')))).toBe(true);
  });
});

describe('captured scepclient PKCSReq', () => {
  it('parses and verifies: SHA-1 signer, messageType 19, DES-CBC envelope', () => {
    const m = parseSignedMessage(FIXTURE);
    expect(verifySignedMessage(m)).toBeUndefined();
    expect(m.signer.digest).toBe('sha1');
    expect(attrString(m, '2.16.840.1.113733.1.9.2')).toBe('19');
    expect(parseEnvelope(m.content).contentEncryptionOid).toBe('1.3.14.3.2.7');
  });

  it('the DER walker and the asn1js path read it identically (signer, attributes, envelope)', () => {
    const fast = parseSignedMessageDer(FIXTURE)!;
    expect(fast).toBeDefined();
    const slow = parseSignedMessageBer(FIXTURE);
    expect(fast).toEqual(slow);
    for (const oid of ['2.16.840.1.113733.1.9.2', '2.16.840.1.113733.1.9.7']) expect(attrString(fast, oid)).toBe(attrString(slow, oid));
    expect(attrOctets(fast, '2.16.840.1.113733.1.9.5')!.length).toBe(16);
    expect(parseEnvelopeDer(fast.content)).toEqual(parseEnvelopeBer(fast.content));
  });

  it('never throws anything but FlintError on truncated or corrupted input', () => {
    for (let cut = 0; cut < FIXTURE.length; cut += 37) {
      for (const input of [FIXTURE.subarray(0, cut), Buffer.concat([FIXTURE.subarray(0, cut), Buffer.from([0xff, 0x00]), FIXTURE.subarray(cut + 2)])]) {
        try {
          const m = parseSignedMessage(input);
          verifySignedMessage(m);
          for (const oid of m.signer.attributes.keys()) [attrString(m, oid), attrOctets(m, oid)];
          parseEnvelope(m.content);
        } catch (e) {
          expect(e).toBeInstanceOf(FlintError);
        }
      }
    }
  });

  it('single DES decrypts through DES-EDE3 with K|K|K (OpenSSL 3 default provider has no des-cbc)', () => {
    // FIPS 81 / NBS test vector: key 0123456789abcdef, IV 1234567890abcdef, "Now is the time for all " (CBC).
    const key = Buffer.from('0123456789abcdef', 'hex');
    const iv = Buffer.from('1234567890abcdef', 'hex');
    const plain = Buffer.from('Now is the time for all ', 'latin1');
    const ct = Buffer.from('e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6', 'hex');
    // decryptContent strips PKCS#7 padding: append one padding block encrypted the same way.
    const c = createCipheriv('des-ede3-cbc', Buffer.concat([key, key, key]), iv);
    const full = Buffer.concat([c.update(plain), c.final()]);
    expect(full.subarray(0, 24).equals(ct)).toBe(true);
    expect(decryptContent('1.3.14.3.2.7', key, iv, full).equals(plain)).toBe(true);
  });
});
