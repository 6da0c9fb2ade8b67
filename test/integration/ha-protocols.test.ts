/**
 * SCEP and EST state across nodes (issue 7): two `flintca serve` nodes, A and B, on one PostgreSQL
 * database and one data dir (shared as a volume would be, SoftHSM token included). What one node
 * starts, the other finishes: a one-time SCEP challenge minted through A's admin API is spent by
 * scepclient on B and refused on A; a SCEP request queued for approval on A is polled to its
 * certificate on B and a replay on A gets that same certificate; an EST request queued on A is
 * fetched on B, and the certificate renews on A. The three-node load, kill -9 and revocation
 * cases are in ha.test.ts; the ACME takeover on PostgreSQL is in acme-ha.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { softHsmAvailable } from '../../src/keys/index.js';
import { certRef } from '../../src/pki/cms-read.js';
import { derOrPem } from '../../src/pki/pem.js';
import { estCsr, estPost, listCerts, scepclient, serialOf, verifyChain } from '../helpers/enroll-clients.js';
import { flintca, hasCommand, run, serve, type Served } from '../helpers/flintca.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { buildRequest, issuerAndSubject, newDevice, readCertRep, type Device } from '../helpers/scep-client.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

const SCEP_PW = 'scep-ha-s3cret';
const EST_PW = 'est-ha-s3cret';
/** SCEP pkiStatus (RFC 8894 §3.2.1.3). */
const SUCCESS = 0;
const FAILURE = 2;
const PENDING = 3;

describe('SCEP and EST across two nodes on PostgreSQL', () => {
  const tmp = tempDir('flintca-ha-proto-');
  const data = join(tmp.path, 'data');
  const root = join(data, 'ca/root.crt');
  const f = (name: string) => join(tmp.path, name);
  let cluster: PgCluster | undefined;
  let env: NodeJS.ProcessEnv = {};
  let a: Served | undefined;
  let b: Served | undefined;
  let enabled = true;

  const cli = (args: string[]) => flintca([...args, '--data', data], env);
  const scepUrl = (s: Served | undefined, label: string) => `http://127.0.0.1:${s!.httpPort}/scep/${label}`;
  const caDer = () => derOrPem(readFileSync(join(data, 'ca/issuing.crt'), 'utf8'), 'CERTIFICATE');
  const pkiOperation = async (s: Served | undefined, label: string, der: Buffer, dev: Device) => {
    const r = await fetch(`${scepUrl(s, label)}?operation=PKIOperation`, { method: 'POST', headers: { 'Content-Type': 'application/x-pki-message' }, body: der, signal: AbortSignal.timeout(30_000) });
    const body = Buffer.from(await r.arrayBuffer());
    expect(r.status, body.toString()).toBe(200);
    return readCertRep(body, dev);
  };
  const pem = (der: Buffer, name: string) => {
    writeFileSync(f(name), `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`);
    return f(name);
  };
  const auditExport = () => cli(['audit', 'export']).stdout;
  /** `flintca requests approve` for the one pending request of `protocol` whose subject contains `cn`. */
  const approvePending = (protocol: 'est' | 'scep', cn: string) => {
    const pending = cli(['requests', 'list', '--status', 'pending', '--json']).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; protocol: string; subject: string });
    const mine = pending.filter((x) => x.protocol === protocol && x.subject.includes(`CN=${cn}`));
    expect(mine).toHaveLength(1);
    const ap = cli(['requests', 'approve', '--id', mine[0]!.id]);
    expect(ap.code, ap.stderr).toBe(0);
  };
  /** A device with a PKCSReq on label `gated` and its CertPoll, against either node. */
  const gatedDevice = (cn: string) => {
    const ca = caDer();
    const dev = newDevice(cn, SCEP_PW);
    const tid = `${cn}-${Date.now()}`;
    const pkcsReq = async (s: Served | undefined) => {
      const m = await buildRequest(dev, { messageType: 19, transactionId: tid, recipientDer: ca, content: dev.csrDer });
      return { rep: await pkiOperation(s, 'gated', m.der, dev), senderNonce: m.senderNonce };
    };
    const poll = async (s: Served | undefined) => {
      const m = await buildRequest(dev, { messageType: 20, transactionId: tid, recipientDer: ca, content: issuerAndSubject(ca, certRef(dev.certDer).subjectDer) });
      return pkiOperation(s, 'gated', m.der, dev);
    };
    return { ca, dev, tid, pkcsReq, poll };
  };

  beforeAll(async () => {
    enabled = requireTool(hasCommand('scepclient') && hasCommand('openssl') && hasCommand('curl') && softHsmAvailable(), 'scepclient + openssl + curl + SoftHSM');
    if (!enabled) return;
    cluster = await startPostgres();
    env = { FLINTCA_DB_URL: await cluster.database() };
    // RSA issuing CA: scepclient talks to the CA itself (no RA fingerprint needed).
    const r = flintca(['init', '--data', data, '--hsm', 'softhsm', '--issuing-key-type', 'rsa-2048', '--dns', 'localhost,127.0.0.1', '--scep-challenge', SCEP_PW, '--est-password', EST_PW], env);
    expect(r.code, r.stderr).toBe(0);
    const cfgPath = join(data, 'flintca.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    cfg.scep.labels = {
      dyn: { profile: 'device' }, // one-time challenges only
      gated: { profile: 'device', requireApproval: true, challengeHash: cfg.scep.challengeHash },
    };
    cfg.est.labels = { gated: { profile: 'device', requireApproval: true } };
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    [a, b] = await Promise.all([serve(data, [], env), serve(data, [], env)]);
  }, 120_000);
  afterAll(async () => {
    if (a) expect(await a.stop()).toBe(0);
    if (b) expect(await b.stop()).toBe(0);
    await cluster?.destroy();
    tmp.cleanup();
  });

  it('SCEP: a one-time challenge minted through A\'s admin API is spent on B and refused on A', async () => {
    if (!enabled) return;
    const created = cli(['token', 'create', '--scope', 'scep-challenge:dyn', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };
    const minted = run('curl', ['-sS', '--cacert', root, '-o', '-', '-w', '\n%{http_code}', '-X', 'POST', '-H', 'Content-Type: application/json', '-H', `Authorization: Bearer ${token}`, '--data', '{"ttl":"10m"}', `https://localhost:${a!.httpsPort}/admin/v1/scep/dyn/challenges`]);
    const lines = minted.stdout.trim().split('\n');
    expect(lines.pop(), minted.stdout + minted.stderr).toBe('201');
    const { challenge } = JSON.parse(lines.join('\n')) as { challenge: string };

    const onB = await scepclient(f('dyn-b'), scepUrl(b, 'dyn'), ['-challenge', challenge, '-cn', 'ha-dyn-b']);
    expect(onB.code, onB.out).toBe(0);
    expect(verifyChain(data, onB.cert).stdout).toMatch(/: OK/);
    const onA = await scepclient(f('dyn-a'), scepUrl(a, 'dyn'), ['-challenge', challenge, '-cn', 'ha-dyn-a']);
    expect(onA.code, onA.out).not.toBe(0);
    expect(onA.out).toMatch(/failInfo: badRequest/);
    expect(auditExport()).toMatch(/challenge password was already used/);
    const issued = listCerts(data, env).filter((c) => /ha-dyn-/.test(c.subject));
    expect(issued.map((c) => c.subject)).toEqual([expect.stringContaining('CN=ha-dyn-b')]);
  }, 60_000);

  it('SCEP: PKCSReq queued on A, approved from the CLI, CertPoll on B gets it, a replay on A the same one', async () => {
    if (!enabled) return;
    const { ca, dev, tid, pkcsReq, poll } = gatedDevice('ha-gated');
    const queued = (await pkcsReq(a)).rep;
    expect(queued).toMatchObject({ status: PENDING, transactionId: tid, verified: true });
    expect((await poll(b)).status).toBe(PENDING); // B sees A's transaction
    approvePending('scep', 'ha-gated');

    const got = await poll(b);
    expect(got.status).toBe(SUCCESS);
    const leaf = got.certs[0]!;
    expect(verifyChain(data, pem(leaf, 'ha-gated.pem')).stdout).toMatch(/: OK/);
    const replay = await pkcsReq(a);
    expect(replay.rep.status).toBe(SUCCESS);
    expect(replay.rep.certs[0]!.equals(leaf)).toBe(true);
    expect(replay.rep.recipientNonce!.equals(replay.senderNonce)).toBe(true);
    expect((await poll(a)).certs[0]!.equals(leaf)).toBe(true);

    // Never a second issuance: one certificate for this device in the store.
    const issued = listCerts(data, env).filter((c) => c.subject.includes('CN=ha-gated'));
    expect(issued.map((c) => [c.serial, c.protocol, c.status])).toEqual([[serialOf(f('ha-gated.pem')), 'scep', 'valid']]);
    // The same transactionID with another CSR is refused, on the other node too.
    const other = newDevice('ha-gated', SCEP_PW);
    const mismatch = await pkiOperation(b, 'gated', (await buildRequest(dev, { messageType: 19, transactionId: tid, recipientDer: ca, content: other.csrDer })).der, dev);
    expect(mismatch.status).toBe(FAILURE);
  }, 60_000);

  it('SCEP: CertPolls racing on A and B after approval: one signature, every answer the same certificate or PENDING', async () => {
    if (!enabled) return;
    const { pkcsReq, poll } = gatedDevice('ha-race');
    expect((await pkcsReq(b)).rep.status).toBe(PENDING);
    approvePending('scep', 'ha-race');
    // One node signs under the approval's lease; a poll that finds the lease taken answers PENDING.
    const answers = await Promise.all([poll(a), poll(b), poll(a), poll(b)]);
    for (const r of answers) expect([SUCCESS, PENDING]).toContain(r.status);
    const done = answers.filter((r) => r.status === SUCCESS);
    expect(done.length).toBeGreaterThan(0);
    expect(new Set(done.map((r) => r.certs[0]!.toString('hex'))).size).toBe(1);
    const again = await Promise.all([poll(a), poll(b)]); // the device's next polls: the same certificate
    expect(again.map((r) => r.status)).toEqual([SUCCESS, SUCCESS]);
    expect(again.every((r) => r.certs[0]!.equals(done[0]!.certs[0]!))).toBe(true);
    // Signed exactly once: no extra certificate, not even a revoked one.
    const certs = listCerts(data, env).filter((c) => c.subject.includes('CN=ha-race'));
    expect(certs.map((c) => [c.serial, c.status])).toEqual([[serialOf(pem(done[0]!.certs[0]!, 'ha-race.pem')), 'valid']]);
  }, 60_000);

  it('EST: simpleenroll queued on A, approved, fetched on B; the certificate renews on A', () => {
    if (!enabled) return;
    const csr = estCsr(tmp.path, 'est-gated', '/CN=ha-est-gated');
    const enroll = (s: Served | undefined, out: string) => estPost({ root, httpsPort: s!.httpsPort, path: 'gated/simpleenroll', csrB64: csr.b64, out: f(out), basic: `est:${EST_PW}` });
    expect(enroll(a, 'est-1').status).toBe(202);
    expect(enroll(b, 'est-2').status).toBe(202); // the same request, seen on B as pending
    approvePending('est', 'ha-est-gated');

    const onB = enroll(b, 'est-3');
    expect(onB.status).toBe(200);
    expect(verifyChain(data, onB.pem!).stdout).toMatch(/: OK/);
    const onA = enroll(a, 'est-4');
    expect(onA.status).toBe(200);
    expect(serialOf(onA.pem!)).toBe(serialOf(onB.pem!));

    // simplereenroll (§4.2.2) on A, authenticated by the certificate B handed out.
    const renewCsr = estCsr(tmp.path, 'est-renew', '/CN=ha-est-gated', csr.key);
    const renewed = estPost({ root, httpsPort: a!.httpsPort, path: 'gated/simplereenroll', csrB64: renewCsr.b64, out: f('est-5'), clientCert: { cert: onB.pem!, key: csr.key } });
    expect(renewed.status).toBe(200);
    expect(verifyChain(data, renewed.pem!).stdout).toMatch(/: OK/);
    const certs = listCerts(data, env).filter((c) => c.subject.includes('CN=ha-est-gated'));
    expect(certs).toHaveLength(2);
    expect(certs.find((c) => c.serial === serialOf(onB.pem!))).toMatchObject({ status: 'revoked', revocationReason: 'superseded' });
    expect(certs.find((c) => c.serial === serialOf(renewed.pem!))?.status).toBe('valid');
  }, 60_000);

  it('EST: wrong passwords sent to A count at B too: both then refuse further guesses from the address unchecked (runs after the other EST tests: it trips the limit)', () => {
    if (!enabled) return;
    const csr = estCsr(tmp.path, 'est-guess', '/CN=ha-est-guess');
    const enroll = (s: Served | undefined, password: string, out: string) => estPost({ root, httpsPort: s!.httpsPort, path: 'simpleenroll', csrB64: csr.b64, out: f(out), basic: `est:${password}` });
    // EST allows 5 failures per address in 60 s (protocols/est/auth.ts MAX_FAILURES): 3 at A, 2 at B.
    for (let i = 0; i < 5; i++) expect(enroll(i < 3 ? a : b, 'wrong', `guess-${i}`).status).toBe(401);
    expect(enroll(b, 'wrong', 'guess-b').status).toBe(429);
    expect(enroll(a, 'wrong', 'guess-a').status).toBe(429);
  });

  it('the audit chain written by both nodes and the CLI verifies', () => {
    if (!enabled) return;
    const v = cli(['audit', 'verify']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/audit log OK/);
    for (const s of [a!, b!]) expect(s.logs()).not.toMatch(/"statusCode":5\d\d/);
  });
});
