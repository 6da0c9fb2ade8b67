/**
 * ACME with the `acme-client` npm package, in process against a served instance: provisioners from
 * config, External Account Binding (`flintca acme eab create`), http-01 answered by a local responder,
 * finalize + download + openssl verify, ARI (renewal-info, replaces), key rollover, deactivation.
 */
import * as acme from 'acme-client';
import Database from 'better-sqlite3';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flintca, freePort, run, serve, type Served } from '../helpers/flintca.js';
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
  let served: Served | undefined;
  let responder: Server | undefined;
  const tokens = new Map<string, string>();
  let base = '';

  beforeAll(async () => {
    const r = flintca(['init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1']);
    expect(r.code, r.stderr).toBe(0);
    const cfgPath = join(data, 'flintca.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    cfg.acme = {
      termsOfService: 'https://ca.example/tos',
      provisioners: {
        acme: {},
        eab: { requireEab: true, ipRanges: ['127.0.0.0/8'], dnsSuffixes: ['test.internal'], challenges: ['http-01'] },
      },
    };
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
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
    const oldSerial = run('openssl', ['x509', '-in', join(tmp.path, 'leaf.pem'), '-noout', '-serial']).stdout.trim().split('=')[1]!.toLowerCase().replace(/^0+/, '');
    writeFileSync(join(tmp.path, 'leaf2.pem'), second.cert.split(/(?=-----BEGIN CERTIFICATE-----)/)[0]!);
    const newSerial = run('openssl', ['x509', '-in', join(tmp.path, 'leaf2.pem'), '-noout', '-serial']).stdout.trim().split('=')[1]!.toLowerCase().replace(/^0+/, '');
    const db = new Database(join(data, 'flintca.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT serial, replaces FROM certificates').all() as { serial: string; replaces: string | null }[];
      const rec = rows.find((x) => x.serial.replace(/^0+/, '') === newSerial);
      expect(rec, JSON.stringify(rows)).toBeDefined();
      expect((rec!.replaces ?? '').replace(/^0+/, '')).toBe(oldSerial);
    } finally {
      db.close();
    }
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
    void ERR;
  }, 60_000);
});
