/** Challenge validators against local servers (loopback only) with a stub resolver. */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeError } from '../../../src/protocols/acme/errors.js';
import { dns01Digest, validateDns01 } from '../../../src/protocols/acme/validation/dns01.js';
import { validateHttp01 } from '../../../src/protocols/acme/validation/http01.js';
import type { NameResolver } from '../../../src/protocols/acme/validation/resolve.js';
import { reverseName, validateTlsAlpn01 } from '../../../src/protocols/acme/validation/tlsalpn01.js';
import { hasCommand, run } from '../../helpers/flintca.js';
import { requireTool } from '../../helpers/tmp.js';
import { tempDir } from '../../helpers/tmp.js';

const KA = 'tok.thumb';
const txt: Record<string, string[]> = {};
const resolver: NameResolver = {
  addresses: async (id) => (id.value === 'nowhere.test' ? Promise.reject(new AcmeError('dns', 'NXDOMAIN')) : ['127.0.0.1']),
  txt: async (name) => txt[name] ?? [],
};

async function fails(p: Promise<unknown>, type: string): Promise<void> {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof AcmeError && e.type === type);
}

describe('http-01', () => {
  let server: Server;
  let port = 0;
  const hosts: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hosts.push(req.headers.host ?? '');
      if (req.url === '/.well-known/acme-challenge/tok') return res.end(KA + '\n');
      if (req.url === '/.well-known/acme-challenge/wrong') return res.end('nope');
      if (req.url === '/.well-known/acme-challenge/big') return res.end('x'.repeat(100_000));
      if (req.url === '/.well-known/acme-challenge/redir') return res.writeHead(302, { Location: '/.well-known/acme-challenge/tok' }).end();
      if (req.url === '/.well-known/acme-challenge/loop') return res.writeHead(302, { Location: '/.well-known/acme-challenge/loop' }).end();
      if (req.url === '/.well-known/acme-challenge/elsewhere') return res.writeHead(302, { Location: 'http://127.0.0.1:6379/x' }).end();
      if (req.url === '/.well-known/acme-challenge/slow') return; // never answers
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const id = { type: 'dns' as const, value: 'app.test.internal' };
  it('accepts the key authorization and sends the identifier as Host', async () => {
    await validateHttp01(id, 'tok', KA, resolver, { port });
    expect(hosts.at(-1)).toBe(`app.test.internal:${port}`);
    await validateHttp01(id, 'redir', KA, resolver, { port });
    await validateHttp01({ type: 'ip', value: '127.0.0.1' }, 'tok', KA, resolver, { port });
  });
  it('rejects wrong content, 404, oversized bodies, redirect loops, timeouts and unresolvable names', async () => {
    await fails(validateHttp01(id, 'wrong', KA, resolver, { port }), 'incorrectResponse');
    await fails(validateHttp01(id, 'missing', KA, resolver, { port }), 'unauthorized');
    await fails(validateHttp01(id, 'big', KA, resolver, { port }), 'unauthorized');
    await fails(validateHttp01(id, 'loop', KA, resolver, { port }), 'connection');
    await fails(validateHttp01(id, 'elsewhere', KA, resolver, { port }), 'connection');
    await fails(validateHttp01(id, 'slow', KA, resolver, { port, timeoutMs: 300 }), 'connection');
    await fails(validateHttp01({ type: 'dns', value: 'nowhere.test' }, 'tok', KA, resolver, { port }), 'dns');
  });
});

describe('dns-01', () => {
  it('checks base64url(SHA-256(keyAuthorization)) at _acme-challenge', async () => {
    const id = { type: 'dns' as const, value: 'app.test.internal' };
    await fails(validateDns01(id, KA, resolver), 'dns');
    txt['_acme-challenge.app.test.internal'] = ['other'];
    await fails(validateDns01(id, KA, resolver), 'incorrectResponse');
    txt['_acme-challenge.app.test.internal'] = ['other', dns01Digest(KA)];
    await validateDns01(id, KA, resolver);
    expect(dns01Digest(KA)).toBe(createHash('sha256').update(KA).digest('base64url'));
  });
});

describe('tls-alpn-01', () => {
  const tmp = tempDir('flintca-alpn-');
  afterAll(() => tmp.cleanup());
  it('computes reverse names for IP identifiers (RFC 8738)', () => {
    expect(reverseName('10.0.0.1')).toBe('1.0.0.10.in-addr.arpa');
    expect(reverseName('2001:db8::1')).toBe('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  });
  it.skipIf(!requireTool(hasCommand('openssl'), 'openssl'))('accepts a certificate with the acmeIdentifier extension and rejects a wrong digest', async () => {
    const mk = (name: string, ka: string) => {
      const digest = createHash('sha256').update(ka).digest('hex');
      const r = run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=acme',
        '-keyout', join(tmp.path, `${name}.key`), '-out', join(tmp.path, `${name}.crt`),
        '-addext', 'subjectAltName=DNS:app.test.internal', '-addext', `1.3.6.1.5.5.7.1.31=critical,DER:0420${digest}`]);
      expect(r.code, r.stderr).toBe(0);
      return { key: readFileSync(join(tmp.path, `${name}.key`)), cert: readFileSync(join(tmp.path, `${name}.crt`)) };
    };
    const good = mk('good', KA);
    const bad = mk('bad', 'other');
    for (const [material, expected] of [[good, null], [bad, 'incorrectResponse']] as const) {
      const srv = createTlsServer({ ...material, ALPNProtocols: ['acme-tls/1'] }, (s) => s.end());
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const port = (srv.address() as AddressInfo).port;
      const p = validateTlsAlpn01({ type: 'dns', value: 'app.test.internal' }, KA, resolver, { port, timeoutMs: 3000 });
      try {
        if (expected) await fails(p, expected);
        else await p;
      } finally {
        srv.close();
      }
    }
  });
});
