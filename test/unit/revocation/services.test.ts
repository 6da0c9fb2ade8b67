/**
 * CrlService and OcspResponder against a real SQLite store and a CA made by openssl (signer on
 * node:crypto), checked with openssl: numbering, persistence across restarts, debounce,
 * revocations seen through the store, nonce handling and cache invalidation, and two nodes
 * sharing one database where only the holder of the CRL lease generates.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Issuer, IssuerRegistry } from '../../../src/core/issuers.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { LeaseKeeper } from '../../../src/core/leases.js';
import { readHeader } from '../../../src/pki/der.js';
import { crlLeadership, followStoreChanges } from '../../../src/revocation/crl/leader.js';
import { CrlService, heldSerials } from '../../../src/revocation/crl/service.js';
import { OcspResponder } from '../../../src/revocation/ocsp/responder.js';
import { SqliteStore } from '../../../src/store/index.js';
import type { AuditInput, CertificateRecord } from '../../../src/store/types.js';
import { hasCommand, run } from '../../helpers/flintca.js';
import { requireTool, tempDir } from '../../helpers/tmp.js';
import { caFixture, SERIAL } from './ca-fixture.js';

const tmp = tempDir('flintca-revsvc-');
const enabled = requireTool(hasCommand('openssl'), 'openssl');
let issuer: Issuer;
let registry: IssuerRegistry;
let store: SqliteStore;
const audit: AuditInput[] = [];
const f = (n: string) => join(tmp.path, n);

beforeAll(async () => {
  if (!enabled) return;
  ({ issuer, registry, store } = await caFixture(tmp.path));
});
afterAll(async () => {
  await store?.close();
  tmp.cleanup();
});

const auditSink = { record: async (...e: AuditInput[]) => (audit.push(...e), []) };
const crlText = (der: Buffer) => {
  writeFileSync(f('x.crl'), der);
  const v = run('openssl', ['crl', '-inform', 'DER', '-in', f('x.crl'), '-CAfile', f('ca.pem'), '-verify', '-noout']);
  expect(v.stdout + v.stderr).toMatch(/verify OK/);
  return run('openssl', ['crl', '-inform', 'DER', '-in', f('x.crl'), '-noout', '-text']).stdout;
};

describe('CrlService', () => {
  it('generates, persists, picks up store changes, and regenerates on revocation (debounced)', async () => {
    if (!enabled) return;
    const svc = new CrlService({ issuers: registry, store, audit: auditSink, clock: () => new Date() }, { debounceMs: 50, pollMs: 60_000 });
    await svc.start();
    const first = await svc.get('issuing');
    expect(first.number).toBe(1n);
    expect(crlText(first.der)).toMatch(/No Revoked Certificates/);
    expect(audit.some((a) => a.action === 'crl.generate')).toBe(true);
    // A second instance (restart / other node) serves the stored CRL without re-signing.
    const other = new CrlService({ issuers: registry, store, audit: auditSink, clock: () => new Date() }, { pollMs: 60_000 });
    await other.refresh('issuing');
    expect((await other.get('issuing')).number).toBe(1n);
    // Revocation written to the store by someone else: refresh notices the changed set.
    await store.certificates.setStatus({ serial: SERIAL, status: 'hold', revokedAt: new Date(), reason: 6, fromStatuses: ['valid'] });
    await other.refresh('issuing');
    const second = await other.get('issuing');
    expect(second.number).toBe(2n);
    expect(crlText(second.der)).toMatch(/Certificate Hold/);
    // The first instance hears about it via onRevocation (debounced) and moves on to a newer number.
    const rec = (await store.certificates.get(SERIAL))!;
    svc.onRevocation(rec);
    svc.onRevocation(rec);
    await new Promise((r) => setTimeout(r, 300));
    const third = await svc.get('issuing');
    expect(third.number).toBeGreaterThan(2n);
    const delta = await svc.get('issuing', 'delta');
    expect(crlText(delta.der)).toMatch(/Delta CRL Indicator: critical/);
    // Released from hold: gone from the next full CRL, listed as removeFromCRL in its delta (§5.3.1).
    await store.certificates.setStatus({ serial: SERIAL, status: 'valid', revokedAt: null, reason: null, fromStatuses: ['hold'] });
    await svc.generate('issuing');
    expect(crlText((await svc.get('issuing')).der)).toMatch(/No Revoked Certificates/);
    const released = crlText((await svc.get('issuing', 'delta')).der);
    expect(released).toMatch(/Remove From CRL/);
    expect(released.toLowerCase()).toContain(SERIAL);
    await svc.close();
    await other.close();
  });
});

describe('OcspResponder', () => {
  const ocspReq = (extra: string[]) => {
    expect(run('openssl', ['ocsp', ...extra, '-issuer', f('ca.pem'), '-cert', f('leaf.pem'), '-reqout', f('req.der')]).code).toBe(0);
    return readFileSync(f('req.der'));
  };
  const check = (der: Buffer) => {
    writeFileSync(f('resp.der'), der);
    const r = run('openssl', ['ocsp', '-respin', f('resp.der'), '-issuer', f('ca.pem'), '-CAfile', f('ca.pem'), '-resp_text']);
    expect(r.stdout + r.stderr).toMatch(/Response verify OK/);
    return r.stdout;
  };

  it('answers good, caches nonce-less responses, drops them on revocation, signs nonce requests live', async () => {
    if (!enabled) return;
    const responder = new OcspResponder({ issuers: registry, store, clock: () => new Date() }, { cacheTtlMs: 60_000 });
    const plain = ocspReq(['-no_nonce']);
    const a = await responder.respond(plain);
    expect(check(a.der)).toMatch(/Cert Status: good/);
    expect(a.cacheable).toBe(true);
    expect((await responder.respond(plain)).der.equals(a.der)).toBe(true); // cached
    await store.certificates.setStatus({ serial: SERIAL, status: 'revoked', revokedAt: new Date(), reason: 4, fromStatuses: ['valid'] });
    expect((await responder.respond(plain)).der.equals(a.der)).toBe(true); // still cached (TTL) ...
    responder.onRevocation((await store.certificates.get(SERIAL))!);
    const b = await responder.respond(plain); // ... until invalidated
    const text = check(b.der);
    expect(text).toMatch(/Cert Status: revoked/);
    expect(text).toMatch(/Revocation Reason: superseded/);
    const withNonce = await responder.respond(ocspReq(['-nonce']));
    expect(withNonce.cacheable).toBe(false);
    expect(check(withNonce.der)).toMatch(/OCSP Nonce/);
    const sha256 = await responder.respond(ocspReq(['-no_nonce', '-sha256']));
    expect(check(sha256.der)).toMatch(/Hash Algorithm: sha256[\s\S]*Cert Status: revoked/);
    expect((await responder.respond(Buffer.from('nope'))).status).toBe(1);
  });
});

describe('CrlService partitions (RFC 5280 §5.2.5)', () => {
  it('publishes N partition CRLs by serial bucket, each with a critical IDP naming its URL and onlyContainsUserCerts', async () => {
    if (!enabled) return;
    const pstore = SqliteStore.open(f('parts.db'));
    const leaf = parseCertificate(readFileSync(f('leaf.pem'), 'utf8'));
    // 0x3a = 58: bucket 58 % 4 = 2. A second revoked serial lands in bucket 0x41 % 4 = 1; CA certificates never land in a partition.
    const base = { issuerId: 'issuing', subject: 'CN=leaf', sans: [], notBefore: leaf.notBefore, notAfter: leaf.notAfter, profile: 't', requester: 't', protocol: 'cli' as const, status: 'revoked' as const, revokedAt: new Date(), revocationReason: 1, der: leaf.der, createdAt: new Date(), replaces: null };
    await pstore.certificates.insert({ ...base, serial: SERIAL });
    await pstore.certificates.insert({ ...base, serial: '4100ff' });
    await pstore.certificates.insert({ ...base, serial: issuer.cert.serialHex });
    const url = (ca: string, k: number) => `http://ca.test/crl/${ca}-p${k}.crl`;
    const svc = new CrlService({ issuers: registry, store: pstore, audit: auditSink, clock: () => new Date() }, { pollMs: 60_000, partitions: 4, partitionUrl: url });
    await svc.start();
    const full = crlText((await svc.get('issuing', 'full')).der).toLowerCase();
    expect(full).toContain(SERIAL);
    expect(full).toContain('4100ff');
    expect(full).not.toMatch(/issuing distribution point/);
    const texts = await Promise.all([0, 1, 2, 3].map(async (k) => crlText((await svc.get('issuing', `p${k}`)).der)));
    for (const [k, t] of texts.entries()) {
      expect(t).toMatch(/X509v3 Issuing Distribution Point: critical/);
      expect(t).toContain(`URI:${url('issuing', k)}`);
      expect(t).toMatch(/Only User Certificates/);
      expect(t.toLowerCase()).not.toContain(issuer.cert.serialHex.toLowerCase());
    }
    expect(texts[2]!.toLowerCase()).toContain(SERIAL);
    expect(texts[1]!.toLowerCase()).toContain('4100ff');
    expect(texts[0]).toMatch(/No Revoked Certificates/);
    expect(texts[3]).toMatch(/No Revoked Certificates/);
    await expect(svc.get('issuing', 'p4')).rejects.toThrow(/partition/);
    // Persisted: a restarted service serves the same partition CRL.
    const again = new CrlService({ issuers: registry, store: pstore, audit: auditSink, clock: () => new Date() }, { pollMs: 60_000, partitions: 4, partitionUrl: url });
    await again.start();
    expect((await again.get('issuing', 'p2')).der.equals((await svc.get('issuing', 'p2')).der)).toBe(true);
    await svc.close();
    await again.close();
    await pstore.close();
  });
});

describe('CrlService at scale', () => {
  it('streams several store pages into one CRL and keeps certificates expired for less than a CRL period (RFC 5280 §3.3)', async () => {
    if (!enabled) return;
    const big = SqliteStore.open(f('big.db'));
    const now = Date.now();
    const base = { issuerId: 'issuing', subject: 'CN=x', sans: [], notBefore: new Date(now - 3 * 86400_000), notAfter: new Date(now + 86400_000), profile: 't', requester: 't', protocol: 'cli' as const, status: 'revoked' as const, revokedAt: new Date(now - 1000), revocationReason: 1, der: Buffer.from('00', 'hex'), createdAt: new Date(now), replaces: null };
    await Promise.all(Array.from({ length: 12_345 }, (_, i) => big.certificates.insert({ ...base, serial: (0x5000000 + i * 3).toString(16) })));
    await big.certificates.insert({ ...base, serial: 'e1', notAfter: new Date(now - 3600_000) }); // expired an hour ago: still listed
    await big.certificates.insert({ ...base, serial: 'e2', notAfter: new Date(now - 2 * 86400_000) }); // expired two days ago: dropped
    await big.certificates.insert({ ...base, serial: 'e3', status: 'hold', revocationReason: null });
    const svc = new CrlService({ issuers: registry, store: big, audit: auditSink, clock: () => new Date() }, { pollMs: 60_000, validityMs: 86400_000 });
    const crl = (await svc.generate('issuing'))!;
    crlText(crl.der); // openssl verifies it (its text is too long to read back whole)
    const serials: string[] = [];
    const tbs = readHeader(crl.der, readHeader(crl.der).contentStart);
    let pos = tbs.contentStart;
    for (let i = 0; i < 5; i++) pos = readHeader(crl.der, pos).end; // version … nextUpdate
    const list = readHeader(crl.der, pos);
    for (let p = list.contentStart; p < list.end; p = readHeader(crl.der, p).end) {
      const serial = readHeader(crl.der, readHeader(crl.der, p).contentStart);
      serials.push(crl.der.toString('hex', serial.contentStart, serial.end));
    }
    expect(serials.length).toBe(12_345 + 2);
    expect(serials).toContain('00e1'); // INTEGER: a 00 octet keeps it positive
    expect(serials).not.toContain('00e2');
    expect(heldSerials(crl.der)).toEqual(['e3']);
    await svc.close();
    await big.close();
  });
});

describe('CrlService on two nodes sharing one database (lease crl:<ca>)', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function until(cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await sleep(25);
    }
  }
  const leafRecord = (): CertificateRecord => {
    const leaf = parseCertificate(readFileSync(f('leaf.pem'), 'utf8'));
    return { serial: SERIAL, issuerId: 'issuing', subject: 'CN=leaf', sans: [], notBefore: leaf.notBefore, notAfter: leaf.notAfter, profile: 't', requester: 't', protocol: 'cli', status: 'valid', revokedAt: null, revocationReason: null, der: leaf.der, createdAt: new Date(), replaces: null };
  };
  /** One node: its own connection, lease keeper, audit records and CRL service. */
  async function node(file: string, id: string, o: { missingWaitMs?: number } = {}) {
    const st = SqliteStore.open(file);
    const keeper = new LeaseKeeper(st.leases, id);
    const generated: AuditInput[] = [];
    const leader = await crlLeadership(keeper, ['issuing'], 600);
    const svc = new CrlService({ issuers: registry, store: st, audit: { record: async (...e: AuditInput[]) => (generated.push(...e), []) }, clock: () => new Date(), leader }, { debounceMs: 20, pollMs: 100, ...o });
    const unfollow = followStoreChanges(st, svc, (ca) => ca === 'issuing');
    const close = async () => (unfollow(), await svc.close(), await keeper.close(), await st.close());
    return { st, keeper, svc, generated, close };
  }

  it('only the leader generates; the follower serves its CRLs and takes over when it goes away', async () => {
    if (!enabled) return;
    const file = f('ha.db');
    const seed = SqliteStore.open(file);
    await seed.certificates.insert(leafRecord());
    await seed.close();
    const a = await node(file, 'node-a');
    const b = await node(file, 'node-b');
    expect(a.keeper.holds('crl:issuing')).toBe(true);
    expect(b.keeper.holds('crl:issuing')).toBe(false);
    await a.svc.start();
    await b.svc.start();
    expect((await b.svc.get('issuing')).number).toBe((await a.svc.get('issuing')).number);
    expect(a.generated.filter((e) => e.action === 'crl.generate')).toHaveLength(1);
    const n1 = (await a.svc.get('issuing')).number;

    // Revoked through node B: B does not generate; A's store poll sees the change, B picks A's CRL up.
    await b.st.certificates.setStatus({ serial: SERIAL, status: 'revoked', revokedAt: new Date(), reason: 1, fromStatuses: ['valid'] });
    b.svc.onRevocation((await b.st.certificates.get(SERIAL))!);
    await until(async () => (await b.svc.get('issuing')).number > n1);
    expect(crlText((await b.svc.get('issuing')).der).toLowerCase()).toContain(SERIAL);
    await until(() => a.generated.filter((e) => e.action === 'crl.generate').length === 2); // audited just after saving
    expect(b.generated.filter((e) => e.action === 'crl.generate')).toHaveLength(0);

    // A shuts down (releases its lease): B leads within a ttl and generates for the next change.
    await a.close();
    await until(() => b.keeper.holds('crl:issuing'), 1000);
    const n2 = (await b.svc.get('issuing')).number;
    await b.st.certificates.setStatus({ serial: SERIAL, status: 'valid', revokedAt: null, reason: null, fromStatuses: ['revoked'] });
    await until(async () => (await b.svc.get('issuing')).number > n2);
    await until(() => b.generated.filter((e) => e.action === 'crl.generate').length === 1);
    expect(crlText((await b.svc.get('issuing')).der)).toMatch(/No Revoked Certificates/);
    await b.close();
  });

  it('no CRL yet: a follower answers unavailable while another node holds the lease, and generates once no one does', async () => {
    if (!enabled) return;
    const file = f('ha-empty.db');
    const holder = SqliteStore.open(file);
    const silent = new LeaseKeeper(holder.leases, 'node-silent'); // holds the lease, never generates
    expect(await silent.hold('crl:issuing', { ttlMs: 60_000 })).toBe(true);
    const b = await node(file, 'node-b', { missingWaitMs: 300 });
    await b.svc.start();
    await expect(b.svc.get('issuing')).rejects.toMatchObject({ kind: 'unavailable', retryAfter: 5 });
    expect(b.generated).toHaveLength(0);
    await silent.close();
    await holder.close();
    const crl = await b.svc.get('issuing'); // claims the free lease at once and generates
    expect(b.keeper.holds('crl:issuing')).toBe(true);
    expect(crlText(crl.der)).toMatch(/No Revoked Certificates/);
    await b.close();
  });
});
