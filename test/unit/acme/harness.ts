/** In-process ACME endpoints (fast path + express router) on a real SQLite store with a fake authority, driven through supertest. */
import express from 'express';
import { FlattenedSign, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import request from 'supertest';
import { FlintError } from '../../../src/errors/index.js';
import type { AcmeProvisioner } from '../../../src/protocols/acme/config.js';
import { AcmeEndpoints } from '../../../src/protocols/acme/endpoints.js';
import { acmeFastHandler } from '../../../src/protocols/acme/fast.js';
import { NonceService } from '../../../src/protocols/acme/nonces.js';
import type { AcmeDeps } from '../../../src/protocols/acme/ports.js';
import { acmeRouter } from '../../../src/protocols/acme/routes.js';
import { SqliteStore } from '../../../src/store/index.js';
import type { AuditInput } from '../../../src/store/types.js';
import { tempDir } from '../../helpers/tmp.js';

export const HOST = 'acme.test:8443';
export const BASE = `https://${HOST}/acme/acme`;

export interface Key {
  priv: CryptoKey;
  jwk: JWK;
  alg: string;
}

export async function newKey(alg = 'ES256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { priv: privateKey, jwk: await exportJWK(publicKey), alg };
}

export async function harness(opts: { provisioners?: (string | AcmeProvisioner)[]; issue?: AcmeDeps['authority']['issue']; deps?: Partial<AcmeDeps>; express?: boolean } = {}) {
  const tmp = tempDir('flintca-acme-unit-');
  const store = SqliteStore.open(join(tmp.path, 'db.sqlite'));
  const enqueued: string[] = [];
  const revoked: string[] = [];
  const audited: AuditInput[] = [];
  const deps: AcmeDeps = {
    authority: {
      issue:
        opts.issue ??
        (async () => {
          throw new Error('not used');
        }),
      revoke: async (serial: string) => {
        if (revoked.includes(serial)) throw new FlintError('alreadyRevoked', `certificate ${serial} is already revoked`);
        revoked.push(serial);
        return {};
      },
      chain: () => [],
    } as unknown as AcmeDeps['authority'],
    repo: store.acme,
    certificates: store.certificates,
    audit: { emitted: (e) => e, record: async (...e) => (audited.push(...e), []) },
    profile: 'tls-server',
    clock: () => new Date(),
    enqueueValidation: (id) => enqueued.push(id),
    ...opts.deps,
  };
  // As `serve` wires it: the fast path first, express for whatever it leaves (opts.express: express only).
  const endpoints = new AcmeEndpoints({ deps, nonces: new NonceService(store.acme), provisioners: opts.provisioners ?? ['acme'] });
  const app = express();
  app.use('/acme', acmeRouter(endpoints));
  const fast = acmeFastHandler(endpoints);
  const fastCtx = { draining: () => false, count: () => undefined };
  const handler = opts.express ? app : (req: IncomingMessage, res: ServerResponse) => void (fast(req, res, fastCtx) || app(req, res));
  const agent = () => request(handler);

  async function nonce(): Promise<string> {
    const r = await agent().head('/acme/acme/new-nonce').set('Host', HOST);
    return r.headers['replay-nonce'] as string;
  }

  /** Signs a flattened JWS; header overrides let tests break it on purpose. */
  async function jws(key: Key, path: string, payload: unknown, opts: { kid?: string; header?: Record<string, unknown>; nonce?: string; prov?: string } = {}) {
    const base = opts.prov ? `https://${HOST}/acme/${opts.prov}` : BASE;
    const header: Record<string, unknown> = { alg: key.alg, nonce: opts.nonce ?? (await nonce()), url: `${base}${path}`, ...(opts.kid ? { kid: opts.kid } : { jwk: key.jwk }), ...opts.header };
    for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
    const body = payload === '' ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    return new FlattenedSign(body).setProtectedHeader(header as { alg: string }).sign(key.priv);
  }

  async function post(path: string, body: unknown, contentType = 'application/jose+json', prov = 'acme') {
    return agent().post(`/acme/${prov}${path}`).set('Host', HOST).set('Content-Type', contentType).send(typeof body === 'string' ? body : JSON.stringify(body));
  }

  async function account(key: Key): Promise<string> {
    const r = await post('/new-account', await jws(key, '/new-account', { termsOfServiceAgreed: true, contact: ['mailto:a@b.c'] }));
    if (r.status !== 201 && r.status !== 200) throw new Error(`newAccount ${r.status} ${r.text}`);
    return r.headers.location as string;
  }

  return { store, deps, endpoints, app, agent, nonce, jws, post, account, enqueued, revoked, audited, close: async () => (await store.close(), tmp.cleanup()) };
}

export type Harness = Awaited<ReturnType<typeof harness>>;

/** A default harness with one registered ES256 account: what most test files start from. */
export async function harnessWithAccount(): Promise<{ h: Harness; key: Key; kid: string }> {
  const h = await harness();
  const key = await newKey();
  return { h, key, kid: await h.account(key) };
}
