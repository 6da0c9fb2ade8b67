/**
 * SCEP (RFC 8894) end to end through the real binary, with micromdm scepclient as the independent
 * client and openssl verifying the chains: an RSA issuing CA (the CA answers SCEP itself) and a
 * P-256 issuing CA in SoftHSM (an RSA RA answers), static and one-time challenges (CLI and admin
 * API with scoped bearer tokens), renewal, pending → approve → CertPoll, and the bad inputs
 * (captured scepclient messages, mutated). CertPoll and hand-made RenewalReqs use the small
 * in-process client in test/helpers/scep-client.ts, since scepclient cannot send them.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flintca, hasCommand, run, runAsync, serve, type Served } from '../helpers/flintca.js';
import { buildRequest, issuerAndSubject, newDevice, readCertRep } from '../helpers/scep-client.js';
import { requireTool, tempDir } from '../helpers/tmp.js';
import { softHsmAvailable } from '../../src/keys/index.js';
import { certRef } from '../../src/pki/cms-read.js';
import { derOrPem } from '../../src/pki/pem.js';

const PW = 'scep-s3cret';
const FIXTURES = join(import.meta.dirname, '../fixtures/scep');

describe('SCEP front-end', () => {
  const tmp = tempDir('flintca-scep-');
  const rsaData = join(tmp.path, 'rsa');
  const ecData = join(tmp.path, 'ec');
  let rsa: Served | undefined;
  let ec: Served | undefined;
  let enabled = true;
  const f = (name: string) => join(tmp.path, name);
  const url = (s: Served | undefined, path = '/scep') => `http://127.0.0.1:${s!.httpPort}${path}`;

  beforeAll(async () => {
    enabled = requireTool(hasCommand('scepclient') && hasCommand('openssl') && softHsmAvailable(), 'scepclient + openssl + SoftHSM');
    if (!enabled) return;
    let r = flintca(['init', '--data', rsaData, '--hsm', 'file', '--issuing-key-type', 'rsa-2048', '--scep-challenge', PW]);
    expect(r.code, r.stderr).toBe(0);
    const cfgPath = join(rsaData, 'flintca.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    cfg.scep.labels = {
      nodes: { profile: 'device', allowDES3: false, challengeHash: cfg.scep.challengeHash },
      gated: { profile: 'device', requireApproval: true, challengeHash: cfg.scep.challengeHash },
      dyn: { profile: 'device' },
    };
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    r = flintca(['init', '--data', ecData, '--hsm', 'softhsm', '--scep-challenge', PW]);
    expect(r.code, r.stderr).toBe(0);
    [rsa, ec] = await Promise.all([serve(rsaData), serve(ecData)]);
  });
  afterAll(async () => {
    if (rsa) expect(await rsa.stop()).toBe(0);
    if (ec) expect(await ec.stop()).toBe(0);
    tmp.cleanup();
  });

  let n = 0;
  /** Runs scepclient with a fresh key dir (or `dir`); returns exit code, output and the cert path. */
  async function scepclient(server: string, args: string[], dir?: string): Promise<{ code: number; out: string; cert: string; dir: string }> {
    const d = dir ?? f(`dev${++n}`);
    if (!dir) {
      run('mkdir', ['-p', d]);
      expect(run('openssl', ['genrsa', '-traditional', '-out', join(d, 'key.pem'), '2048']).code).toBe(0);
    }
    const r = await runAsync('scepclient', ['-server-url', server, '-private-key', join(d, 'key.pem'), ...args], { timeoutMs: 30_000 });
    return { ...r, cert: join(d, 'client.pem'), dir: d };
  }
  const verifyChain = (data: string, pem: string) => {
    const r = run('openssl', ['verify', '-CAfile', join(data, 'ca/root.crt'), '-untrusted', join(data, 'ca/issuing.crt'), pem]);
    expect(r.stdout, r.stderr).toMatch(/: OK/);
  };
  const serial = (pem: string) => run('openssl', ['x509', '-in', pem, '-noout', '-serial']).stdout.trim();
  const caDer = (data: string) => derOrPem(readFileSync(join(data, 'ca/issuing.crt'), 'utf8'), 'CERTIFICATE');
  const post = (s: Served | undefined, body: Buffer, path = '/scep') => fetch(`${url(s, path)}?operation=PKIOperation`, { method: 'POST', headers: { 'Content-Type': 'application/x-pki-message' }, body });

  it('GetCACaps advertises what is implemented; DES3 only where the label allows it', async () => {
    if (!enabled) return;
    const caps = await (await fetch(`${url(rsa)}?operation=GetCACaps`)).text();
    expect(caps.split('\n')).toEqual(expect.arrayContaining(['AES', 'DES3', 'POSTPKIOperation', 'Renewal', 'SHA-256', 'SHA-512', 'SCEPStandard']));
    const nodes = await (await fetch(`${url(rsa, '/scep/nodes')}?operation=GetCACaps`)).text();
    expect(nodes).not.toMatch(/DES3/);
    expect((await fetch(`${url(rsa, '/cgi-bin/pkiclient.exe')}?operation=GetCACaps`)).status).toBe(200);
  });

  it('GetCACert: the RSA CA alone, or CA + RA as certs-only for a P-256 CA', async () => {
    if (!enabled) return;
    const a = await fetch(`${url(rsa)}?operation=GetCACert`);
    expect(a.headers.get('content-type')).toBe('application/x-x509-ca-cert');
    expect(Buffer.from(await a.arrayBuffer()).equals(caDer(rsaData))).toBe(true);
    const b = await fetch(`${url(ec)}?operation=GetCACert`);
    expect(b.headers.get('content-type')).toBe('application/x-x509-ca-ra-cert');
    writeFileSync(f('ca-ra.p7'), Buffer.from(await b.arrayBuffer()));
    const p = run('openssl', ['pkcs7', '-inform', 'DER', '-in', f('ca-ra.p7'), '-print_certs', '-noout']);
    expect(p.stdout).toMatch(/Issuing CA 1/);
    expect(p.stdout).toMatch(/SCEP RA/);
    const ra = run('openssl', ['x509', '-in', join(ecData, 'ca/scep-ra.crt'), '-noout', '-ext', 'keyUsage']);
    expect(ra.stdout).toMatch(/Digital Signature, Key Encipherment/);
  });

  let enrolled: { cert: string; dir: string } | undefined;
  it('scepclient enrolls against the RSA CA with the static challenge; openssl verifies the chain', async () => {
    if (!enabled) return;
    const r = await scepclient(url(rsa), ['-challenge', PW, '-cn', 'rsa-dev-1']);
    expect(r.code, r.out).toBe(0);
    verifyChain(rsaData, r.cert);
    expect(run('openssl', ['x509', '-in', r.cert, '-noout', '-subject']).stdout).toMatch(/CN\s*=\s*rsa-dev-1/);
    enrolled = r;
  });

  it('scepclient enrolls through the RA of a P-256 CA in SoftHSM', async () => {
    if (!enabled) return;
    const fp = createHash('sha256').update(derOrPem(readFileSync(join(ecData, 'ca/scep-ra.crt'), 'utf8'), 'CERTIFICATE')).digest('hex');
    const r = await scepclient(url(ec), ['-challenge', PW, '-cn', 'ec-dev-1', '-ca-fingerprint', fp]);
    expect(r.code, r.out).toBe(0);
    verifyChain(ecData, r.cert);
    expect(run('openssl', ['x509', '-in', r.cert, '-noout', '-issuer']).stdout).toMatch(/Issuing CA 1/);
  });

  it('renewal: scepclient with its current certificate sends RenewalReq and gets a new one', async () => {
    if (!enabled || !enrolled) return;
    const before = serial(enrolled.cert);
    const r = await scepclient(url(rsa), ['-certificate', enrolled.cert, '-cn', 'rsa-dev-1'], enrolled.dir);
    expect(r.code, r.out).toBe(0);
    expect(serial(enrolled.cert)).not.toBe(before);
    verifyChain(rsaData, enrolled.cert);
    const audit = flintca(['audit', 'export', '--data', rsaData]).stdout;
    expect(audit).toMatch(/"action":"scep.pkiOperation"[^\n]*"messageType":"RenewalReq","pkiStatus":"SUCCESS"/);
  });

  it('RenewalReq signed by a revoked or a foreign certificate gets FAILURE', async () => {
    if (!enabled || !enrolled) return;
    // foreign: a device key certified by an openssl CA instead of ours signs the RenewalReq
    const d = enrolled.dir;
    const dev = newDevice('rsa-dev-1', PW);
    writeFileSync(join(d, 'foreign-dev.key'), dev.keyPem);
    run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'foreign-ca.key'), '-out', join(d, 'foreign-ca.pem'), '-subj', '/CN=Foreign CA', '-days', '1']);
    run('openssl', ['req', '-new', '-key', join(d, 'foreign-dev.key'), '-subj', '/CN=rsa-dev-1', '-out', join(d, 'f.csr')]);
    expect(run('openssl', ['x509', '-req', '-in', join(d, 'f.csr'), '-CA', join(d, 'foreign-ca.pem'), '-CAkey', join(d, 'foreign-ca.key'), '-set_serial', '77', '-days', '1', '-outform', 'DER', '-out', join(d, 'foreign.der')]).code).toBe(0);
    const foreignDev = { ...dev, certDer: readFileSync(join(d, 'foreign.der')) };
    const m = await buildRequest(foreignDev, { messageType: 17, transactionId: 'renew-foreign', recipientDer: caDer(rsaData), content: dev.csrDer });
    const foreign = readCertRep(Buffer.from(await (await post(rsa, m.der)).arrayBuffer()), foreignDev);
    expect(foreign).toMatchObject({ status: 2, failInfo: 2, verified: true });
    // revoked: revoke the current certificate, then try to renew with it
    copyFileSync(enrolled.cert, join(d, 'current.pem'));
    expect(flintca(['revoke', '--data', rsaData, '--serial', serial(enrolled.cert).replace('serial=', ''), '--reason', 'keyCompromise']).code).toBe(0);
    const revoked = await scepclient(url(rsa), ['-certificate', join(d, 'current.pem'), '-cn', 'rsa-dev-1'], d);
    expect(revoked.code).not.toBe(0);
    expect(revoked.out).toMatch(/failInfo: badRequest/);
    expect(flintca(['audit', 'export', '--data', rsaData]).stdout).toMatch(/the certificate signing the RenewalReq is revoked/);
  });

  it('wrong challenge and DES on a label that disables it get FAILURE (badRequest, badAlg)', async () => {
    if (!enabled) return;
    const wrong = await scepclient(url(rsa), ['-challenge', 'not-the-password', '-cn', 'rsa-dev-wrong']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/failInfo: badRequest/);
    const des = await scepclient(url(rsa, '/scep/nodes'), ['-challenge', PW, '-cn', 'rsa-dev-des']);
    expect(des.code).not.toBe(0);
    expect(des.out, `scepclient exit ${des.code}`).toMatch(/failInfo: badAlg/);
    const dev = newDevice('rsa-dev-des3', PW);
    for (const [cipher, failInfo] of [['des-ede3-cbc', 0], ['aes-128-cbc', undefined]] as const) {
      const m = await buildRequest(dev, { messageType: 19, transactionId: `des3-${cipher}`, recipientDer: caDer(rsaData), content: dev.csrDer, cipher });
      const rep = readCertRep(Buffer.from(await (await post(rsa, m.der, '/scep/nodes')).arrayBuffer()), dev);
      expect(rep.failInfo).toBe(failInfo);
    }
  });

  it('one-time challenges from the CLI: work once, expire, and honour their common-name binding', async () => {
    if (!enabled) return;
    const mint = (...args: string[]) => {
      const r = flintca(['scep', 'challenge', '--data', rsaData, '--label', 'dyn', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const once = mint('--ttl', '1h');
    expect(once).toMatch(/^[0-9a-f]{32}$/);
    const ok = await scepclient(url(rsa, '/scep/dyn'), ['-challenge', once, '-cn', 'dyn-1']);
    expect(ok.code, ok.out).toBe(0);
    verifyChain(rsaData, ok.cert);
    const reused = await scepclient(url(rsa, '/scep/dyn'), ['-challenge', once, '-cn', 'dyn-2']);
    expect(reused.code).not.toBe(0);
    const staticOnDyn = await scepclient(url(rsa, '/scep/dyn'), ['-challenge', PW, '-cn', 'dyn-3']);
    expect(staticOnDyn.code).not.toBe(0); // label dyn has no static challenge
    const bound = mint('--subject', 'CN=dyn-bound');
    const mismatch = await scepclient(url(rsa, '/scep/dyn'), ['-challenge', bound, '-cn', 'dyn-other']);
    expect(mismatch.code).not.toBe(0);
    const match = await scepclient(url(rsa, '/scep/dyn'), ['-challenge', bound, '-cn', 'dyn-bound']);
    expect(match.code, match.out).toBe(0);
    const short = mint('--ttl', '1s');
    await new Promise((r) => setTimeout(r, 1200));
    const expired = await scepclient(url(rsa, '/scep/dyn'), ['-challenge', short, '-cn', 'dyn-late']);
    expect(expired.code).not.toBe(0);
    const audit = flintca(['audit', 'export', '--data', rsaData]).stdout;
    expect(audit).toMatch(/scep.challenge.create/);
    expect(audit).toMatch(/challenge password was already used/);
    expect(audit).toMatch(/challenge password has expired/);
    expect(audit).not.toContain(once);
  });

  it('admin API: scoped bearer tokens mint challenges for their label only; revoked tokens are refused', async () => {
    if (!enabled) return;
    const created = flintca(['token', 'create', '--data', rsaData, '--scope', 'scep-challenge:dyn', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { id, token } = JSON.parse(created.stdout);
    // curl: node's fetch cannot be given the test root CA per request.
    const curl = (label: string, auth?: string, body = '{"ttl":"10m"}') => {
      const r = run('curl', ['-sS', '--cacert', join(rsaData, 'ca/root.crt'), '-o', '-', '-w', '\n%{http_code}', '-X', 'POST', '-H', 'Content-Type: application/json', ...(auth ? ['-H', `Authorization: Bearer ${auth}`] : []), '--data', body, `https://localhost:${rsa!.httpsPort}/admin/v1/scep/${label}/challenges`]);
      const lines = r.stdout.trim().split('\n');
      return { status: Number(lines.pop()), body: lines.join('\n') };
    };
    expect(curl('dyn').status).toBe(401);
    expect(curl('dyn', 'flintca_0000000000000000.' + 'A'.repeat(43)).status).toBe(401);
    expect(curl('default', token).status).toBe(403);
    const minted = curl('dyn', token);
    expect(minted.status, minted.body).toBe(201);
    const { challenge, expiresAt } = JSON.parse(minted.body);
    expect(new Date(expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(curl('dyn', token, '{"ttl":"forever"}').status).toBe(400);
    const ok = await scepclient(url(rsa, '/scep/dyn'), ['-challenge', challenge, '-cn', 'api-1']);
    expect(ok.code, ok.out).toBe(0);
    const again = await scepclient(url(rsa, '/scep/dyn'), ['-challenge', challenge, '-cn', 'api-2']);
    expect(again.code).not.toBe(0);
    expect(flintca(['token', 'list', '--data', rsaData]).stdout).toMatch(new RegExp(`${id}\\s+active`));
    expect(flintca(['token', 'revoke', id, '--data', rsaData]).code).toBe(0);
    expect(curl('dyn', token).status).toBe(401);
    const audit = flintca(['audit', 'export', '--data', rsaData]).stdout;
    expect(audit).toMatch(/admin.token.create/);
    expect(audit).toMatch(/"action":"admin.token.use","object":"scope:scep-challenge:default","result":"denied"/);
    expect(audit).not.toContain(token.split('.')[1]);
  });

  it('pending: requireApproval → PENDING, `flintca requests approve`, CertPoll gets the certificate once', async () => {
    if (!enabled) return;
    const ca = caDer(rsaData);
    const dev = newDevice('gated-1', PW);
    const tid = `tx-${Date.now()}`;
    const first = await buildRequest(dev, { messageType: 19, transactionId: tid, recipientDer: ca, content: dev.csrDer });
    const r1 = readCertRep(Buffer.from(await (await post(rsa, first.der, '/scep/gated')).arrayBuffer()), dev);
    expect(r1).toMatchObject({ status: 3, transactionId: tid, verified: true });
    expect(r1.recipientNonce!.equals(first.senderNonce)).toBe(true);
    const poll = async () => {
      const m = await buildRequest(dev, { messageType: 20, transactionId: tid, recipientDer: ca, content: issuerAndSubject(ca, certRef(dev.certDer).subjectDer) });
      return readCertRep(Buffer.from(await (await post(rsa, m.der, '/scep/gated')).arrayBuffer()), dev);
    };
    expect((await poll()).status).toBe(3);
    const list = flintca(['requests', 'list', '--data', rsaData, '--status', 'pending', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const req = list.find((x: { protocol: string; subject: string }) => x.protocol === 'scep' && /gated-1/.test(x.subject));
    expect(req).toBeDefined();
    expect(flintca(['requests', 'approve', '--data', rsaData, '--id', req.id]).code).toBe(0);
    const [a, b] = await Promise.all([poll(), poll()]);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    expect(a.certs[0]!.equals(b.certs[0]!)).toBe(true);
    // A replayed PKCSReq (same transactionID and CSR) gets the same certificate, not a second one.
    const replay = await buildRequest(dev, { messageType: 19, transactionId: tid, recipientDer: ca, content: dev.csrDer });
    const r3 = readCertRep(Buffer.from(await (await post(rsa, replay.der, '/scep/gated')).arrayBuffer()), dev);
    expect(r3.status).toBe(0);
    expect(r3.certs[0]!.equals(a.certs[0]!)).toBe(true);
    expect(r3.recipientNonce!.equals(replay.senderNonce)).toBe(true);
    const pem = f('gated-1.pem');
    writeFileSync(pem, `-----BEGIN CERTIFICATE-----\n${a.certs[0]!.toString('base64')}\n-----END CERTIFICATE-----\n`);
    verifyChain(rsaData, pem);
    const issued = flintca(['list', '--data', rsaData, '--json']).stdout.split('\n').filter((l) => l.includes('CN=gated-1'));
    expect(issued).toHaveLength(1);
  });

  it('replays: same transactionID → same certificate; a transaction abandoned in processing is redone', async () => {
    if (!enabled) return;
    const ca = caDer(rsaData);
    const dev = newDevice('replay-1', PW);
    const send = async (tid: string) => readCertRep(Buffer.from(await (await post(rsa, (await buildRequest(dev, { messageType: 19, transactionId: tid, recipientDer: ca, content: dev.csrDer, digest: 'sha1', cipher: 'des-ede3-cbc' })).der)).arrayBuffer()), dev);
    const a = await send('replay-tx');
    const b = await send('replay-tx');
    expect(a.status).toBe(0);
    expect(b.certs[0]!.equals(a.certs[0]!)).toBe(true);
    // Simulate a node that died mid-request 10 minutes ago.
    const db = new Database(join(rsaData, 'flintca.db'));
    db.pragma('busy_timeout = 5000');
    db.prepare("UPDATE scep_transactions SET status = 'processing', updated_at = ? WHERE transaction_id = 'replay-tx'").run(Date.now() - 600_000);
    db.close();
    const c = await send('replay-tx');
    expect(c.status).toBe(0);
    expect(c.certs[0]!.equals(a.certs[0]!)).toBe(false);
  });

  it('GetCert and GetCRL with SHA-512 and AES-128; a CertRep openssl cms can verify', async () => {
    if (!enabled) return;
    const ca = caDer(rsaData);
    const dev = newDevice('getter', PW);
    const leafPem = readFileSync(f('gated-1.pem'), 'utf8');
    const leaf = derOrPem(leafPem, 'CERTIFICATE');
    const ref = certRef(leaf);
    const { seq, tlv } = await import('../../src/pki/der.js');
    const ias = seq(ref.issuerDer, tlv(0x02, ref.serial));
    const m = await buildRequest(dev, { messageType: 21, transactionId: 'getcert-1', recipientDer: ca, content: ias, digest: 'sha512', cipher: 'aes-128-cbc' });
    const body = Buffer.from(await (await post(rsa, m.der)).arrayBuffer());
    const rep = readCertRep(body, dev);
    expect(rep.status).toBe(0);
    expect(rep.certs[0]!.equals(leaf)).toBe(true);
    writeFileSync(f('certrep.der'), body);
    writeFileSync(f('ca.pem'), readFileSync(join(rsaData, 'ca/chain.pem')));
    const v = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', f('certrep.der'), '-CAfile', join(rsaData, 'ca/root.crt'), '-certfile', join(rsaData, 'ca/issuing.crt'), '-purpose', 'any', '-out', f('certrep.env')]);
    expect(v.code, v.stderr).toBe(0);
    const unknown = seq(ref.issuerDer, tlv(0x02, Buffer.from([0x01, 0x02])));
    const m2 = await buildRequest(dev, { messageType: 21, transactionId: 'getcert-2', recipientDer: ca, content: unknown });
    expect(readCertRep(Buffer.from(await (await post(rsa, m2.der)).arrayBuffer()), dev)).toMatchObject({ status: 2, failInfo: 4 });
    const m3 = await buildRequest(dev, { messageType: 22, transactionId: 'getcrl-1', recipientDer: ca, content: ias });
    const crlRep = readCertRep(Buffer.from(await (await post(rsa, m3.der)).arrayBuffer()), dev);
    if (crlRep.status === 0) {
      writeFileSync(f('crls.p7'), crlRep.content!);
      expect(run('openssl', ['pkcs7', '-inform', 'DER', '-in', f('crls.p7'), '-print', '-noout']).code).toBe(0);
    } else expect(crlRep).toMatchObject({ status: 2, failInfo: 4 }); // no CRL published yet
  });

  it('bad input: captured scepclient messages mutated, unknown operations, never a 500', async () => {
    if (!enabled) return;
    const captured = readFileSync(join(FIXTURES, 'pkcsreq-scepclient-2.1.der'));
    const text = async (r: Response) => ({ status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() });
    // As captured: signed correctly, but encrypted to another recipient → FAILURE badMessageCheck.
    const other = await post(rsa, captured);
    expect(other.status).toBe(200);
    expect(other.headers.get('content-type')).toBe('application/x-pki-message');
    const { parseSignedMessage, attrString } = await import('../../src/pki/cms-read.js');
    const rep = parseSignedMessage(Buffer.from(await other.arrayBuffer()));
    expect(attrString(rep, '2.16.840.1.113733.1.9.3')).toBe('2');
    expect(attrString(rep, '2.16.840.1.113733.1.9.4')).toBe('1');
    const truncated = await text(await post(rsa, captured.subarray(0, 300)));
    expect(truncated.status).toBe(400);
    expect(truncated.type).toMatch(/text\/plain/);
    const garbage = await text(await post(rsa, Buffer.from('this is not a PKCS#7 message at all')));
    expect(garbage.status).toBe(400);
    const wrongType = Buffer.from(captured);
    const at = wrongType.indexOf(Buffer.from('2a864886f70d010702', 'hex'));
    wrongType[at + 8] = 0x03; // signedData → envelopedData
    expect((await text(await post(rsa, wrongType))).body).toMatch(/not signedData/);
    const badSig = Buffer.from(captured);
    badSig[badSig.length - 10]! ^= 0xff; // inside the RSA signature, the last field
    const bs = await text(await post(rsa, badSig));
    expect(bs.status).toBe(400);
    expect(bs.body).toMatch(/badMessageCheck|signature/);
    const viaGet = await fetch(`${url(rsa)}?operation=PKIOperation&message=${encodeURIComponent(captured.toString('base64'))}`);
    expect(viaGet.status).toBe(200);
    expect((await text(await fetch(`${url(rsa)}?operation=PKIOperation&message=%%%`))).status).toBe(400);
    expect((await text(await fetch(`${url(rsa)}?operation=GetSomething`))).status).toBe(400);
    expect((await text(await fetch(`${url(rsa)}?operation=GetCACaps`.replace('/scep', '/scep/nolabel')))).status).toBe(404);
    expect((await fetch(`${url(rsa)}?operation=PKIOperation`, { method: 'POST', body: Buffer.alloc(70 * 1024, 0x30) })).status).toBe(413);
    expect((await fetch(`${url(rsa)}?operation=GetCACaps`, { method: 'PUT' })).status).toBe(405);
    expect(rsa!.logs()).not.toMatch(/"statusCode":5\d\d/);
    const audit = flintca(['audit', 'export', '--data', rsaData]).stdout;
    expect(audit).toMatch(/"action":"scep.PKIOperation","object":"scep:default","result":"denied"/);
    expect(existsSync(join(FIXTURES, 'README.md'))).toBe(true);
  });

  it('challenge guessing is throttled per client address (runs last: it trips the limit)', async () => {
    if (!enabled) return;
    const ca = caDer(rsaData);
    const dev = newDevice('guesser', 'wrong-guess');
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) {
      const m = await buildRequest(dev, { messageType: 19, transactionId: `guess-${i}`, recipientDer: ca, content: dev.csrDer });
      codes.push(readCertRep(Buffer.from(await (await post(rsa, m.der)).arrayBuffer()), dev).failInfo ?? -1);
    }
    expect(codes.every((c) => c === 2)).toBe(true);
    expect(flintca(['audit', 'export', '--data', rsaData]).stdout).toMatch(/too many wrong challenge passwords from this address/);
  });
});
