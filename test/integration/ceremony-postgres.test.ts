/**
 * Key ceremonies into a PostgreSQL store (the HA deployment): the worked example's install with
 * FLINTCA_DB_URL set writes the CAs and the ceremony records into PostgreSQL (no SQLite file),
 * serve issues from it, a second install or init into the same database is refused before it
 * creates anything, and a rollover appends its records to the same audit chain.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { softHsmAvailable } from '../../src/keys/index.js';
import { CEREMONY_PINS, newIssuingCa, rolloverToNewIssuingCa } from '../helpers/ceremony.js';
import { flintca, ROOT, run, serve } from '../helpers/flintca.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

const ready = requireTool(softHsmAvailable(), 'softhsm2') && requireTool(existsSync('/usr/lib/postgresql'), 'postgresql');

describe.skipIf(!ready)('key ceremonies into a PostgreSQL store', () => {
  const tmp = tempDir('flintca-ceremony-pg-');
  const work = join(tmp.path, 'work');
  const p = (...f: string[]) => join(work, ...f);
  let cluster: PgCluster;
  let env: NodeJS.ProcessEnv;
  const ceremony = (file: string) => {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'ceremony', 'run', file, '--operator', 'test-operator', '--transcript-dir', p('transcripts')], { cwd: work, env, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const yaml = (name: string, text: string) => (writeFileSync(p(name), text), p(name));
  const auditActions = () => flintca(['audit', 'export', '--data', p('data')], env).stdout.trim().split('\n').map((l) => (JSON.parse(l) as { action: string }).action);
  const issueLeaf = (name: string) => {
    run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p(`${name}.key`), '-subj', `/CN=${name}.internal`, '-addext', `subjectAltName=DNS:${name}.internal`, '-out', p(`${name}.csr`)]);
    const r = flintca(['issue', '--data', p('data'), '--csr', p(`${name}.csr`), '--profile', 'tls-server', '--out', p(`${name}.pem`)], env);
    expect(r.code, r.stderr).toBe(0);
    return p(`${name}.pem`);
  };

  beforeAll(async () => {
    cluster = await startPostgres();
    env = { ...process.env, ...CEREMONY_PINS, SOFTHSM2_CONF: p('softhsm2.conf'), FLINTCA_DB_URL: await cluster.database() };
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
    tmp.cleanup();
  });

  it('run.sh with FLINTCA_DB_URL installs into PostgreSQL; serve issues from it; the audit chain verifies', async () => {
    const r = spawnSync('bash', [join(ROOT, 'scripts/ceremony-example/run.sh'), work], { env, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(existsSync(p('data/flintca.db'))).toBe(false);
    expect(JSON.parse(readFileSync(p('data/flintca.json'), 'utf8')).databaseUrl).toBe(env.FLINTCA_DB_URL);
    expect(r.stdout).toMatch(/audit log:\s+PostgreSQL/);
    const verify = flintca(['audit', 'verify', '--data', p('data')], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(auditActions()).toEqual(expect.arrayContaining(['ca.install', 'ceremony.install']));

    const srv = await serve(p('data'), [], env);
    try {
      const leaf = issueLeaf('app');
      expect(run('openssl', ['verify', '-CAfile', p('data/ca/root.crt'), '-untrusted', p('data/ca/issuing.crt'), leaf]).stdout).toContain(': OK');
    } finally {
      await srv.stop();
    }
  });

  it('a second install or init into the same database is refused before it creates anything', () => {
    const install = readFileSync(join(ROOT, 'scripts/ceremony-example/7-install.yaml'), 'utf8').replace(/^data: data$/m, 'data: data2');
    const again = ceremony(yaml('install2.yaml', install));
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already holds a CA; a new CA needs an empty database/);
    expect(existsSync(p('data2'))).toBe(false);
    const init = flintca(['init', '--data', p('data3'), '--hsm', 'file'], env);
    expect(init.code).not.toBe(0);
    expect(init.stderr).toMatch(/already holds a CA/);
    expect(existsSync(p('data3'))).toBe(false);
  });

  it('rollover appends to the PostgreSQL audit chain; after a restart new certificates chain to the new CA', async () => {
    newIssuingCa(ceremony, yaml);
    const roll = rolloverToNewIssuingCa(ceremony, yaml);
    expect(roll.code, roll.stderr).toBe(0);
    expect(auditActions()).toEqual(expect.arrayContaining(['ca.rollover', 'ca.retire', 'ceremony.rollover']));
    const verify = flintca(['audit', 'verify', '--data', p('data')], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    const srv = await serve(p('data'), [], env);
    try {
      const leaf = issueLeaf('new');
      expect(run('openssl', ['verify', '-CAfile', p('data/ca/root.crt'), '-untrusted', p('out/issuing-2027.crt'), leaf]).stdout).toContain(': OK');
      expect(run('openssl', ['x509', '-in', leaf, '-noout', '-issuer']).stdout).toContain('Issuing CA 2027');
    } finally {
      await srv.stop();
    }
  });
});
