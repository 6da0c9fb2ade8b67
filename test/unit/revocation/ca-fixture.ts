/**
 * A throwaway P-256 CA made by openssl with a node:crypto signer, a one-CA IssuerRegistry and a
 * real SQLite store holding one valid leaf (serial SERIAL): shared by the revocation service tests.
 */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Issuer, IssuerRegistry } from '../../../src/core/issuers.js';
import { signatureAlgorithmIdentifier } from '../../../src/pki/algorithms.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { SqliteStore } from '../../../src/store/index.js';
import type { CertificateRecord } from '../../../src/store/types.js';
import { run } from '../../helpers/flintca.js';

export const SERIAL = '3a5f0c0ffee1';

export interface CaFixture {
  issuer: Issuer;
  registry: IssuerRegistry;
  store: SqliteStore;
  /** How many signatures the CA key made. */
  signatures: () => number;
  /** The leaf's store record as first inserted (valid). */
  leaf: CertificateRecord;
}

/** Builds the CA, the leaf (serial SERIAL) and the store in dir (ca.pem, ca.key, leaf.pem, s.db). */
export async function caFixture(dir: string): Promise<CaFixture> {
  const f = (n: string) => join(dir, n);
  expect(run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-subj', '/CN=Svc Test CA', '-days', '2', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-out', f('ca.pem')]).code).toBe(0);
  expect(run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('leaf.key'), '-subj', '/CN=leaf', '-out', f('leaf.csr')]).code).toBe(0);
  expect(run('openssl', ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', '0x' + SERIAL, '-days', '1', '-out', f('leaf.pem')]).code).toBe(0);
  const cert = parseCertificate(readFileSync(f('ca.pem'), 'utf8'));
  const key = createPrivateKey(readFileSync(f('ca.key'), 'utf8'));
  const publicKey = createPublicKey(key);
  let signatures = 0;
  const signer = { keyUri: 'file:test', keyType: 'P-256', algorithm: 'ecdsa-sha256', publicKey: cert.subjectPublicKeyInfo, publicKeyObject: publicKey, sign: async (tbs: Uint8Array) => (signatures++, sign('sha256', tbs, key)) } as const;
  const issuer: Issuer = {
    id: 'issuing',
    record: { id: 'issuing', parentId: null, keyUri: 'file:test', certDer: cert.der, subject: 'CN=Svc Test CA', ski: cert.subjectKeyId!.toString('hex'), notBefore: cert.notBefore, notAfter: cert.notAfter, status: 'active', createdAt: new Date() },
    cert,
    signer: signer as unknown as Issuer['signer'],
    publicKey,
    signatureAlgorithm: 'ecdsa-sha256',
    signatureAlgorithmDer: signatureAlgorithmIdentifier('ecdsa-sha256'),
    chain: [cert.der],
  };
  const registry = { list: () => [issuer], get: (id: string) => { if (id !== 'issuing') throw new Error(`no CA ${id}`); return issuer; }, has: (id: string) => id === 'issuing' } as unknown as IssuerRegistry;
  const store = SqliteStore.open(f('s.db'));
  const parsed = parseCertificate(readFileSync(f('leaf.pem'), 'utf8'));
  const leaf: CertificateRecord = { serial: SERIAL, issuerId: 'issuing', subject: 'CN=leaf', sans: [], notBefore: parsed.notBefore, notAfter: parsed.notAfter, profile: 't', requester: 't', protocol: 'cli', status: 'valid', revokedAt: null, revocationReason: null, der: parsed.der, createdAt: new Date(), replaces: null };
  await store.certificates.insert(leaf);
  return { issuer, registry, store, signatures: () => signatures, leaf };
}
