/**
 * High availability (issue 7): three `flintca serve` nodes on one PostgreSQL database and one
 * SoftHSM token directory (the data dir shared as a volume would be), driven by real clients:
 * acme-client rotating over the nodes through a round-robin TCP proxy, EST enrollments from all
 * nodes at once with one node killed -9 in the middle, a revocation seen by the other nodes'
 * OCSP (openssl ocsp) and CRL (openssl crl), and PostgreSQL stopped and started under them.
 */
import * as acme from 'acme-client';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flintca, hasCommand, run, serve, type Served } from '../helpers/flintca.js';
import { normalizeSerial } from '../../src/core/serial.js';
import { estEnroll, http01Responder, loggedRequests, waitFor, type EnrollResult, type Http01Responder } from '../helpers/ha-nodes.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { PgStore } from '../../src/store/postgres/store.js';
import { roundRobin, type RoundRobinProxy } from '../helpers/round-robin.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

const PW = 'est-ha-s3cret';
const N = 3;
/** revocation.leaseSeconds: how long a dead node's CRL lease blocks the others. */
const CRL_LEASE_SECONDS = 3;
const CRL_LEASE = 'crl:issuing';

describe('three nodes on one PostgreSQL', () => {
  const tmp = tempDir('flintca-ha-');
  const data = join(tmp.path, 'data');
  const rootFile = join(data, 'ca/root.crt');
  const issuingFile = join(data, 'ca/issuing.crt');
  const f = (name: string) => join(tmp.path, name);
  const tokens = new Map<string, string>();
  const responders: Http01Responder[] = [];
  const nodes: (Served | undefined)[] = [];
  const proxies: RoundRobinProxy[] = [];
  let cluster: PgCluster | undefined;
  /** The test's own view of the store (leases). */
  let observer: PgStore | undefined;
  let env: NodeJS.ProcessEnv = {};
  let rootPem = '';
  let enabled = true;
  const csrs: string[] = [];
  /** What every node acknowledged during the load (200 + certificate). */
  const acked: EnrollResult[] = [];

  const node = (i: number) => nodes[i]!;
  const startNode = (i: number) => serve(data, ['--acme-http01-port', String(responders[i]!.port)], env);
  const cli = (args: string[]) => flintca([...args, '--data', data], env);
  const listed = () => cli(['list', '--json']).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { serial: string; protocol: string; status: string });
  const readyz = async (i: number) => (await fetch(`http://127.0.0.1:${node(i).httpPort}/readyz`)).status;
  const acmeClient = async (port: number) =>
    new acme.Client({ directoryUrl: `https://localhost:${port}/acme/acme/directory`, accountKey: await acme.crypto.createPrivateEcdsaKey(), backoffMin: 200, backoffMax: 1000, backoffAttempts: 40 });
  /** Lease holders are `hostname:pid:random` (core/leases.ts): the node whose process holds it, or -1. */
  const holderNode = (holder: string | undefined) => nodes.findIndex((n) => n !== undefined && holder?.split(':').at(-2) === String(n.proc.pid));
  const crlHolder = async () => (await observer!.leases.get(CRL_LEASE))?.holder;
  /** The node that logged a POST to a URL ending in `suffix` (log lines are written asynchronously: wait), or -1. */
  const servedBy = async (suffix: string) => {
    const find = () => nodes.findIndex((n) => loggedRequests(n!.logs()).some((q) => q.method === 'POST' && q.url.endsWith(suffix)));
    return (await waitFor(() => (find() >= 0 ? { i: find() } : undefined), 3000, 50))?.i ?? -1;
  };
  const enroll = (i: number, k = 0) => estEnroll({ node: i, port: node(i).httpsPort, csrB64: csrs[k % csrs.length]!, ca: rootPem, password: PW });

  beforeAll(async () => {
    enabled = requireTool(hasCommand('openssl'), 'openssl');
    if (!enabled) return;
    cluster = await startPostgres();
    env = { FLINTCA_DB_URL: await cluster.database() };
    const r = flintca(['init', '--data', data, '--hsm', 'softhsm', '--dns', 'localhost,127.0.0.1', '--est-password', PW], env);
    expect(r.code, r.stderr).toBe(0);
    const cfgPath = join(data, 'flintca.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    // Short leases so a dead node's work is taken over within the test's time.
    cfg.acme = { processing: { leaseSeconds: 2, sweepSeconds: 1 } };
    cfg.revocation = { leaseSeconds: CRL_LEASE_SECONDS };
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    rootPem = readFileSync(rootFile, 'utf8');
    for (let k = 0; k < 3; k++) {
      const g = run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`est${k}.key`), '-subj', `/CN=device-${k}.test.internal`, '-outform', 'DER', '-out', f(`est${k}.der`)]);
      expect(g.code, g.stderr).toBe(0);
      csrs.push(readFileSync(f(`est${k}.der`)).toString('base64'));
    }
    for (let i = 0; i < N; i++) responders.push(await http01Responder(tokens));
    observer = await PgStore.open(env.FLINTCA_DB_URL!, { maxConnections: 2 });
    // Node 1 first, until it has made the OCSP responder keys and certificates; then the others.
    // (A SoftHSM process that initialises while another one writes to the shared token directory
    // can miss the token — seen ~1 start in 100 with a key being generated at the same moment.)
    nodes.push(await startNode(0));
    const responderCerts = await waitFor(async () => {
      const certs = await observer!.certificates.list({ profile: 'ocsp-responder', status: 'valid' });
      return ['root', 'issuing'].every((ca) => certs.some((c) => c.issuerId === ca)) ? certs : undefined;
    }, 20_000, 200);
    expect(responderCerts, 'OCSP responder certificates in the store').toBeTruthy();
    nodes.push(...(await Promise.all([1, 2].map(startNode))));
    // acme-client through the proxies: one TCP connection per request, trusting the CA's root.
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: rootPem, keepAlive: false });
  }, 120_000);

  afterAll(async () => {
    responders.forEach((r) => r.close());
    for (const p of proxies) await p.close();
    await Promise.all(nodes.map((n) => n?.stop()));
    await observer?.close();
    await cluster?.destroy();
    tmp.cleanup();
  });

  it('acme-client rotating over the nodes issues a certificate: nonces, orders and finalization cross nodes', async () => {
    if (!enabled) return;
    const proxy = await roundRobin(nodes.map((n) => n!.httpsPort));
    proxies.push(proxy);
    const client = await acmeClient(proxy.port);
    await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:ha@test.internal'] });
    const order = await client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
    const [authz] = await client.getAuthorizations(order);
    const ch = authz!.challenges.find((c) => c.type === 'http-01')!;
    tokens.set(ch.token, await client.getChallengeKeyAuthorization(ch));
    await client.completeChallenge(ch);
    await client.waitForValidStatus(ch);
    // Make sure finalize does not land on the node that made the order (each request is a new connection).
    const orderNode = await servedBy('/new-order');
    expect(orderNode).toBeGreaterThanOrEqual(0);
    if (proxy.nextBackend() === orderNode) await client.getOrder(order);
    const [key, csr] = await acme.crypto.createCsr({ altNames: ['127.0.0.1'] });
    const fin = await client.finalizeOrder(order, csr);
    const chain = await client.getCertificate(fin);
    writeFileSync(f('acme-key.pem'), key);
    writeFileSync(f('acme-chain.pem'), chain);
    const [leaf, issuing] = chain.split(/(?=-----BEGIN CERTIFICATE-----)/);
    writeFileSync(f('acme-leaf.pem'), leaf!);
    writeFileSync(f('acme-issuing.pem'), issuing!);
    const v = run('openssl', ['verify', '-CAfile', rootFile, '-untrusted', f('acme-issuing.pem'), f('acme-leaf.pem')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);

    // Rotation really happened: every node took connections, no two consecutive ones on one node,
    // so each request carried a nonce another node had issued — and none was refused as bad.
    expect(proxy.counts.every((c) => c >= 3), String(proxy.counts)).toBe(true);
    expect(proxy.history.every((b, i) => i === 0 || b !== proxy.history[i - 1])).toBe(true);
    const finalizeNode = await servedBy('/finalize');
    expect(finalizeNode).toBeGreaterThanOrEqual(0);
    expect(finalizeNode).not.toBe(orderNode);
    // Every connection carried one request (log lines are written asynchronously: wait for them).
    const acmeLogged = () => nodes.flatMap((n) => loggedRequests(n!.logs()).filter((q) => q.url.startsWith('/acme/')));
    await waitFor(() => acmeLogged().length >= proxy.history.length, 3000, 100);
    const all = acmeLogged();
    expect(all.length).toBe(proxy.history.length);
    expect(all.filter((q) => q.status >= 400)).toEqual([]);
  }, 60_000);

  it('issues from all nodes at once; a node killed -9 mid-load loses nothing it acknowledged, and its stuck ACME validation is taken over', async () => {
    if (!enabled) return;
    // The victim is the node holding the CRL lease, so the lease has to move.
    const victim = holderNode(await waitFor(crlHolder, 10_000));
    expect(victim).toBeGreaterThanOrEqual(0);
    const others = [0, 1, 2].filter((i) => i !== victim);
    // An ACME order pinned to the victim (haproxy `balance first`) whose validation hangs there.
    const pinned = await roundRobin([victim, ...others].map((i) => node(i).httpsPort), { balance: 'first' });
    proxies.push(pinned);
    const client = await acmeClient(pinned.port);
    await client.createAccount({ termsOfServiceAgreed: true });
    const order = await client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
    const [authz] = await client.getAuthorizations(order);
    const ch = authz!.challenges.find((c) => c.type === 'http-01')!;
    tokens.set(ch.token, await client.getChallengeKeyAuthorization(ch));
    responders[victim]!.hang = true;
    const started = await client.completeChallenge(ch);
    // A new account: no authorization to reuse, so the victim really starts validating (and hangs).
    expect(started.status).toBe('processing');
    expect(await waitFor(() => responders[victim]!.seen > 0, 5000)).toBe(true);

    // EST load: two loops per node; a loop whose node died moves to the next live one.
    const dead = new Set<number>();
    const failures: EnrollResult[] = [];
    let stop = false;
    let killedAt = -1;
    const sentAfterKill: EnrollResult[] = [];
    const loop = async (start: number, k: number) => {
      let i = start;
      while (!stop) {
        const late = killedAt >= 0;
        const r = await enroll(i, k++);
        if (late) sentAfterKill.push(r);
        if (r.status === 200 && r.serial) acked.push(r);
        else {
          failures.push(r);
          if (dead.has(i)) i = (i + 1) % N;
        }
        if (killedAt < 0 && acked.length >= 12 && acked.some((a) => a.node === victim)) {
          killedAt = acked.length;
          dead.add(victim);
          node(victim).proc.kill('SIGKILL');
        }
        if (killedAt >= 0 && acked.length >= killedAt + 18) stop = true;
      }
    };
    const deadline = setTimeout(() => (stop = true), 40_000);
    await Promise.all([0, 1, 2, 0, 1, 2].map((i, w) => loop(i, w)));
    clearTimeout(deadline);
    expect(killedAt).toBeGreaterThan(0);
    expect(acked.length - killedAt).toBeGreaterThanOrEqual(18);
    // The others kept serving: only the victim failed, and only at the transport level (reset,
    // refused); everything sent after the kill to a live node was issued.
    expect(failures.filter((x) => x.node !== victim)).toEqual([]);
    expect(failures.every((x) => x.status === 0 && x.error)).toBe(true);
    const lateOk = sentAfterKill.filter((r) => r.status === 200);
    expect(new Set(lateOk.map((a) => a.node))).toEqual(new Set(others));
    expect(lateOk.length).toBeGreaterThanOrEqual(12);

    // No duplicate serials; everything acknowledged (the victim's too) is stored exactly once.
    const serials = acked.map((a) => a.serial!);
    expect(new Set(serials).size).toBe(serials.length);
    const stored = listed();
    const storedSerials = stored.map((c) => normalizeSerial(c.serial));
    expect(new Set(storedSerials).size).toBe(storedSerials.length);
    for (const s of serials) expect(storedSerials, s).toContain(s);
    // At most the victim's in-flight requests (two loops) were stored without being acknowledged.
    const estStored = stored.filter((c) => c.protocol === 'est').length;
    expect(estStored).toBeGreaterThanOrEqual(serials.length);
    expect(estStored).toBeLessThanOrEqual(serials.length + 2);

    // Nothing half-done: the validation the victim was stuck on is taken over by a live node's
    // sweeper once its lease lapses, and the order completes through the failed-over proxy.
    responders[victim]!.hang = false;
    await client.waitForValidStatus(ch);
    const fin = await client.finalizeOrder(order, (await acme.crypto.createCsr({ altNames: ['127.0.0.1'] }))[1]);
    expect(fin.status).toBe('valid');
    expect(await client.getCertificate(fin)).toMatch(/BEGIN CERTIFICATE/);
    const audit = cli(['audit', 'export']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string; result: string; object: string; data?: { attempt?: number } });
    const attempts = audit.filter((e) => e.action === 'acme.challenge.validate' && e.result === 'ok').map((e) => e.data?.attempt);
    expect(attempts).toContain(2); // the first attempt died with the victim
    expect(pinned.counts[0]).toBeGreaterThan(0);
    expect(pinned.counts[1]! + pinned.counts[2]!).toBeGreaterThan(0);

    // One audit chain from all nodes, intact.
    const av = cli(['audit', 'verify']);
    expect(av.code, av.stdout + av.stderr).toBe(0);
    expect(av.stdout).toMatch(/audit log OK/);

    // The CRL lease moved to a live node (the dead holder's row lapses after leaseSeconds).
    const moved = await waitFor(async () => {
      const i = holderNode(await crlHolder());
      return others.includes(i) ? { node: i } : undefined;
    }, (CRL_LEASE_SECONDS + 5) * 1000, 250);
    expect(moved, `crl lease holder: ${await crlHolder()}`).toBeDefined();

    // A replacement node joins with the same settings (the victim's slot).
    nodes[victim] = await startNode(victim);
  }, 90_000);

  it('a revocation made through node 1\'s store is answered as revoked by node 2\'s OCSP and listed in node 3\'s CRL within 5 s', async () => {
    if (!enabled) return;
    const target = acked.find((a) => a.node === 2) ?? acked[0]!;
    // The certificate itself, as the store has it, for openssl ocsp.
    const leafPem = f('revoked.pem');
    const chainFile = f('chain.pem');
    writeFileSync(chainFile, readFileSync(issuingFile, 'utf8') + rootPem);
    const csrFile = f('revoke.csr');
    expect(run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('revoke.key'), '-subj', '/CN=revoke.test.internal', '-addext', 'subjectAltName=DNS:revoke.test.internal', '-out', csrFile]).code).toBe(0);
    const issued = cli(['issue', '--csr', csrFile, '--profile', 'tls-server', '--out', leafPem]);
    expect(issued.code, issued.stderr).toBe(0);
    const serial = normalizeSerial(run('openssl', ['x509', '-in', leafPem, '-noout', '-serial']).stdout.trim().split('=')[1]!);
    const ocspAt = (i: number) => run('openssl', ['ocsp', '-issuer', issuingFile, '-cert', leafPem, '-url', `http://127.0.0.1:${node(i).httpPort}/ocsp`, '-CAfile', rootFile, '-no_nonce']);
    expect(ocspAt(1).stdout).toMatch(/revoked\.pem: good/);
    const crlAt = (i: number) => {
      const got = run('curl', ['-sS', '--fail', '-o', f(`crl${i}.der`), `http://127.0.0.1:${node(i).httpPort}/crl/issuing.crl`]);
      expect(got.code, `${got.stderr}\n${node(i).logs().slice(-2000)}`).toBe(0);
      const verify = run('openssl', ['crl', '-inform', 'DER', '-in', f(`crl${i}.der`), '-CAfile', chainFile, '-verify', '-noout']);
      return { text: run('openssl', ['crl', '-inform', 'DER', '-in', f(`crl${i}.der`), '-noout', '-text']).stdout.toLowerCase(), verify: verify.stdout + verify.stderr };
    };
    expect(crlAt(2).text).not.toContain(`serial number: ${serial}`);

    // Revoked by CLI processes on node 1's configuration (same store): the certificate above and an
    // EST certificate from the load. Both must show on the other nodes within 5 s of the revocation.
    expect(cli(['revoke', '--serial', target.serial!, '--reason', 'superseded']).code).toBe(0);
    const rv = cli(['revoke', '--serial', serial, '--reason', 'keyCompromise']);
    expect(rv.code, rv.stderr).toBe(0);
    const deadline = Date.now() + 5000;
    const ocspRevoked = await waitFor(() => /revoked\.pem: revoked/.test(ocspAt(1).stdout), 5000, 100);
    const crl = await waitFor(() => {
      const c = crlAt(2);
      return c.text.includes(`serial number: ${serial}`) && c.text.includes(`serial number: ${target.serial}`) ? c : undefined;
    }, Math.max(0, deadline - Date.now()), 200);
    expect(ocspRevoked, 'node 2 OCSP: revoked').toBe(true);
    expect(crl, 'node 3 CRL lists both revocations').toBeTruthy();
    expect(crl!.verify).toMatch(/verify OK/);
    expect(ocspAt(1).stdout).toMatch(/Reason: keyCompromise/);
  }, 60_000);

  it('PostgreSQL stopped: every node turns not-ready and answers 503 + Retry-After; started again: ready and issuing with no restart', async () => {
    if (!enabled) return;
    cluster!.stop();
    try {
      const notReady = await waitFor(async () => (await Promise.all([0, 1, 2].map(readyz))).every((s) => s === 503), 15_000, 250);
      expect(notReady).toBe(true);
      const r = await enroll(0);
      expect(r.status).toBe(503);
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
      const c = run('curl', ['-sS', '-I', '--cacert', rootFile, `https://localhost:${node(1).httpsPort}/acme/acme/new-nonce`]);
      expect(c.stdout).toMatch(/^HTTP\/1\.1 503/m);
      expect(c.stdout).toMatch(/^retry-after: \d+/im);
    } finally {
      cluster!.start();
    }
    const ready = await waitFor(async () => (await Promise.all([0, 1, 2].map(readyz))).every((s) => s === 200), 20_000, 250);
    expect(ready).toBe(true);
    const after = await Promise.all([0, 1, 2].map((i) => enroll(i)));
    expect(after.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(after.every((a) => a.serial)).toBe(true);
    for (let i = 0; i < N; i++) expect(node(i).proc.exitCode).toBeNull();
    const av = cli(['audit', 'verify']);
    expect(av.code, av.stdout + av.stderr).toBe(0);
  }, 60_000);
});
