/**
 * ACME end to end with unmodified clients: init → serve → lego (http-01, dns-01, tls-alpn-01, names
 * resolved through pebble-challtestsrv) → openssl verify of the issued chain → lego revoke; certbot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flintca, freePort, hasCommand, run, runAsync, serve, type Served } from '../helpers/flintca.js';
import { requireTool, tempDir } from '../helpers/tmp.js';

async function waitPort(port: number, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return;
    } catch {
      if (Date.now() > end) throw new Error(`port ${port} did not open`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('ACME with lego', () => {
  const tmp = tempDir('flintca-acme-lego-');
  const data = join(tmp.path, 'data');
  const root = join(data, 'ca/root.crt');
  let served: Served | undefined;
  let dns: ChildProcess | undefined;
  let enabled = true;
  let mport = 0;
  let http01 = 0;
  let alpn = 0;
  let dir = '';

  let dnsPort = 0;
  /** lego, asynchronously, killed after 90 s. */
  const lego = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runAsync('lego', ['--server', dir, '--email', 'a@b.c', '--accept-tos', '--path', join(tmp.path, 'lego'), ...args], { env: { LEGO_CA_CERTIFICATES: root, ...env } });

  beforeAll(async () => {
    enabled = requireTool(hasCommand('lego'), 'lego') && requireTool(hasCommand('pebble-challtestsrv'), 'pebble-challtestsrv');
    if (!enabled) return;
    dnsPort = await freePort();
    mport = await freePort();
    http01 = await freePort();
    alpn = await freePort();
    dns = spawn('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${mport}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], { stdio: 'ignore' });
    await waitPort(mport);
    const r = flintca(['init', '--data', data, '--hsm', 'file', '--dns', 'localhost,127.0.0.1']);
    expect(r.code, r.stderr).toBe(0);
    served = await serve(data, ['--acme-http01-port', String(http01), '--acme-tlsalpn01-port', String(alpn), '--acme-dns-resolver', `127.0.0.1:${dnsPort}`]);
    dir = `https://localhost:${served.httpsPort}/acme/acme/directory`;
  });
  afterAll(async () => {
    if (served) await served.stop();
    dns?.kill('SIGKILL');
    tmp.cleanup();
  });

  it('issues with http-01, the chain verifies with openssl, lego renews (reusing the authorization) and revokes it', async () => {
    if (!enabled) return;
    const r = await lego(['--domains', 'app.test.internal', '--http', '--http.port', `127.0.0.1:${http01}`, 'run']);
    expect(r.code, `${r.out}\n${served!.logs().slice(-4000)}`).toBe(0);
    const crt = join(tmp.path, 'lego/certificates/app.test.internal.crt');
    const pem = readFileSync(crt, 'utf8');
    expect(pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const [leaf, issuing] = pem.split(/(?=-----BEGIN CERTIFICATE-----)/);
    writeFileSync(join(tmp.path, 'leaf.pem'), leaf!);
    writeFileSync(join(tmp.path, 'issuing.pem'), issuing!);
    const v = run('openssl', ['verify', '-CAfile', root, '-untrusted', join(tmp.path, 'issuing.pem'), join(tmp.path, 'leaf.pem')]);
    expect(v.code, v.stderr).toBe(0);
    const text = run('openssl', ['x509', '-in', join(tmp.path, 'leaf.pem'), '-noout', '-ext', 'subjectAltName']);
    expect(text.stdout).toContain('DNS:app.test.internal');

    // Renew (forced: 90-day certificate, --days 100): a new certificate; the order reuses the valid authorization.
    const firstSerial = run('openssl', ['x509', '-in', crt, '-noout', '-serial']).stdout.trim();
    const rn = await lego(['--domains', 'app.test.internal', '--http', '--http.port', `127.0.0.1:${http01}`, 'renew', '--days', '100', '--no-random-sleep']);
    expect(rn.code, rn.out).toBe(0);
    const renewedPem = readFileSync(crt, 'utf8');
    expect(run('openssl', ['x509', '-noout', '-serial'], { input: renewedPem }).stdout.trim()).not.toBe(firstSerial);
    const [leaf2] = renewedPem.split(/(?=-----BEGIN CERTIFICATE-----)/);
    writeFileSync(join(tmp.path, 'leaf.pem'), leaf2!);
    expect(run('openssl', ['verify', '-CAfile', root, '-untrusted', join(tmp.path, 'issuing.pem'), join(tmp.path, 'leaf.pem')]).code).toBe(0);

    // lego archives what it revokes: keep copies to revoke a second time.
    const files = ['crt', 'key', 'json'].map((ext) => join(tmp.path, `lego/certificates/app.test.internal.${ext}`));
    const saved = files.map((f) => readFileSync(f));
    const rv = await lego(['--domains', 'app.test.internal', 'revoke']);
    expect(rv.code, rv.out).toBe(0);
    const serial = run('openssl', ['x509', '-in', join(tmp.path, 'leaf.pem'), '-noout', '-serial']).stdout.trim().split('=')[1]!.toLowerCase();
    const list = flintca(['list', '--data', data, '--json']);
    expect(list.stdout.toLowerCase()).toContain(serial.replace(/^0+/, ''));
    files.forEach((f, i) => writeFileSync(f, saved[i]!));
    const again = await lego(['--domains', 'app.test.internal', 'revoke']);
    expect(again.code).not.toBe(0);
    expect(again.out).toMatch(/alreadyRevoked/);
  }, 200_000);

  it('issues with dns-01 (TXT through the configured resolver), including a wildcard', async () => {
    if (!enabled) return;
    const script = join(tmp.path, 'dns-exec.sh');
    // lego's exec provider: "present|cleanup FQDN VALUE" → pebble-challtestsrv management API.
    writeFileSync(script, `#!/bin/sh\nif [ "$1" = present ]; then ep=set-txt; body="{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}"; else ep=clear-txt; body="{\\"host\\":\\"$2\\"}"; fi\ncurl -sS -X POST -d "$body" http://127.0.0.1:${mport}/$ep\n`, { mode: 0o755 });
    const r = await lego(['--domains', 'dns.test.internal', '--domains', '*.wild.test.internal', '--dns', 'exec', '--dns.disable-cp', '--dns.resolvers', `127.0.0.1:${dnsPort}`, 'run'], {
      EXEC_PATH: script,
      EXEC_PROPAGATION_TIMEOUT: '10',
      EXEC_POLLING_INTERVAL: '1',
      EXEC_SEQUENCE_INTERVAL: '1',
    });
    expect(r.code, `${r.out}\n${served!.logs().slice(-4000)}`).toBe(0);
    const pem = readFileSync(join(tmp.path, 'lego/certificates/dns.test.internal.crt'), 'utf8');
    const text = run('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], { input: pem });
    expect(text.stdout).toContain('DNS:*.wild.test.internal');
  }, 200_000);

  it('lego 4.9 cannot order an IP identifier: it sends it as type dns, which RFC 8738 forbids (IP is covered with acme-client)', async () => {
    if (!enabled) return;
    const r = await lego(['--domains', '127.0.0.1', '--http', '--http.port', `127.0.0.1:${http01}`, 'run']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/rejectedIdentifier :: "127\.0\.0\.1" is not a valid DNS name/);
  }, 60_000);

  it('issues with tls-alpn-01', async () => {
    if (!enabled) return;
    const r = await lego(['--domains', 'alpn.test.internal', '--tls', '--tls.port', `127.0.0.1:${alpn}`, 'run']);
    expect(r.code, `${r.out}\n${served!.logs().slice(-4000)}`).toBe(0);
    const pem = readFileSync(join(tmp.path, 'lego/certificates/alpn.test.internal.crt'), 'utf8');
    expect(run('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], { input: pem }).stdout).toContain('DNS:alpn.test.internal');
  }, 200_000);

  it('certbot (a second client) issues with http-01 standalone', async () => {
    if (!requireTool(hasCommand('certbot'), 'certbot')) return;
    const port = http01; // the port the CA dials for http-01 (lego has released it by now)
    const cb = join(tmp.path, 'certbot');
    const r = await runAsync('certbot', ['certonly', '--standalone', '--http-01-port', String(port), '--http-01-address', '127.0.0.1', '--server', dir,
      '--config-dir', cb, '--work-dir', cb, '--logs-dir', cb, '--agree-tos', '-m', 'a@b.c', '-d', 'certbot.test.internal', '--non-interactive'], { env: { REQUESTS_CA_BUNDLE: root } });
    expect(r.code, `${r.out}\n${served!.logs().slice(-3000)}`).toBe(0);
    expect(readFileSync(join(cb, 'live/certbot.test.internal/fullchain.pem'), 'utf8')).toMatch(/BEGIN CERTIFICATE/);
  }, 200_000);
});
