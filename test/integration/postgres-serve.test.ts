/**
 * One `flintca serve` node on PostgreSQL (FLINTCA_DB_URL → a throwaway database): init writes the
 * CAs there (no SQLite file), EST and the CLI issue into the same database, `flintca list` and
 * `flintca audit verify` read it back, and the node goes not-ready while PostgreSQL is down and
 * recovers by itself.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgStore } from '../../src/store/index.js';
import { certSerial, flintca, run, serve, type Served } from '../helpers/flintca.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

const PW = 'est-pg-secret';

describe('flintca serve on PostgreSQL', () => {
  const tmp = tempDir('flintca-pg-serve-');
  const data = join(tmp.path, 'data');
  const root = join(data, 'ca/root.crt');
  const f = (name: string) => join(tmp.path, name);
  let cluster: PgCluster;
  let env: NodeJS.ProcessEnv;
  let served: Served | undefined;

  beforeAll(async () => {
    cluster = await startPostgres();
    env = { FLINTCA_DB_URL: await cluster.database() };
    const r = flintca(['init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1', '--est-password', PW], env);
    expect(r.code, r.stderr).toBe(0);
    served = await serve(data, [], env);
  }, 120_000);
  afterAll(async () => {
    if (served) expect(await served.stop()).toBe(0);
    await cluster?.destroy();
    tmp.cleanup();
  });

  const ready = async () => (await fetch(`http://127.0.0.1:${served!.httpPort}/readyz`)).status;

  function csr(name: string, subj: string, san?: string, der = false): string {
    const out = f(`${name}.${der ? 'der' : 'csr'}`);
    const r = run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-subj', subj, ...(san ? ['-addext', `subjectAltName=${san}`] : []), ...(der ? ['-outform', 'DER'] : []), '-out', out]);
    expect(r.code, r.stderr).toBe(0);
    return out;
  }

  /** EST simpleenroll (RFC 7030 §4.2.1) with HTTP Basic: status and, on success, the certificate's serial. */
  function estEnroll(name: string): { status: number; serial?: string } {
    const der = csr(name, `/CN=${name}/serialNumber=7`, undefined, true);
    writeFileSync(f(`${name}.b64`), readFileSync(der).toString('base64'));
    const r = run('curl', ['-sS', '-o', f(`${name}.p7`), '-w', '%{http_code}', '--cacert', root, '-u', `est:${PW}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${f(`${name}.b64`)}`, `https://localhost:${served!.httpsPort}/.well-known/est/simpleenroll`]);
    expect(r.code, r.stderr).toBe(0);
    const status = Number(r.stdout);
    if (status !== 200) return { status };
    const p = run('sh', ['-c', `openssl base64 -d -in '${f(`${name}.p7`)}' | openssl pkcs7 -inform DER -print_certs -out '${f(`${name}.pem`)}'`]);
    expect(p.code, p.stderr).toBe(0);
    return { status, serial: certSerial(f(`${name}.pem`)) };
  }

  it('init wrote the CAs into PostgreSQL and no SQLite file', async () => {
    expect(existsSync(join(data, 'flintca.db'))).toBe(false);
    // flintca.json records the database (without a password), so a serve without the variable finds it.
    expect(JSON.parse(readFileSync(join(data, 'flintca.json'), 'utf8')).databaseUrl).toBe(env.FLINTCA_DB_URL!.replace(/:[^:@/]*@/, '@'));
    const s = await PgStore.open(env.FLINTCA_DB_URL!);
    try {
      expect((await s.cas.list()).map((c) => c.id)).toEqual(expect.arrayContaining(['root', 'issuing']));
      expect((await s.audit.head())!.seq).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
    expect(await ready()).toBe(200);
  });

  const serials: string[] = [];
  it('issues through EST on the node and through the CLI into the same database', () => {
    const est = estEnroll('est-dev');
    expect(est.status).toBe(200);
    serials.push(est.serial!);
    const out = f('cli.crt');
    const r = flintca(['issue', '--data', data, '--csr', csr('cli', '/CN=cli.test.internal', 'DNS:cli.test.internal'), '--profile', 'tls-server', '--out', out], env);
    expect(r.code, r.stderr).toBe(0);
    expect(run('openssl', ['verify', '-CAfile', root, '-untrusted', join(data, 'ca/issuing.crt'), out]).stdout).toMatch(/: OK/);
    serials.push(certSerial(out));
  });

  it('revoke, list and audit verify work against the same database', () => {
    expect(flintca(['revoke', '--data', data, '--serial', serials[0]!, '--reason', 'keyCompromise'], env).code).toBe(0);
    const list = flintca(['list', '--data', data, '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as { serial: string; status: string });
    expect(rows.find((c) => c.serial === serials[0])?.status).toBe('revoked');
    expect(rows.find((c) => c.serial === serials[1])?.status).toBe('valid');
    const v = flintca(['audit', 'verify', '--data', data], env);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/audit log OK/);
  });

  it('goes not-ready while PostgreSQL is down, answers 503, and recovers without a restart', async () => {
    cluster.stop();
    try {
      expect(await ready()).toBe(503);
      expect(estEnroll('est-down').status).toBe(503);
    } finally {
      cluster.start();
    }
    const end = Date.now() + 20_000;
    while ((await ready()) !== 200) {
      if (Date.now() > end) throw new Error(`not ready again after the restart:\n${served!.logs().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(estEnroll('est-again').status).toBe(200);
    expect(served!.proc.exitCode).toBeNull();
    const v = flintca(['audit', 'verify', '--data', data], env);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 60_000);
});
