/**
 * lego, unmodified, through a layer-7 load balancer in front of two nodes on one PostgreSQL store:
 * haproxy in http mode ends TLS, balances every request round-robin (so one issuance's nonce,
 * account, order, challenge, finalize and download land on both nodes) and re-encrypts to the
 * nodes, health-checking /readyz on their HTTP port. A node killed -9 is taken out by haproxy and
 * lego keeps issuing through the other; every chain verifies with openssl.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flintca, freePort, hasCommand, run, runAsync, serve, type Served } from '../helpers/flintca.js';
import { loggedRequests, waitFor } from '../helpers/ha-nodes.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

const ready = requireTool(hasCommand('lego'), 'lego') && requireTool(hasCommand('pebble-challtestsrv'), 'pebble-challtestsrv') && requireTool(hasCommand('haproxy'), 'haproxy');

describe.skipIf(!ready)('lego through haproxy (http mode, per-request round robin) over two nodes on PostgreSQL', () => {
  const tmp = tempDir('flintca-acme-lb-');
  const data = join(tmp.path, 'data');
  const root = join(data, 'ca/root.crt');
  const f = (name: string) => join(tmp.path, name);
  const nodes: Served[] = [];
  let cluster: PgCluster | undefined;
  let dns: ChildProcess | undefined;
  let lb: ChildProcess | undefined;
  let lbLog = '';
  let env: NodeJS.ProcessEnv = {};
  let lbPort = 0;
  let http01 = 0;

  const lego = (args: string[]) =>
    runAsync('lego', ['--server', `https://localhost:${lbPort}/acme/acme/directory`, '--email', 'a@b.c', '--accept-tos', '--path', f('lego'), ...args], { env: { LEGO_CA_CERTIFICATES: root } });
  const issueThroughLb = async (name: string) => {
    const r = await lego(['--domains', name, '--http', '--http.port', `127.0.0.1:${http01}`, 'run']);
    expect(r.code, `${r.out}\n${lbLog.slice(-2000)}`).toBe(0);
    const pem = readFileSync(f(`lego/certificates/${name}.crt`), 'utf8');
    const [leaf, ...chain] = pem.split(/(?=-----BEGIN CERTIFICATE-----)/);
    writeFileSync(f(`${name}.leaf.pem`), leaf!);
    writeFileSync(f(`${name}.chain.pem`), chain.join(''));
    expect(run('openssl', ['verify', '-CAfile', root, '-untrusted', f(`${name}.chain.pem`), f(`${name}.leaf.pem`)]).stdout).toContain(': OK');
  };
  /** ACME POSTs each node logged. */
  const acmePosts = (n: Served) => loggedRequests(n.logs()).filter((q) => q.method === 'POST' && q.url.startsWith('/acme/'));

  beforeAll(async () => {
    cluster = await startPostgres();
    env = { FLINTCA_DB_URL: await cluster.database() };
    const dnsPort = await freePort();
    const mgmtPort = await freePort();
    http01 = await freePort();
    lbPort = await freePort();
    dns = spawn('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${mgmtPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], { stdio: 'ignore' });
    const init = flintca(['init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1'], env);
    expect(init.code, init.stderr).toBe(0);
    for (let i = 0; i < 2; i++) nodes.push(await serve(data, ['--acme-http01-port', String(http01), '--acme-dns-resolver', `127.0.0.1:${dnsPort}`], env));

    // The balancer's own certificate for localhost, from the CA (chain included for lego).
    expect(run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('lb.key'), '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-out', f('lb.csr')]).code).toBe(0);
    const lbCert = flintca(['issue', '--data', data, '--csr', f('lb.csr'), '--profile', 'tls-server', '--out', f('lb.crt')], env);
    expect(lbCert.code, lbCert.stderr).toBe(0);
    writeFileSync(f('lb.pem'), readFileSync(f('lb.crt'), 'utf8') + readFileSync(join(data, 'ca/issuing.crt'), 'utf8') + readFileSync(f('lb.key'), 'utf8'));
    const servers = nodes.map((n, i) =>
      `  server n${i} 127.0.0.1:${n.httpsPort} ssl verify required ca-file ${root} sni str(localhost) check port ${n.httpPort} no-check-ssl inter 200ms fall 2 rise 2`);
    writeFileSync(f('haproxy.cfg'), [
      'global', '  maxconn 200',
      'defaults', '  mode http', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s', '  retries 2', '  option redispatch',
      'frontend acme', `  bind 127.0.0.1:${lbPort} ssl crt ${f('lb.pem')}`, '  default_backend nodes',
      'backend nodes', '  balance roundrobin', '  option httpchk GET /readyz', ...servers, '',
    ].join('\n'));
    expect(run('haproxy', ['-c', '-f', f('haproxy.cfg')]).code).toBe(0);
    lb = spawn('haproxy', ['-db', '-f', f('haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
    lb.stdout!.on('data', (d) => (lbLog += d));
    lb.stderr!.on('data', (d) => (lbLog += d));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${mgmtPort}/`).then(() => true, () => false)) && run('curl', ['-sf', '--cacert', root, `https://localhost:${lbPort}/acme/acme/directory`]).code === 0, 15_000, 100);
  }, 90_000);
  afterAll(async () => {
    lb?.kill('SIGKILL');
    dns?.kill('SIGKILL');
    for (const n of nodes) await n.stop();
    await cluster?.destroy();
    tmp.cleanup();
  });

  it('issues with http-01 while every request is balanced across both nodes', async () => {
    await issueThroughLb('lb1.test.internal');
    await issueThroughLb('lb2.test.internal');
    // Both nodes answered POSTs of the same issuances: nonces, orders and authorizations crossed nodes.
    const [a, b] = nodes.map(acmePosts);
    expect(a!.length, nodes[0]!.logs().slice(-2000)).toBeGreaterThan(0);
    expect(b!.length, nodes[1]!.logs().slice(-2000)).toBeGreaterThan(0);
    expect([...a!, ...b!].filter((q) => q.url.endsWith('/finalize') && q.status === 200)).toHaveLength(2);
    const badNonce = [...a!, ...b!].filter((q) => q.status === 400);
    expect(badNonce).toEqual([]);
  });

  it('a node killed -9 is taken out by the balancer; lego keeps issuing and revoking through the other', async () => {
    nodes[0]!.proc.kill('SIGKILL');
    await waitFor(() => nodes[0]!.proc.exitCode !== null || nodes[0]!.proc.signalCode !== null, 5_000, 50);
    const before = acmePosts(nodes[1]!).length;
    await issueThroughLb('lb3.test.internal');
    expect(acmePosts(nodes[1]!).length).toBeGreaterThan(before);
    const revoke = await lego(['--domains', 'lb3.test.internal', 'revoke']);
    expect(revoke.code, revoke.out).toBe(0);
    const listed = flintca(['list', '--data', data, '--json'], env).stdout.trim().split('\n').map((l) => JSON.parse(l) as { sans: string[]; status: string });
    expect(listed.find((c) => c.sans.some((s) => s.includes('lb3.test.internal')))?.status).toBe('revoked');
  });
});
