/**
 * A node dying mid-validation (SIGKILL while its http-01 request hangs): another `flintca serve` on
 * the same store takes the challenge over once its lease lapses, and the client (acme-client, which
 * keeps using the same URLs and whose nonces came from the dead node) finishes the order there.
 * Runs on both stores: one SQLite data dir, and PostgreSQL (FLINTCA_DB_URL, a throwaway cluster).
 */
import * as acme from 'acme-client';
import { createServer, type Server, type ServerResponse } from 'node:http';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flintca, freePort, run, serve, type Served } from '../helpers/flintca.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

describe.each(['sqlite', 'postgres'] as const)('ACME across nodes (%s): a dead node\'s validation is taken over', (store) => {
  const tmp = tempDir(`flintca-acme-ha-${store}-`);
  const data = join(tmp.path, 'data');
  let a: Served | undefined;
  let b: Served | undefined;
  let responder: Server | undefined;
  let hang = true;
  const hung: ServerResponse[] = [];
  const tokens = new Map<string, string>();
  let http01 = 0;
  let cluster: PgCluster | undefined;
  /** FLINTCA_DB_URL for every command and node on PostgreSQL; empty on SQLite. */
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    if (store === 'postgres') {
      cluster = await startPostgres();
      env = { FLINTCA_DB_URL: await cluster.database() };
    }
    const r = flintca(['init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1'], env);
    expect(r.code, r.stderr).toBe(0);
    const cfgPath = join(data, 'flintca.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    cfg.acme = { processing: { leaseSeconds: 2, sweepSeconds: 1 } };
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    http01 = await freePort();
    responder = createServer((req, res) => {
      if (hang) return void hung.push(res); // node A's validation request never gets an answer
      const ka = tokens.get((req.url ?? '').split('/').pop() ?? '');
      res.writeHead(ka ? 200 : 404).end(ka ?? '');
    });
    await new Promise<void>((res) => responder!.listen(http01, '127.0.0.1', res));
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(join(data, 'ca/root.crt')) });
  }, 120_000);
  afterAll(async () => {
    if (a) await a.stop();
    if (b) await b.stop();
    hung.forEach((r) => r.destroy());
    responder?.close();
    await cluster?.destroy();
    tmp.cleanup();
  });

  it('node B validates and issues what node A started', async () => {
    a = await serve(data, ['--acme-http01-port', String(http01)], env);
    const { httpsPort } = a;
    const client = new acme.Client({ directoryUrl: `https://localhost:${httpsPort}/acme/acme/directory`, accountKey: await acme.crypto.createPrivateEcdsaKey(), backoffMin: 200, backoffMax: 1000, backoffAttempts: 30 });
    await client.createAccount({ termsOfServiceAgreed: true });
    const order = await client.createOrder({ identifiers: [{ type: 'ip', value: '127.0.0.1' }] });
    const [authz] = await client.getAuthorizations(order);
    const ch = authz!.challenges.find((c) => c.type === 'http-01')!;
    tokens.set(ch.token, await client.getChallengeKeyAuthorization(ch));
    const started = await client.completeChallenge(ch);
    expect(started.status).toBe('processing'); // node A is stuck on the hanging responder
    expect(hung.length).toBeGreaterThan(0);

    a.proc.kill('SIGKILL');
    await new Promise((r) => a!.proc.once('exit', r));
    a = undefined;
    hang = false;
    // Node B: same store, same HTTPS port (so every URL the client holds stays valid; a later --https-port wins).
    b = await serve(data, ['--acme-http01-port', String(http01), '--https-port', String(httpsPort)], env);
    await client.waitForValidStatus(ch);
    const fin = await client.finalizeOrder(order, (await acme.crypto.createCsr({ altNames: ['127.0.0.1'] }))[1]);
    expect(fin.status).toBe('valid');
    const cert = await client.getCertificate(fin);
    writeFileSync(join(tmp.path, 'chain.pem'), cert);
    expect(run('openssl', ['x509', '-in', join(tmp.path, 'chain.pem'), '-noout', '-ext', 'subjectAltName']).stdout).toContain('IP Address:127.0.0.1');
    // The takeover is in the audit log: one successful validation, by a second attempt.
    const audit = flintca(['audit', 'export', '--data', data], env).stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string; result: string; data?: { attempt?: number } });
    const validations = audit.filter((e) => e.action === 'acme.challenge.validate');
    expect(validations.map((e) => [e.result, e.data?.attempt])).toEqual([['ok', 2]]);
    const v = flintca(['audit', 'verify', '--data', data], env);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 90_000);
});
