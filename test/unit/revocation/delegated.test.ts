/**
 * Delegated OCSP responders (RFC 6960 §4.2.2.2) through the real Authority and the shipped
 * `ocsp-responder` profile: the certificate's extensions, reuse across restarts (found in the
 * store), automatic re-issue when less than a third of its life is left, responses openssl accepts
 * with only the CA as trust anchor, and two nodes on one store: only the lease holder issues, the
 * other uses the same certificate, and takes over issuance when the holder goes away.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authority } from '../../../src/core/authority.js';
import { LeaseKeeper } from '../../../src/core/leases.js';
import type { Issuer, IssuerRegistry } from '../../../src/core/issuers.js';
import { publicUrls } from '../../../src/core/ports.js';
import type { Signer } from '../../../src/keys/types.js';
import { signatureAlgorithmIdentifier } from '../../../src/pki/algorithms.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { toPem } from '../../../src/pki/pem.js';
import { loadProfiles } from '../../../src/profiles/index.js';
import { DelegatedResponders, renewalDue, responderKeyLabel, responderLeaseName } from '../../../src/revocation/ocsp/delegated.js';
import { OcspResponder } from '../../../src/revocation/ocsp/responder.js';
import { SqliteStore } from '../../../src/store/index.js';
import type { AuditInput } from '../../../src/store/types.js';
import { hasCommand, run } from '../../helpers/flintca.js';
import { requireTool, tempDir } from '../../helpers/tmp.js';

const tmp = tempDir('flintca-ocspdel-');
const enabled = requireTool(hasCommand('openssl'), 'openssl');
const f = (n: string) => join(tmp.path, n);
const DAY = 86_400_000;
let now = Date.now();
const clock = () => new Date(now);
const audit: AuditInput[] = [];
const auditSink = { record: async (...e: AuditInput[]) => (audit.push(...e), []), intent: async () => [], emitted: (e: AuditInput[]) => e };
let issuer: Issuer;
let registry: IssuerRegistry;
let store: SqliteStore;
let authority: Authority;

function softSigner(key: KeyObject, uri: string): Signer {
  const pub = createPublicKey(key);
  return { keyUri: uri, keyType: 'P-256', algorithm: 'ecdsa-sha256', publicKey: pub.export({ type: 'spki', format: 'der' }), publicKeyObject: pub, sign: async (tbs) => sign('sha256', tbs, key) };
}

/** In-memory key store; counts generations. */
const keys = new Map<string, Signer>();
let generated = 0;
const keyStore = {
  find: async (label: string) => keys.get(label),
  generate: async (label: string) => {
    generated++;
    const s = softSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, `file:${label}`);
    keys.set(label, s);
    return s;
  },
};

beforeAll(async () => {
  if (!enabled) return;
  expect(run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-subj', '/CN=Delegation Test CA', '-days', '365', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-out', f('ca.pem')]).code).toBe(0);
  expect(run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('leaf.key'), '-subj', '/CN=leaf', '-out', f('leaf.csr')]).code).toBe(0);
  expect(run('openssl', ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', '0x77', '-days', '1', '-out', f('leaf.pem')]).code).toBe(0);
  const cert = parseCertificate(readFileSync(f('ca.pem'), 'utf8'));
  const signer = softSigner(createPrivateKey(readFileSync(f('ca.key'), 'utf8')), 'file:ca');
  issuer = {
    id: 'issuing',
    record: { id: 'issuing', parentId: null, keyUri: 'file:ca', certDer: cert.der, subject: 'CN=Delegation Test CA', ski: cert.subjectKeyId!.toString('hex'), notBefore: cert.notBefore, notAfter: cert.notAfter, status: 'active', createdAt: new Date() },
    cert,
    signer,
    publicKey: signer.publicKeyObject,
    signatureAlgorithm: 'ecdsa-sha256',
    signatureAlgorithmDer: signatureAlgorithmIdentifier('ecdsa-sha256'),
    chain: [cert.der],
  } as unknown as Issuer;
  registry = { list: () => [issuer], get: (id: string) => { if (id !== 'issuing') throw new Error(`no CA ${id}`); return issuer; }, has: (id: string) => id === 'issuing' } as unknown as IssuerRegistry;
  store = SqliteStore.open(f('s.db'));
  const profiles = loadProfiles(fileURLToPath(new URL('../../../profiles/', import.meta.url)));
  authority = new Authority({ store, audit: auditSink as never, issuers: registry, profiles, defaultIssuer: 'issuing', urls: publicUrls('http://ca.test'), clock, random: (n) => randomBytes(n) });
});
afterAll(async () => {
  await store?.close();
  tmp.cleanup();
});

const deps = () => ({ issuers: registry, keys: keyStore, authority, audit: auditSink, clock, store, dir: f('ocsp') });

describe('renewalDue', () => {
  it('is true once less than a third of the lifetime is left', () => {
    const nb = new Date(0);
    const na = new Date(30 * DAY);
    expect(renewalDue(nb, na, new Date(19 * DAY))).toBe(false);
    expect(renewalDue(nb, na, new Date(21 * DAY))).toBe(true);
  });
});

describe('DelegatedResponders', () => {
  it('issues an OCSPSigning + ocsp-nocheck certificate, reuses it across restarts and re-issues it when due', async () => {
    if (!enabled) return;
    const a = new DelegatedResponders(deps());
    await a.start();
    const id = a.current('issuing')!;
    expect(generated).toBe(1);
    expect(keys.has(responderKeyLabel('issuing'))).toBe(true);
    expect(id.certs).toHaveLength(1);
    writeFileSync(f('responder.pem'), toPem(id.certs[0]!, 'CERTIFICATE'));
    const text = run('openssl', ['x509', '-in', f('responder.pem'), '-noout', '-text']).stdout;
    expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s*OCSP Signing\s*\n/);
    expect(text).toMatch(/OCSP No Check/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s*\n\s*Digital Signature\s*\n/);
    expect(text).toMatch(/Subject: CN ?= ?Delegation Test CA OCSP Responder/);
    expect(id.notAfter.getTime() - id.notBefore.getTime()).toBeLessThanOrEqual(30 * DAY + 61_000);
    expect(audit.filter((e) => e.action === 'ocsp.responder.issue')).toHaveLength(1);
    expect((await store.certificates.list({ issuerId: 'issuing' })).filter((c) => c.profile === 'ocsp-responder')).toHaveLength(1);

    // Restart: same key, same certificate (from the store).
    const b = new DelegatedResponders(deps());
    await b.start();
    expect(b.current('issuing')!.certs[0]!.equals(id.certs[0]!)).toBe(true);
    expect(generated).toBe(1);

    // 21 days later (< 1/3 of 30 d left): current() keeps answering and re-issues in the background.
    now += 21 * DAY;
    expect(b.current('issuing')!.certs[0]!.equals(id.certs[0]!)).toBe(true);
    await b.settle();
    const renewed = b.current('issuing')!;
    expect(renewed.certs[0]!.equals(id.certs[0]!)).toBe(false);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(id.notAfter.getTime());
    expect(renewed.keyHash.equals(id.keyHash)).toBe(true); // same key, new certificate
    expect(audit.filter((e) => e.action === 'ocsp.responder.issue')).toHaveLength(2);
    now -= 21 * DAY;
    await a.close();
    await b.close();
  });

  it('OcspResponder signs with the responder key; openssl verifies with only the CA as trust anchor', async () => {
    if (!enabled) return;
    const delegated = new DelegatedResponders(deps()); // the certificate valid from day 21 the first test left is not usable yet
    await delegated.start();
    expect(delegated.current('issuing')!.notBefore.getTime()).toBeLessThanOrEqual(now);
    const responder = new OcspResponder({ issuers: registry, store, clock, delegated });
    expect(run('openssl', ['ocsp', '-no_nonce', '-issuer', f('ca.pem'), '-cert', f('leaf.pem'), '-reqout', f('req.der')]).code).toBe(0);
    const r = await responder.respond(readFileSync(f('req.der')));
    writeFileSync(f('resp.der'), r.der);
    const out = run('openssl', ['ocsp', '-respin', f('resp.der'), '-issuer', f('ca.pem'), '-CAfile', f('ca.pem'), '-resp_text']);
    expect(out.stdout + out.stderr).toMatch(/Response verify OK/);
    expect(out.stdout).toMatch(/OCSP Responder/);
    // responderID byKey = SHA-1 of the responder key, not of the CA key.
    expect(out.stdout).toContain(`Responder Id: ${delegated.current('issuing')!.keyHash.toString('hex').toUpperCase()}`);
    // Without a delegated identity the CA signs (and no certs are attached).
    const caSigned = await new OcspResponder({ issuers: registry, store, clock }).respond(readFileSync(f('req.der')));
    writeFileSync(f('resp2.der'), caSigned.der);
    const out2 = run('openssl', ['ocsp', '-respin', f('resp2.der'), '-issuer', f('ca.pem'), '-CAfile', f('ca.pem'), '-resp_text']);
    expect(out2.stdout + out2.stderr).toMatch(/Response verify OK/);
    expect(out2.stdout).not.toMatch(/OCSP Responder/);
    await delegated.close();
  });

  it('two nodes on one store: the lease holder issues, the other serves the same certificate, then takes over', async () => {
    if (!enabled) return;
    now += 60 * DAY; // every responder certificate so far has expired
    const storeB = SqliteStore.open(f('s.db')); // node B's own connection to the shared database
    const kA = new LeaseKeeper(store.leases, 'node-a');
    const kB = new LeaseKeeper(storeB.leases, 'node-b');
    const issues = () => audit.filter((e) => e.action === 'ocsp.responder.issue').length;
    const before = issues();
    const keysBefore = generated;
    const a = new DelegatedResponders({ ...deps(), leases: kA, leaseMs: 600, pollMs: 100 });
    await a.start();
    const b = new DelegatedResponders({ ...deps(), store: storeB, leases: kB, leaseMs: 600, pollMs: 100 });
    await b.start();
    expect(kA.holds(responderLeaseName('issuing'))).toBe(true);
    expect(kB.holds(responderLeaseName('issuing'))).toBe(false);
    expect(issues()).toBe(before + 1); // only the holder issued
    expect(generated).toBe(keysBefore); // the existing responder key is reused
    const first = a.current('issuing')!;
    expect(b.current('issuing')!.certs[0]!.equals(first.certs[0]!)).toBe(true);

    now += 21 * DAY; // renewal due: the follower does not issue
    b.current('issuing');
    await b.settle();
    expect(issues()).toBe(before + 1);
    await a.close();
    await kA.close(); // node A goes away: B takes the lease and re-issues
    const deadline = Date.now() + 5000;
    while (b.current('issuing')!.certs[0]!.equals(first.certs[0]!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(b.current('issuing')!.certs[0]!.equals(first.certs[0]!)).toBe(false);
    expect(kB.holds(responderLeaseName('issuing'))).toBe(true);
    expect(issues()).toBe(before + 2);
    now -= 81 * DAY;
    await b.close();
    await kB.close();
    await storeB.close();
  });
});
