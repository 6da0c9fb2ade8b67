/**
 * ACME with the `acme-client` npm package, in process against a served instance: provisioners from
 * config, External Account Binding (`flintca acme eab create`), http-01 answered by a local responder,
 * finalize + download + openssl verify, ARI (renewal-info, replaces), key rollover, deactivation.
 */
import * as acme from 'acme-client';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certSerial, flintca, freePort, run, serve, type Served } from '../helpers/flintca.js';
import { tempDir } from '../helpers/tmp.js';

const ERR = 'urn:ietf:params:acme:error:';

/** RFC 9773 certID, computed with openssl (independently of the server's code). */
function certIdOf(pem: string, dir: string): string {
  const f = join(dir, `ari-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(f, pem);
  const aki = run('openssl', ['x509', '-in', f, '-noout', '-ext', 'authorityKeyIdentifier']).stdout.match(/([0-9A-F]{2}(?::[0-9A-F]{2})+)/)![1]!.replace(/:/g, '');
  let serial = run('openssl', ['x509', '-in', f, '-noout', '-serial']).stdout.trim().split('=')[1]!;
  if (serial.length % 2) serial = `0${serial}`;
  if (parseInt(serial.slice(0, 2), 16) & 0x80) serial = `00${serial}`;
  return `${Buffer.from(aki, 'hex').toString('base64url')}.${Buffer.from(serial, 'hex').toString('base64url')}`;
}

describe('ACME with acme-client', () => {
  const tmp = tempDir('flintca-acme-client-');
  const data = join(tmp.path, 'data');
  const root = join(data, 'ca/root.crt');
  const crossRoot = join(tmp.path, 'cross-root.pem');
  /** A copy of the data dir (before serving) for start-up checks with broken configs. */
  const spare = join(tmp.path, 'spare');
  let served: Served | undefined;
  let responder: Server | undefined;
  const tokens = new Map<string, string>();
  let base = '';

  beforeAll(async () => {
    const r = flintca(['init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1']);
    expect(r.code, r.stderr).toBe(0);
    const cfgPath = join(data, 'flintca.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    // §7.4.2 alternate chain: the issuing CA cross-signed by another root (same subject, key and SKI), made with openssl.
    const issuing = join(data, 'ca/issuing.crt');
    const ski = run('openssl', ['x509', '-in', issuing, '-noout', '-ext', 'subjectKeyIdentifier']).stdout.trim().split('\n').pop()!.replace(/[\s:]/g, '');
    run('openssl', ['x509', '-in', issuing, '-noout', '-pubkey', '-out', join(tmp.path, 'issuing-pub.pem')]);
    const gen = run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tmp.path, 'cross-root.key'), '-out', crossRoot, '-subj', '/CN=Flint Cross Root', '-days', '30']);
    expect(gen.code, gen.stderr).toBe(0);
    writeFileSync(join(tmp.path, 'cross.ext'), `basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=${ski}\nauthorityKeyIdentifier=keyid\n`);
    const x = run('openssl', ['x509', '-new', '-subj', '/O=Flint CA/CN=Flint CA Issuing CA 1', '-force_pubkey', join(tmp.path, 'issuing-pub.pem'), '-CA', crossRoot, '-CAkey', join(tmp.path, 'cross-root.key'),
      '-days', '30', '-extfile', join(tmp.path, 'cross.ext'), '-out', join(data, 'ca/issuing-cross.pem')]);
    expect(x.code, x.stderr).toBe(0);
    cfg.acme = {
      termsOfService: 'https://ca.example/tos',
      provisioners: {
        acme: {},
        eab: { requireEab: true, ipRanges: ['127.0.0.0/8'], dnsSuffixes: ['test.internal'], challenges: ['http-01'] },
      },
      alternateChains: { issuing: ['ca/issuing-cross.pem'] },
    };
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    cpSync(data, spare, { recursive: true });
    const http01 = await freePort();
    responder = createServer((req, res) => {
      const token = (req.url ?? '').split('/.well-known/acme-challenge/')[1];
      const ka = token ? tokens.get(token) : undefined;
      res.writeHead(ka ? 200 : 404, { 'content-type': 'text/plain' }).end(ka ?? 'not found');
    });
    await new Promise<void>((res) => responder!.listen(http01, '127.0.0.1', res));
    served = await serve(data, ['--acme-http01-port', String(http01)]);
    base = `https://localhost:${served.httpsPort}/acme`;
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(root) });
  }, 120_000);
  afterAll(async () => {
    if (served) await served.stop();
    responder?.close();
    tmp.cleanup();
  });

  async function issue(client: acme.Client, extra: Record<string, unknown> = {}) {
    const order = await client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }], ...extra } as Parameters<acme.Client['createOrder']>[0]);
    for (const authz of await client.getAuthorizations(order)) {
      const ch = authz.challenges.find((c) => c.type === 'http-01')!;
      tokens.set(ch.token, await client.getChallengeKeyAuthorization(ch));
      await client.completeChallenge(ch);
      await client.waitForValidStatus(ch);
    }
    const [key, csr] = await acme.crypto.createCsr({ altNames: ['127.0.0.1'] });
    const fin = await client.finalizeOrder(order, csr);
    const cert = await client.getCertificate(fin);
    return { order: fin, cert, key };
  }

  it('serves per-provisioner directories; unknown provisioner is 404', async () => {
    const d = (await acme.axios.get(`${base}/eab/directory`)).data as Record<string, any>;
    expect(d.meta.externalAccountRequired).toBe(true);
    expect(d.meta.termsOfService).toBe('https://ca.example/tos');
    expect(d.meta.profiles['tls-server']).toBeTypeOf('string');
    expect(d.renewalInfo).toBe(`${base}/eab/renewal-info`);
    const u = await acme.axios.get(`${base}/nope/directory`, { validateStatus: () => true });
    expect(u.status).toBe(404);
  });

  it('EAB: required, bad MAC refused, valid binding once; full http-01 flow; ARI; rollover; deactivation', async () => {
    const directoryUrl = `${base}/eab/directory`;
    // No binding → externalAccountRequired.
    const plain = new acme.Client({ directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey() });
    await expect(plain.createAccount({ termsOfServiceAgreed: true })).rejects.toThrow(/external account binding/i);

    const e = flintca(['acme', 'eab', 'create', '--data', data, '--provisioner', 'eab', '--json']);
    expect(e.code, e.stderr).toBe(0);
    const { kid, hmacKey } = JSON.parse(e.stdout) as { kid: string; hmacKey: string };
    expect(hmacKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(flintca(['acme', 'eab', 'create', '--data', data, '--provisioner', 'nope']).code).toBe(1);

    const bad = new acme.Client({ directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey(), externalAccountBinding: { kid, hmacKey: Buffer.alloc(32, 1).toString('base64url') } });
    await expect(bad.createAccount({ termsOfServiceAgreed: true })).rejects.toThrow(/MAC/);

    const client = new acme.Client({ directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey(), externalAccountBinding: { kid, hmacKey } });
    const acct = await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.com'] });
    expect(acct.status).toBe('valid');
    const reuse = new acme.Client({ directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey(), externalAccountBinding: { kid, hmacKey } });
    await expect(reuse.createAccount({ termsOfServiceAgreed: true })).rejects.toThrow(/already used/);

    // Identifier policy.
    await expect(client.createOrder({ identifiers: [{ type: 'dns', value: 'www.example.com' }] })).rejects.toThrow(/not under an allowed DNS suffix/);

    // Full flow: order, http-01 through the local responder, finalize, download, openssl verify.
    const first = await issue(client);
    expect(first.order.status).toBe('valid');
    const pems = first.cert.split(/(?=-----BEGIN CERTIFICATE-----)/);
    expect(pems).toHaveLength(2);
    writeFileSync(join(tmp.path, 'leaf.pem'), pems[0]!);
    writeFileSync(join(tmp.path, 'issuing.pem'), pems[1]!);
    const v = run('openssl', ['verify', '-CAfile', root, '-untrusted', join(tmp.path, 'issuing.pem'), join(tmp.path, 'leaf.pem')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(run('openssl', ['x509', '-in', join(tmp.path, 'leaf.pem'), '-noout', '-ext', 'subjectAltName']).stdout).toContain('IP Address:127.0.0.1');

    // ARI: last third of the validity period, with Retry-After.
    const certId = certIdOf(pems[0]!, tmp.path);
    const ri = await acme.axios.get(`${base}/eab/renewal-info/${certId}`);
    expect(ri.status).toBe(200);
    expect(Number(ri.headers['retry-after'])).toBeGreaterThan(0);
    const nb = new Date(run('openssl', ['x509', '-in', join(tmp.path, 'leaf.pem'), '-noout', '-startdate']).stdout.split('=')[1]!).getTime();
    const na = new Date(run('openssl', ['x509', '-in', join(tmp.path, 'leaf.pem'), '-noout', '-enddate']).stdout.split('=')[1]!).getTime();
    const w = ri.data.suggestedWindow as { start: string; end: string };
    expect(Math.abs(new Date(w.start).getTime() - (nb + ((na - nb) * 2) / 3))).toBeLessThan(2000);
    expect(Math.abs(new Date(w.end).getTime() - na)).toBeLessThan(2000);
    const missing = await acme.axios.get(`${base}/eab/renewal-info/${certId.split('.')[0]}.AQID`, { validateStatus: () => true });
    expect(missing.status).toBe(404);

    // replaces: the renewal is linked to the old certificate.
    const second = await issue(client, { replaces: certId });
    const oldSerial = certSerial(join(tmp.path, 'leaf.pem'));
    writeFileSync(join(tmp.path, 'leaf2.pem'), second.cert.split(/(?=-----BEGIN CERTIFICATE-----)/)[0]!);
    const newSerial = certSerial(join(tmp.path, 'leaf2.pem'));
    const listed = flintca(['list', '--data', data, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { serial: string; replaces: string | null });
    const rec = rows.find((x) => x.serial === newSerial);
    expect(rec, listed.stdout).toBeDefined();
    expect(rec!.replaces).toBe(oldSerial);
    // The same certificate cannot be replaced twice.
    await expect(client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }], replaces: certId } as never)).rejects.toThrow(/alreadyReplaced/);

    // A revoked certificate: renew now.
    await client.revokeCertificate(first.cert, { reason: 4 });
    const now = Date.now();
    const ri2 = (await acme.axios.get(`${base}/eab/renewal-info/${certId}`)).data.suggestedWindow as { start: string; end: string };
    expect(new Date(ri2.start).getTime()).toBeLessThanOrEqual(now);
    expect(new Date(ri2.end).getTime()).toBeGreaterThan(now);

    // Key rollover: the new key works, the account URL is unchanged.
    const url = client.getAccountUrl();
    await client.updateAccountKey(await acme.crypto.createPrivateEcdsaKey());
    expect(client.getAccountUrl()).toBe(url);
    const again = await client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
    // §7.1.4 authorization reuse: the account's valid authorization for 127.0.0.1 is attached again.
    expect(again.status).toBe('ready');
    expect(again.authorizations).toEqual(second.order.authorizations);

    // Deactivation: the account then cannot order.
    const d = await client.updateAccount({ status: 'deactivated' });
    expect(d.status).toBe('deactivated');
    await expect(client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] })).rejects.toThrow(/deactivated/);
  }, 120_000);

  it('the default provisioner needs no EAB and rejects unknown profiles', async () => {
    const client = new acme.Client({ directoryUrl: `${base}/acme/directory`, accountKey: await acme.crypto.createPrivateEcdsaKey() });
    await client.createAccount({ termsOfServiceAgreed: true });
    await expect(client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }], profile: 'nope' } as never)).rejects.toThrow(/invalidProfile/);
    const { cert } = await issue(client);
    expect(cert).toMatch(/BEGIN CERTIFICATE/);
    // A CSR with a weak key (RSA-1024) is refused by the profile at finalize: badCSR, order invalid.
    const order = await client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
    expect(order.status).toBe('ready'); // the account's valid authorization is reused
    const [, weak] = await acme.crypto.createCsr({ altNames: ['127.0.0.1'] }, await acme.crypto.createPrivateRsaKey(1024));
    const err = await client.finalizeOrder(order, weak).catch((e: unknown) => e as Error);
    expect(String(err)).toMatch(/RSA|bits|key/i);
    const after = await client.getOrder(order);
    expect(after.status).toBe('invalid');
    expect((after.error as { type?: string } | undefined)?.type).toBe(`${ERR}badCSR`);
  }, 60_000);

  it('alternate chains: Link rel="alternate" to /cert/{serial}/1 with the cross-signed chain; acme-client picks it by root name', async () => {
    const client = new acme.Client({ directoryUrl: `${base}/acme/directory`, accountKey: await acme.crypto.createPrivateEcdsaKey() });
    await client.createAccount({ termsOfServiceAgreed: true });
    const { order } = await issue(client);
    const alt = await client.getCertificate(order, 'Flint Cross Root');
    const pems = alt.split(/(?=-----BEGIN CERTIFICATE-----)/);
    expect(pems).toHaveLength(2);
    writeFileSync(join(tmp.path, 'alt-leaf.pem'), pems[0]!);
    writeFileSync(join(tmp.path, 'alt-cross.pem'), pems[1]!);
    expect(run('openssl', ['x509', '-in', join(tmp.path, 'alt-cross.pem'), '-noout', '-issuer']).stdout).toContain('Flint Cross Root');
    // The alternate chain verifies against the other root only.
    const v = run('openssl', ['verify', '-CAfile', crossRoot, '-untrusted', join(tmp.path, 'alt-cross.pem'), join(tmp.path, 'alt-leaf.pem')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const def = await client.getCertificate(order);
    expect(def.split(/(?=-----BEGIN CERTIFICATE-----)/)[1]).not.toBe(pems[1]);
  }, 60_000);

  it('serve refuses provisioners naming an unknown profile or issuer, and bad alternate chains, naming the field', () => {
    const cfgPath = join(spare, 'flintca.json');
    const good = readFileSync(cfgPath, 'utf8');
    const attempt = (acmeSection: unknown) => {
      writeFileSync(cfgPath, JSON.stringify({ ...(JSON.parse(good) as object), acme: acmeSection }));
      return flintca(['serve', '--data', spare, '--host', '127.0.0.1', '--http-port', '0', '--https-port', '0'], {}, 30_000);
    };
    const cases: [unknown, RegExp][] = [
      [{ provisioners: { p: { profiles: ['nope'] } } }, /acme\.provisioners\.p\.profiles.*unknown profile/],
      [{ provisioners: { p: { issuer: 'nope' } } }, /acme\.provisioners\.p\.issuer: unknown issuer nope/],
      [{ alternateChains: { nope: ['ca/issuing-cross.pem'] } }, /acme\.alternateChains\.nope: unknown issuer/],
      [{ alternateChains: { issuing: ['ca/root.crt'] } }, /acme\.alternateChains\.issuing\[0\]: the first certificate must be issuer issuing/],
      [{ provisioners: { p: { rateLimits: { newOrdersPerAccount: { limit: 0, window: '1h' } } } } }, /acme\.provisioners\.p\.rateLimits\.newOrdersPerAccount\.limit/],
    ];
    for (const [section, msg] of cases) {
      const r = attempt(section);
      expect(r.code, r.stdout.slice(-500)).toBe(1);
      expect(r.stderr).toMatch(msg);
    }
  }, 90_000);
});
