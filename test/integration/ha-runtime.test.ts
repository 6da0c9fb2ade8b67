/**
 * Several `flintca serve` nodes on one store (issue 7 "nothing node-local that matters"), on SQLite
 * (one file, several processes) and on PostgreSQL (a throwaway cluster):
 *  - each lease (CRL work, OCSP responder issuance per CA) is held by exactly one node
 *    (flintca_lease_held), and both nodes sign OCSP with the same responder certificate;
 *  - a revocation made through node A (ACME revokeCert signed with the certificate key) is answered
 *    as revoked by node B's OCSP, and listed in node B's CRL, within 5 s; B never generated a CRL;
 *  - node A is killed (SIGKILL): B takes the CRL lease over and publishes the next revocation;
 *  - PostgreSQL only: stopping the database makes the node not ready (ACME gets a 503
 *    serverInternal problem with Retry-After), starting it makes it ready again without a restart.
 */
import { FlattenedSign, exportJWK, importPKCS8 } from 'jose';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certSerial, flintca, hasCommand, run, serve, type Served } from '../helpers/flintca.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms: number): Promise<{ value: T; elapsedMs: number }> {
  const start = Date.now();
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return { value, elapsedMs: Date.now() - start };
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

function haSuite(kind: 'sqlite' | 'postgres') {
  describe(`several nodes on one ${kind} store`, () => {
    const tmp = tempDir(`flintca-ha-${kind}-`);
    const data = join(tmp.path, 'data');
    const root = join(data, 'ca/root.crt');
    const issuing = join(data, 'ca/issuing.crt');
    const f = (n: string) => join(tmp.path, n);
    let cluster: PgCluster | undefined;
    let env: NodeJS.ProcessEnv = {};
    let a: Served | undefined;
    let b: Served | undefined;
    let enabled = true;

    beforeAll(async () => {
      enabled = requireTool(hasCommand('openssl'), 'openssl');
      if (!enabled) return;
      if (kind === 'postgres') {
        cluster = await startPostgres();
        env = { FLINTCA_DB_URL: await cluster.database() };
      }
      const r = flintca(['init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1'], env);
      expect(r.code, r.stderr).toBe(0);
      const cfgFile = join(data, 'flintca.json');
      const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(cfgFile, JSON.stringify({ ...cfg, revocation: { leaseSeconds: 2, crlDebounceMs: 200, storePollMs: 300 } }, null, 2));
      a = await serve(data, [], env);
      b = await serve(data, [], env);
    }, 180_000);
    afterAll(async () => {
      await a?.stop();
      await b?.stop();
      await cluster?.destroy();
      tmp.cleanup();
    });

    const held = async (n: Served): Promise<Map<string, number>> => {
      const text = await (await fetch(`http://127.0.0.1:${n.httpPort}/metrics`)).text();
      return new Map([...text.matchAll(/^flintca_lease_held\{name="([^"]+)"\} (\d)/gm)].map((m) => [m[1]!, Number(m[2])]));
    };

    function issueLeaf(name: string): { pem: string; serial: string; key: string } {
      const key = f(`${name}.key`);
      const csr = f(`${name}.csr`);
      const pem = f(`${name}.pem`);
      expect(run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/CN=${name}.test.internal`, '-addext', `subjectAltName=DNS:${name}.test.internal`, '-out', csr]).code).toBe(0);
      const r = flintca(['issue', '--data', data, '--csr', csr, '--profile', 'tls-server', '--out', pem], env);
      expect(r.code, r.stderr).toBe(0);
      return { pem, key, serial: certSerial(pem) };
    }

    const ocsp = (n: Served, leaf: string) => run('openssl', ['ocsp', '-no_nonce', '-issuer', issuing, '-cert', leaf, '-url', `http://127.0.0.1:${n.httpPort}/ocsp`, '-CAfile', root, '-resp_text'], { timeoutMs: 20_000 });
    const crlLists = async (n: Served, serial: string): Promise<boolean> => {
      const res = await fetch(`http://127.0.0.1:${n.httpPort}/crl/issuing.crl`);
      if (res.status !== 200) return false;
      writeFileSync(f('x.crl'), Buffer.from(await res.arrayBuffer()));
      const text = run('openssl', ['crl', '-inform', 'DER', '-in', f('x.crl'), '-noout', '-text']).stdout.toLowerCase();
      return text.includes(`serial number: ${serial}`);
    };

    /** HTTPS to a node, trusting only our root. */
    function https(n: Served, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
      return new Promise((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', port: n.httpsPort, method, path, ca: readFileSync(root), headers: { host: `localhost:${n.httpsPort}`, ...headers } }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    }

    /** RFC 8555 §7.6 revokeCert on node `n`, signed with the certificate's own key (jwk form). */
    async function acmeRevoke(n: Served, leaf: { pem: string; key: string }): Promise<number> {
      const base = `https://localhost:${n.httpsPort}/acme/acme`;
      const nonce = (await https(n, 'HEAD', '/acme/acme/new-nonce')).headers['replay-nonce'] as string;
      const pkcs8 = createPrivateKey(readFileSync(leaf.key)).export({ type: 'pkcs8', format: 'pem' }) as string;
      const key = await importPKCS8(pkcs8, 'ES256');
      const jwk = await exportJWK(createPrivateKey(readFileSync(leaf.key)));
      const pub = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
      const der = Buffer.from(readFileSync(leaf.pem, 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
      const payload = new TextEncoder().encode(JSON.stringify({ certificate: der.toString('base64url'), reason: 1 }));
      const jws = await new FlattenedSign(payload).setProtectedHeader({ alg: 'ES256', jwk: pub, nonce, url: `${base}/revoke-cert` }).sign(key);
      return (await https(n, 'POST', '/acme/acme/revoke-cert', JSON.stringify(jws), { 'content-type': 'application/jose+json' })).status;
    }

    it('each lease is held by exactly one node; both nodes answer OCSP with the same responder certificate', async () => {
      if (!enabled) return;
      const [ha, hb] = await Promise.all([held(a!), held(b!)]);
      const names = new Set([...ha.keys(), ...hb.keys()]);
      expect([...names]).toEqual(expect.arrayContaining(['crl:issuing', 'ocsp-responder:issuing']));
      for (const name of names) expect((ha.get(name) ?? 0) + (hb.get(name) ?? 0), name).toBe(1);
      expect(ha.get('crl:issuing')).toBe(1); // A started first
      const leaf = issueLeaf('same');
      const [ra, rb] = [ocsp(a!, leaf.pem), ocsp(b!, leaf.pem)];
      for (const r of [ra, rb]) expect(r.stdout + r.stderr).toMatch(/Response verify OK/);
      const responderId = (r: { stdout: string }) => /Responder Id: ([0-9A-F]{40})/.exec(r.stdout)?.[1];
      expect(responderId(ra)).toBeDefined();
      expect(responderId(rb)).toBe(responderId(ra));
      const audit = flintca(['audit', 'export', '--data', data], env).stdout;
      expect(audit.match(/"action":"ocsp\.responder\.issue"[^\n]*"object":"ca:issuing"/g)).toHaveLength(1);
    });

    it('revoked through node A: node B says revoked in OCSP and lists it in its CRL within 5 s; only A generates CRLs', async () => {
      if (!enabled) return;
      const leaf = issueLeaf('revoked-on-a');
      expect(ocsp(b!, leaf.pem).stdout).toMatch(/: good/); // B caches this answer
      expect(await acmeRevoke(a!, leaf)).toBe(200);
      const o = await until('node B OCSP revoked', () => /: revoked/.test(ocsp(b!, leaf.pem).stdout) || undefined, 5000);
      const c = await until('node B CRL lists it', () => crlLists(b!, leaf.serial).then((x) => x || undefined), 5000);
      console.log(`[${kind}] revocation on node A seen by node B: OCSP after ${o.elapsedMs} ms, CRL after ${c.elapsedMs} ms`);
      await until('node A logs its CRL generation', () => /"msg":"CRL generated"/.test(a!.logs()) || undefined, 2000);
      expect(b!.logs()).not.toMatch(/"msg":"CRL generated"/);
    });

    it('node A killed: node B takes the CRL lease over and publishes the next revocation', async () => {
      if (!enabled) return;
      a!.proc.kill('SIGKILL');
      await new Promise((r) => a!.proc.once('exit', r));
      a = undefined;
      const t = await until('node B holds crl:issuing', async () => ((await held(b!)).get('crl:issuing') === 1 ? true : undefined), 10_000);
      console.log(`[${kind}] CRL lease taken over ${t.elapsedMs} ms after the kill (leaseSeconds 2)`);
      const leaf = issueLeaf('revoked-on-b');
      expect(await acmeRevoke(b!, leaf)).toBe(200);
      await until('node B CRL lists the new revocation', () => crlLists(b!, leaf.serial).then((x) => x || undefined), 5000);
      await until('node B logs its CRL generation', () => /"msg":"CRL generated"/.test(b!.logs()) || undefined, 2000); // logged just after saving
      expect((await held(b!)).get('ocsp-responder:issuing')).toBe(1);
      const v = flintca(['audit', 'verify', '--data', data], env);
      expect(v.code, v.stdout + v.stderr).toBe(0);
    }, 60_000);

    if (kind === 'postgres') {
      it('database down: not ready, ACME answers 503 serverInternal with Retry-After; back up: ready again, no restart', async () => {
        if (!enabled) return;
        const readyz = async () => (await fetch(`http://127.0.0.1:${b!.httpPort}/readyz`)).status;
        expect(await readyz()).toBe(200);
        cluster!.stop();
        try {
          expect(await readyz()).toBe(503);
          const nonce = await https(b!, 'HEAD', '/acme/acme/new-nonce');
          expect(nonce.status).toBe(503);
          expect(nonce.headers['retry-after']).toBeDefined();
          const acct = await https(b!, 'POST', '/acme/acme/new-account', '{}', { 'content-type': 'application/jose+json' });
          expect(acct.status).toBe(503);
          expect(acct.headers['retry-after']).toBeDefined();
          expect(JSON.parse(acct.body)).toMatchObject({ type: 'urn:ietf:params:acme:error:serverInternal', status: 503 });
          const crl = await fetch(`http://127.0.0.1:${b!.httpPort}/crl/issuing.crl`);
          expect(crl.status).toBe(503);
          expect(crl.headers.get('retry-after')).toBeTruthy();
        } finally {
          cluster!.start();
        }
        await until('ready again', async () => ((await readyz()) === 200 ? true : undefined), 20_000);
        expect((await https(b!, 'HEAD', '/acme/acme/new-nonce')).status).toBe(200);
        expect(b!.proc.exitCode).toBeNull();
      }, 60_000);
    }
  });
}

haSuite('sqlite');
haSuite('postgres');
