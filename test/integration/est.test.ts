/**
 * EST (RFC 7030) end to end through the real binary, driven by curl + openssl as an independent
 * client (ARCHITECTURE.md rule 10): cacerts, simpleenroll (Basic and client cert), simplereenroll,
 * csrattrs, serverkeygen, manual approval, manufacturer (bootstrap CA) enrollment, channel
 * binding (a node https client, since curl cannot read its own TLS session), and the error
 * statuses for bad input.
 */
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flintca, hasCommand, run, serve, type Served } from '../helpers/flintca.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

const PW = 'est-s3cret';

describe('EST front-end', () => {
  const tmp = tempDir('flintca-est-');
  const data = join(tmp.path, 'data');
  const root = join(data, 'ca/root.crt');
  const issuing = join(data, 'ca/issuing.crt');
  let served: Served | undefined;
  let enabled = true;
  let n = 0;
  const f = (name: string) => join(tmp.path, name);
  const base = (path: string) => `https://localhost:${served!.httpsPort}/.well-known/est/${path}`;

  beforeAll(async () => {
    enabled = requireTool(hasCommand('curl') && hasCommand('openssl'), 'curl + openssl');
    if (!enabled) return;
    const r = flintca(['init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1', '--est-password', PW]);
    expect(r.code, r.stderr).toBe(0);
    const cfgPath = join(data, 'flintca.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    // Manufacturer CA (IDevID-style) and a device certificate it issued, made with openssl.
    const mk = (args: string[]) => expect(run('openssl', args).code).toBe(0);
    mk(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('mfg-ca.key'), '-out', join(data, 'bootstrap-ca.pem'), '-subj', '/CN=Acme Manufacturing CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
    mk(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('idevid.key'), '-out', f('idevid.csr'), '-subj', '/CN=idevid-0001/serialNumber=0001']);
    mk(['x509', '-req', '-in', f('idevid.csr'), '-CA', join(data, 'bootstrap-ca.pem'), '-CAkey', f('mfg-ca.key'), '-set_serial', '4242', '-days', '2', '-out', f('idevid.crt')]);
    cfg.est.labels = {
      gated: { profile: 'device', requireApproval: true },
      certonly: { profile: 'device', auth: 'cert' },
      mfg: { profile: 'device', auth: 'cert', bootstrapCaFile: 'bootstrap-ca.pem' },
      bound: { profile: 'device', channelBinding: true },
    };
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    served = await serve(data);
  });
  afterAll(async () => {
    if (served) expect(await served.stop()).toBe(0);
    tmp.cleanup();
  });

  /** curl with the CA root as trust anchor; returns status, lower-cased headers and the body. */
  function curl(path: string, args: string[] = []): { status: number; headers: string; body: string } {
    const hdr = f(`h${++n}.txt`);
    const r = run('curl', ['-sS', '--cacert', root, '-D', hdr, ...args, base(path)]);
    expect(r.code, r.stderr).toBe(0);
    const headers = readFileSync(hdr, 'utf8').toLowerCase();
    return { status: Number(/^http\/[\d.]+ (\d+)/.exec(headers)![1]), headers, body: r.stdout };
  }

  function newCsr(name: string, subj: string, extra: string[] = [], key?: string): string {
    const keyArgs = key ? ['-key', key] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`)];
    const r = run('openssl', ['req', '-new', ...keyArgs, '-subj', subj, ...extra, '-outform', 'DER', '-out', f(`${name}.der`)]);
    expect(r.code, r.stderr).toBe(0);
    const b64 = run('openssl', ['base64', '-in', f(`${name}.der`), '-out', f(`${name}.b64`)]);
    expect(b64.code).toBe(0);
    return f(`${name}.b64`);
  }

  const post = (csrFile: string, auth: string[] = ['-u', `est:${PW}`], type = 'application/pkcs10') => ['-H', `Content-Type: ${type}`, '--data-binary', `@${csrFile}`, ...auth];

  /** certs-only body → PEM certificates (openssl base64 -d | openssl pkcs7 -print_certs). */
  function certsOnly(body: string, out: string): string {
    writeFileSync(f(`${out}.p7.b64`), body);
    const r = run('sh', ['-c', `openssl base64 -d -in '${f(`${out}.p7.b64`)}' | openssl pkcs7 -inform DER -print_certs -out '${f(`${out}.pem`)}'`]);
    expect(r.code, r.stderr).toBe(0);
    return f(`${out}.pem`);
  }
  const serialOf = (pem: string) => run('openssl', ['x509', '-in', pem, '-noout', '-serial']).stdout.trim();
  const verify = (pem: string) => expect(run('openssl', ['verify', '-CAfile', root, '-untrusted', issuing, pem]).stdout).toMatch(/: OK/);

  it('cacerts returns the issuing chain as a certs-only CMS', () => {
    if (!enabled) return;
    const r = curl('cacerts');
    expect(r.status).toBe(200);
    expect(r.headers).toMatch(/content-type: application\/pkcs7-mime; smime-type=certs-only/);
    expect(r.headers).toMatch(/content-transfer-encoding: base64/);
    const pem = readFileSync(certsOnly(r.body, 'cacerts'), 'utf8');
    expect(pem).toMatch(/Issuing CA 1/);
    expect(pem).toMatch(/Root CA/);
  });

  it('csrattrs lists the key types of the label profile', () => {
    if (!enabled) return;
    const r = curl('csrattrs');
    expect(r.status).toBe(200);
    expect(r.headers).toMatch(/content-type: application\/csrattrs/);
    writeFileSync(f('attrs.b64'), r.body);
    const p = run('sh', ['-c', `openssl base64 -d -in '${f('attrs.b64')}' | openssl asn1parse -inform DER`]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/id-ecPublicKey/);
    expect(p.stdout).toMatch(/prime256v1/);
    expect(p.stdout).toMatch(/rsaEncryption/);
  });

  let leaf = '';
  it('simpleenroll with HTTP Basic issues a certificate openssl verifies', () => {
    if (!enabled) return;
    const csr = newCsr('dev1', '/CN=dev1/serialNumber=42');
    const r = curl('simpleenroll', post(csr));
    expect(r.status, r.body).toBe(200);
    expect(r.headers).toMatch(/smime-type=certs-only/);
    leaf = certsOnly(r.body, 'dev1');
    verify(leaf);
    expect(run('openssl', ['x509', '-in', leaf, '-noout', '-subject']).stdout).toMatch(/CN\s*=\s*dev1/);
  });

  it('simpleenroll with our TLS client certificate (no password) works too', () => {
    if (!enabled) return;
    const r = curl('simpleenroll', post(newCsr('dev1b', '/CN=dev1b'), ['--cert', leaf, '--key', f('dev1.key')]));
    expect(r.status, r.body).toBe(200);
    verify(certsOnly(r.body, 'dev1b'));
  });

  it('simplereenroll renews with the client certificate and revokes the old one as superseded', () => {
    if (!enabled) return;
    const tls = ['--cert', leaf, '--key', f('dev1.key')];
    const mismatched = curl('simplereenroll', post(newCsr('re-bad', '/CN=someone-else', [], f('dev1.key')), tls));
    expect(mismatched.status).toBe(400);
    expect(mismatched.body).toMatch(/subject/);
    const noCert = curl('simplereenroll', post(newCsr('re-nocert', '/CN=dev1/serialNumber=42', [], f('dev1.key'))));
    expect(noCert.status).toBe(401);
    const csr = newCsr('re', '/CN=dev1/serialNumber=42', [], f('dev1.key'));
    const r = curl('simplereenroll', post(csr, tls));
    expect(r.status, r.body).toBe(200);
    const renewed = certsOnly(r.body, 're');
    verify(renewed);
    expect(serialOf(renewed)).not.toBe(serialOf(leaf));
    const list = flintca(['list', '--data', data, '--json']);
    const old = serialOf(leaf).replace('serial=', '').toLowerCase();
    expect(list.stdout.split('\n').find((l) => l.toLowerCase().includes(old))).toMatch(/revoked/);
    const again = curl('simplereenroll', post(csr, tls));
    expect(again.status).toBe(401);
    expect(again.body).toMatch(/revoked/);
  });

  it('rejects bad input with text/plain 4xx reasons', () => {
    if (!enabled) return;
    const csr = newCsr('bad', '/CN=bad1');
    const type = curl('simpleenroll', post(csr, undefined, 'text/plain'));
    expect(type.status).toBe(415);
    writeFileSync(f('notb64.txt'), 'this is not base64 !!');
    expect(curl('simpleenroll', post(f('notb64.txt'))).status).toBe(400);
    writeFileSync(f('garbage.b64'), Buffer.from('garbage that is not DER').toString('base64'));
    const garbage = curl('simpleenroll', post(f('garbage.b64')));
    expect(garbage.status).toBe(400);
    expect(garbage.headers).toMatch(/content-type: text\/plain/);
    const der = readFileSync(f('bad.der'));
    der[der.length - 3]! ^= 0xff; // inside the signature
    writeFileSync(f('badsig.b64'), der.toString('base64'));
    const badSig = curl('simpleenroll', post(f('badsig.b64')));
    expect(badSig.status).toBe(400);
    expect(badSig.body).toMatch(/signature/i);
    const noCn = curl('simpleenroll', post(newCsr('nocn', '/O=Example')));
    expect(noCn.status).toBe(400);
    expect(noCn.body).toMatch(/CN|common ?name/i);
    expect(curl('nolabel/cacerts').status).toBe(404);
    expect(curl('nolabel/simpleenroll', post(csr)).status).toBe(404);
    expect(curl('bogusop').status).toBe(404);
    expect(curl('simpleenroll').status).toBe(405);
    expect(curl('fullcmc', post(csr)).status).toBe(501);
    const anon = curl('simpleenroll', post(csr, []));
    expect(anon.status).toBe(401);
    expect(anon.headers).toMatch(/www-authenticate: basic realm="estrealm"/);
  });

  it('a cert-only label refuses HTTP Basic with 403', () => {
    if (!enabled) return;
    const r = curl('certonly/simpleenroll', post(newCsr('co', '/CN=co1')));
    expect(r.status).toBe(403);
  });

  it('serverkeygen returns a generated PKCS#8 key and its certificate', () => {
    if (!enabled) return;
    const r = curl('serverkeygen', post(newCsr('skg', '/CN=skg1')));
    expect(r.status, r.body).toBe(200);
    const boundary = /boundary=([^\s;]+)/.exec(r.headers)![1]!;
    const parts = r.body.split(new RegExp(`--${boundary}`, 'i')).slice(1, 3).map((p) => p.split(/\r\n\r\n/)[1]!);
    writeFileSync(f('skg.key.b64'), parts[0]!);
    const key = run('sh', ['-c', `openssl base64 -d -in '${f('skg.key.b64')}' | openssl pkey -inform DER -pubout`]);
    expect(key.code, key.stderr).toBe(0);
    const cert = certsOnly(parts[1]!, 'skg');
    verify(cert);
    expect(run('openssl', ['x509', '-in', cert, '-noout', '-pubkey']).stdout).toBe(key.stdout);
  });

  it('a label requiring approval answers 202 until an operator decides', () => {
    if (!enabled) return;
    const csr = newCsr('gated', '/CN=gated1');
    const first = curl('gated/simpleenroll', post(csr));
    expect(first.status).toBe(202);
    expect(first.headers).toMatch(/retry-after: \d+/);
    expect(curl('gated/simpleenroll', post(csr)).status).toBe(202);
    const id = createHash('sha256').update(readFileSync(f('gated.der'))).digest('hex');
    expect(flintca(['requests', 'list', '--data', data, '--status', 'pending']).stdout).toContain(id);
    const ap = flintca(['requests', 'approve', '--data', data, '--id', id]);
    expect(ap.code, ap.stderr).toBe(0);
    const issued = curl('gated/simpleenroll', post(csr));
    expect(issued.status, issued.body).toBe(200);
    const cert = certsOnly(issued.body, 'gated');
    verify(cert);
    const again = curl('gated/simpleenroll', post(csr));
    expect(again.status).toBe(200);
    expect(serialOf(certsOnly(again.body, 'gated2'))).toBe(serialOf(cert));

    const csr2 = newCsr('gated-no', '/CN=gated2');
    expect(curl('gated/simpleenroll', post(csr2)).status).toBe(202);
    const id2 = createHash('sha256').update(readFileSync(f('gated-no.der'))).digest('hex');
    expect(flintca(['requests', 'reject', '--data', data, '--id', id2, '--reason', 'unknown device']).code).toBe(0);
    const rejected = curl('gated/simpleenroll', post(csr2));
    expect(rejected.status).toBe(403);
    expect(rejected.body).toMatch(/unknown device/);
  });

  it('a device certificate from the bootstrap CA enrolls on the bootstrap label only', () => {
    if (!enabled) return;
    const idev = ['--cert', f('idevid.crt'), '--key', f('idevid.key')];
    const r = curl('mfg/simpleenroll', post(newCsr('mfg1', '/CN=dev-mfg-1'), idev));
    expect(r.status, r.body).toBe(200);
    const cert = certsOnly(r.body, 'mfg1');
    verify(cert);
    expect(run('openssl', ['x509', '-in', cert, '-noout', '-subject']).stdout).toMatch(/CN\s*=\s*dev-mfg-1/);
    // Same device certificate where no bootstrap CA is configured: not ours → 401.
    const other = curl('certonly/simpleenroll', post(newCsr('mfg2', '/CN=dev-mfg-2'), idev));
    expect(other.status).toBe(401);
    expect(other.body).toMatch(/client certificate not accepted/);
    // A manufacturer certificate does not renew (simplereenroll needs one of ours).
    expect(curl('mfg/simplereenroll', post(newCsr('mfg3', '/CN=idevid-0001/serialNumber=0001', [], f('idevid.key')), idev)).status).toBe(401);
    const audit = flintca(['audit', 'export', '--data', data]);
    expect(audit.stdout).toMatch(/"action":"est\.bootstrap".*idevid-0001/);
  });

  /** One HTTPS exchange through `agent`; resolves with the socket it used (keep-alive reuse). */
  function call(agent: Agent, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string; socket: TLSSocket }> {
    return new Promise((resolve, reject) => {
      const rq = request({ host: 'localhost', port: served!.httpsPort, path: `/.well-known/est/${path}`, method, headers, agent }, (res) => {
        const socket = res.socket as TLSSocket; // released to the agent (null here) by 'end'
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8'), socket }));
        res.on('error', reject);
      });
      rq.on('error', reject);
      rq.end(body);
    });
  }

  /** A base64 DER CSR whose PKCS#9 challengePassword is `pw` (openssl req -config, prompt = no). */
  function csrWithPassword(name: string, cn: string, pw: string): string {
    writeFileSync(f(`${name}.cnf`), `[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\n[dn]\nCN = ${cn}\n[attrs]\nchallengePassword = ${pw}\n`);
    // No -subj: with it, openssl req skips the config's attributes section.
    const r = run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-config', f(`${name}.cnf`), '-outform', 'DER', '-out', f(`${name}.der`)]);
    expect(r.code, r.stderr).toBe(0);
    expect(run('openssl', ['base64', '-in', f(`${name}.der`), '-out', f(`${name}.b64`)]).code).toBe(0);
    return readFileSync(f(`${name}.b64`), 'utf8');
  }

  const basicAuth = { Authorization: `Basic ${Buffer.from(`est:${PW}`).toString('base64')}`, 'Content-Type': 'application/pkcs10' };

  for (const [version, binding] of [
    ['TLSv1.3', (s: TLSSocket) => s.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0))],
    ['TLSv1.2', (s: TLSSocket) => s.getFinished()!], // tls-unique: the client's Finished of a full handshake
  ] as const) {
    it(`channel binding (${version}): the CSR challengePassword must carry this connection's binding`, async () => {
      if (!enabled) return;
      const ca = readFileSync(root);
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca, maxVersion: version, minVersion: version });
      try {
        const attrs = await call(agent, 'GET', 'bound/csrattrs');
        expect(attrs.status).toBe(200);
        expect(Buffer.from(attrs.body, 'base64').toString('hex')).toContain('06092a864886f70d010907'); // challengePassword OID
        const socket = attrs.socket;
        expect(socket.getProtocol()).toBe(version);
        const cb = binding(socket).toString('base64');
        const tag = version.replace('.', '');
        const good = csrWithPassword(`cb-${tag}`, `bound-${tag}`, cb);
        const ok = await call(agent, 'POST', 'bound/simpleenroll', basicAuth, good);
        expect(ok.socket).toBe(socket); // same TLS connection
        expect(ok.status, ok.body).toBe(200);
        verify(certsOnly(ok.body, `cb-${tag}`));
        const wrong = await call(agent, 'POST', 'bound/simpleenroll', basicAuth, csrWithPassword(`cbx-${tag}`, `bound-x-${tag}`, Buffer.alloc(32, 1).toString('base64')));
        expect(wrong.status).toBe(400);
        expect(wrong.body).toMatch(/channel binding/);
        const none = await call(agent, 'POST', 'bound/simpleenroll', basicAuth, readFileSync(newCsr(`cbn-${tag}`, `/CN=bound-n-${tag}`), 'utf8'));
        expect(none.status).toBe(400);
        expect(none.body).toMatch(/challengePassword is missing/);
      } finally {
        agent.destroy();
      }
      // The CSR made for that connection, replayed over a new one: refused.
      const other = new Agent({ keepAlive: false, ca, maxVersion: version, minVersion: version });
      try {
        const replay = await call(other, 'POST', 'bound/simpleenroll', basicAuth, readFileSync(f(`cb-${version.replace('.', '')}.b64`), 'utf8'));
        expect(replay.status).toBe(400);
        expect(replay.body).toMatch(/does not match/);
      } finally {
        other.destroy();
      }
      expect(flintca(['audit', 'export', '--data', data]).stdout).toMatch(/"action":"est\.simpleenroll".*"result":"denied".*channel binding/);
    });
  }

  it('concurrent retries of an approved request get one and the same certificate', async () => {
    if (!enabled) return;
    const csr = readFileSync(newCsr('race', '/CN=gated-race'), 'utf8');
    const agents = [0, 1, 2, 3].map(() => new Agent({ keepAlive: false, ca: readFileSync(root) }));
    try {
      expect((await call(agents[0]!, 'POST', 'gated/simpleenroll', basicAuth, csr)).status).toBe(202);
      const id = createHash('sha256').update(readFileSync(f('race.der'))).digest('hex');
      expect(flintca(['requests', 'approve', '--data', data, '--id', id]).code).toBe(0);
      const answers = await Promise.all(agents.map((a) => call(a, 'POST', 'gated/simpleenroll', basicAuth, csr)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      const serials = new Set(answers.map((a, i) => serialOf(certsOnly(a.body, `race${i}`))));
      expect(serials.size).toBe(1);
    } finally {
      for (const a of agents) a.destroy();
    }
    const issued = flintca(['list', '--data', data, '--json']).stdout.split('\n').filter((l) => l.includes('gated-race'));
    expect(issued).toHaveLength(1);
  });

  // Last: it locks this client address out for a minute.
  it('a wrong password is 401, repeated failures are 429, and denials are audited', () => {
    if (!enabled) return;
    const csr = newCsr('pw', '/CN=pw1');
    const wrong = curl('simpleenroll', post(csr, ['-u', 'est:wrong']));
    expect(wrong.status).toBe(401);
    expect(wrong.headers).toMatch(/www-authenticate: basic realm="estrealm"/);
    let last = wrong;
    for (let i = 0; i < 6 && last.status !== 429; i++) last = curl('simpleenroll', post(csr, ['-u', 'est:wrong']));
    expect(last.status).toBe(429);
    expect(last.headers).toMatch(/retry-after: \d+/);
    const audit = flintca(['audit', 'export', '--data', data]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/"action":"est\.simpleenroll".*"result":"denied".*wrong EST user name or password/);
  });
});
