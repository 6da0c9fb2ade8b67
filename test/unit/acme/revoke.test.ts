/** §7.6 revokeCert: by the ordering account (kid) or by the certificate key (jwk). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, importPKCS8 } from 'jose';
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeSerial } from '../../../src/core/serial.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { derOrPem } from '../../../src/pki/pem.js';
import { hasCommand, run } from '../../helpers/flintca.js';
import { requireTool } from '../../helpers/tmp.js';
import { tempDir } from '../../helpers/tmp.js';
import { BASE, harness, newKey, type Harness, type Key } from './harness.js';

const ERR = 'urn:ietf:params:acme:error:';

describe.skipIf(!requireTool(hasCommand('openssl'), 'openssl'))('ACME revokeCert', () => {
  const tmp = tempDir('flintca-acme-revoke-');
  let h: Harness;
  let owner: Key;
  let ownerKid: string;
  let certKey: Key;
  let certB64 = '';
  let serial = '';

  beforeAll(async () => {
    h = await harness();
    owner = await newKey();
    ownerKid = await h.account(owner);
    const r = run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=r.example',
      '-keyout', join(tmp.path, 'k.pem'), '-out', join(tmp.path, 'c.pem')]);
    expect(r.code, r.stderr).toBe(0);
    const keyPem = readFileSync(join(tmp.path, 'k.pem'), 'utf8');
    certKey = { priv: await importPKCS8(keyPem, 'ES256', { extractable: true }), jwk: await exportJWK(createPublicKey(keyPem)), alg: 'ES256' };
    const der = derOrPem(readFileSync(join(tmp.path, 'c.pem'), 'utf8'), 'CERTIFICATE');
    certB64 = der.toString('base64url');
    const parsed = parseCertificate(der);
    serial = normalizeSerial(parsed.serialHex); // as the store keys it (a serial may start with a 0 nibble)
    const now = new Date();
    await h.store.certificates.insert({
      serial, issuerId: 'issuing', subject: 'CN=r.example', sans: [], notBefore: now, notAfter: now, profile: 'tls-server', requester: 'acme:x',
      protocol: 'acme', status: 'valid', revokedAt: null, revocationReason: null, der, createdAt: now, replaces: null,
    });
    const acctId = ownerKid.split('/').pop()!;
    await h.store.acme.createOrder({ id: 'o1', accountId: acctId, status: 'valid', identifiers: [{ type: 'dns', value: 'r.example' }], notBefore: null, notAfter: null, expires: now, certSerial: serial, error: null, profile: 'tls-server', replaces: null, createdAt: now }, []);
  });
  afterAll(async () => {
    await h.close();
    tmp.cleanup();
  });

  const revoke = async (k: Key, payload: unknown, kid?: string) => h.post('/revoke-cert', await h.jws(k, '/revoke-cert', payload, kid ? { kid } : {}));

  it('refuses other accounts, other keys and bad reasons', async () => {
    const stranger = await newKey();
    const strangerKid = await h.account(stranger);
    expect(JSON.parse((await revoke(stranger, { certificate: certB64 }, strangerKid)).text).type).toBe(ERR + 'unauthorized');
    expect(JSON.parse((await revoke(stranger, { certificate: certB64 })).text).type).toBe(ERR + 'unauthorized');
    expect(JSON.parse((await revoke(owner, { certificate: certB64, reason: 7 }, ownerKid)).text).type).toBe(ERR + 'badRevocationReason');
    expect(JSON.parse((await revoke(owner, { certificate: 'AAAA' }, ownerKid)).text).type).toBe(ERR + 'malformed');
    expect(h.revoked).toEqual([]);
  });

  it('revokes with the certificate key (jwk), then reports alreadyRevoked', async () => {
    const r = await revoke(certKey, { certificate: certB64, reason: 1 });
    expect(r.status, r.text).toBe(200);
    expect(r.headers['replay-nonce']).toBeTruthy();
    expect(h.revoked).toEqual([serial]);
    const again = await revoke(owner, { certificate: certB64 }, ownerKid);
    expect(again.status).toBe(400);
    expect(JSON.parse(again.text).type).toBe(ERR + 'alreadyRevoked');
    expect(BASE).toMatch(/^https:/);
  });
});
