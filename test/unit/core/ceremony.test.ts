/**
 * Ceremony signing steps with real node:crypto keys (the Signer interface, no HSM): deterministic
 * TBS (same inputs → same bytes apart from serial and key), CSRs that our parser verifies, and
 * certificates/CRLs checked by node's X509Certificate.
 */
import { generateKeyPairSync, sign as nodeSign, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeCsr, rootTbs, selfSignRoot, signOfflineCrl, signSubordinate } from '../../../src/core/ceremony.js';
import type { Signer } from '../../../src/keys/types.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { crlSignatureValid, parseCrl } from '../../../src/pki/crl-parse.js';
import { parseCsr, verifyCsrSignature } from '../../../src/pki/csr.js';

function signer(): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    keyUri: 'file:test', keyType: 'P-256', algorithm: 'ecdsa-sha256', publicKeyObject: publicKey,
    publicKey: publicKey.export({ type: 'spki', format: 'der' }),
    sign: async (tbs) => nodeSign('sha256', tbs, privateKey),
  };
}

const fields = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2036-01-01T00:00:00Z'), pathLength: 1, policies: ['1.3.6.1.4.1.55555.1.1'], nameConstraints: { permittedDns: ['.internal'] } };
const subject = [{ type: 'C', value: 'US' }, { type: 'CN', value: 'Test Root' }];

describe('ceremony signing steps', () => {
  it('root TBS is deterministic: same file, same serial and key → same bytes', () => {
    const s = signer();
    const serial = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
    expect(rootTbs(serial, s, subject, fields).equals(rootTbs(serial, s, subject, fields))).toBe(true);
    expect(rootTbs(Buffer.from('11', 'hex'), s, subject, fields).equals(rootTbs(serial, s, subject, fields))).toBe(false);
  });

  it('root → CSR → subordinate → OCSP signer → CRL verify with independent code', async () => {
    const r = signer();
    const rootDer = await selfSignRoot(Buffer.from('01', 'hex'), r, subject, fields);
    const rootX = new X509Certificate(rootDer);
    expect(rootX.verify(rootX.publicKey)).toBe(true);
    expect(rootX.ca).toBe(true);
    const root = parseCertificate(rootDer);
    expect(root.pathLen).toBe(1);

    const sub = signer();
    const csr = parseCsr(await makeCsr(sub, [{ type: 'CN', value: 'Issuing' }]));
    expect(verifyCsrSignature(csr)).toBe(true);
    const subDer = await signSubordinate(Buffer.from('02', 'hex'), r, root, csr.subjectPublicKeyInfo, { attrs: csr.subject, der: csr.subjectDer }, {
      ca: { notBefore: fields.notBefore, notAfter: new Date('2031-01-01T00:00:00Z'), pathLength: 0, crlUrl: 'http://localhost/crl/root.crl' },
    });
    const subX = new X509Certificate(subDer);
    expect(subX.verify(rootX.publicKey)).toBe(true);
    expect(subX.checkIssued(rootX)).toBe(true);

    const ocsp = signer();
    const ocspDer = await signSubordinate(Buffer.from('03', 'hex'), r, root, ocsp.publicKey, { attrs: [{ type: 'CN', value: 'OCSP' }] }, { ocsp: { notBefore: fields.notBefore, notAfter: fields.notAfter } });
    expect(parseCertificate(ocspDer).extKeyUsage).toEqual(['1.3.6.1.5.5.7.3.9']);

    const crlDer = await signOfflineCrl(r, root, { number: 7, thisUpdate: fields.notBefore, nextUpdate: new Date('2027-01-01T00:00:00Z'), entries: [{ serial: '02', revokedAt: fields.notBefore, reason: 1 }] });
    const crl = parseCrl(crlDer);
    expect(crl.number).toBe(7n);
    expect(crl.revokedSerials).toEqual(['02']);
    expect(crl.issuerDer.equals(root.subjectDer)).toBe(true);
    expect(crlSignatureValid(crlDer, root.subjectPublicKeyInfo)).toBe(true);
    expect(crlSignatureValid(crlDer, sub.publicKey)).toBe(false);
  });

  it('refuses a key that does not belong to the issuer certificate, and validity past the issuer', async () => {
    const r = signer();
    const root = parseCertificate(await selfSignRoot(Buffer.from('01', 'hex'), r, subject, fields));
    const other = signer();
    await expect(signSubordinate(Buffer.from('02', 'hex'), other, root, other.publicKey, { attrs: subject }, { ca: fields })).rejects.toThrow(/does not belong to issuer.certificate/);
    await expect(signSubordinate(Buffer.from('02', 'hex'), r, root, other.publicKey, { attrs: subject }, { ca: { ...fields, notAfter: new Date('2040-01-01T00:00:00Z') } })).rejects.toThrow(/validity.notAfter/);
  });
});
