/** `flintca scep challenge` and `flintca token create|list|revoke` (admin API bearer tokens). */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { AuditLog } from '../audit/index.js';
import { loadConfig } from '../config/index.js';
import { FlintError } from '../errors/index.js';
import { checkScopes, newAdminToken } from '../http/admin-auth.js';
import { parseDuration } from '../profiles/index.js';
import { ScepChallenges } from '../protocols/scep/challenges.js';
import { loadScepConfig } from '../protocols/scep/config.js';
import { makeLogger, openStore } from './runtime.js';
import type { Store } from '../store/types.js';

const actor = () => `cli:${userInfo().username}`;

async function withStore<T>(data: string, fn: (store: Store, audit: AuditLog, config: ReturnType<typeof loadConfig>) => Promise<T>): Promise<T> {
  const config = loadConfig(data);
  const store = await openStore(config);
  const audit = new AuditLog(store.audit, makeLogger('stderr', 'warn'));
  try {
    return await fn(store, audit, config);
  } finally {
    await store.close();
  }
}

export async function runScepChallenge(o: { data: string; label: string; ttl: string; subject?: string; dns?: string; json?: boolean }, out: (s: string) => void): Promise<void> {
  let ttlMs: number;
  try {
    ttlMs = parseDuration(o.ttl);
  } catch (e) {
    throw new FlintError('malformed', `--ttl: ${(e as Error).message}`);
  }
  const commonName = o.subject?.replace(/^CN=/i, '');
  const dns = o.dns?.split(',').map((s) => s.trim()).filter(Boolean);
  await withStore(o.data, async (store, audit, config) => {
    const challenges = new ScepChallenges({ enrollment: store.enrollment, recentEvents: store.recentEvents, audit, config: loadScepConfig(config as unknown), clock: () => new Date(), random: (n) => randomBytes(n) });
    const r = await challenges.mint({ label: o.label, ttlMs, commonName, dns, actor: actor() });
    if (o.json) out(JSON.stringify({ challenge: r.challenge, label: o.label, expiresAt: r.expiresAt.toISOString() }));
    else out(r.challenge);
  });
}

export async function runTokenCreate(o: { data: string; scope: string[]; description?: string; json?: boolean }, out: (s: string) => void): Promise<void> {
  checkScopes(o.scope);
  await withStore(o.data, async (store, audit) => {
    const t = newAdminToken();
    const who = actor();
    await store.enrollment.createAdminToken(
      { id: t.id, hash: t.hash, scopes: o.scope, description: o.description ?? null, createdBy: who, createdAt: new Date() },
      audit.emitted([{ actor: who, action: 'admin.token.create', object: `token:${t.id}`, result: 'ok', data: { scopes: o.scope, description: o.description } }]),
    );
    if (o.json) out(JSON.stringify({ id: t.id, token: t.token, scopes: o.scope }));
    else {
      out(t.token);
      process.stderr.write(`token ${t.id} (${o.scope.join(' ')}): shown once, store it now\n`);
    }
  });
}

export async function runTokenList(o: { data: string; json?: boolean }, out: (s: string) => void): Promise<void> {
  await withStore(o.data, async (store) => {
    const tokens = await store.enrollment.listAdminTokens();
    if (o.json) {
      for (const t of tokens) out(JSON.stringify({ id: t.id, scopes: t.scopes, description: t.description, createdBy: t.createdBy, createdAt: t.createdAt, revokedAt: t.revokedAt, lastUsedAt: t.lastUsedAt }));
      return;
    }
    out(['ID'.padEnd(16), 'STATUS'.padEnd(8), 'CREATED'.padEnd(24), 'SCOPES'].join(' '));
    for (const t of tokens) out([t.id.padEnd(16), (t.revokedAt ? 'revoked' : 'active').padEnd(8), t.createdAt.toISOString().padEnd(24), t.scopes.join(',') + (t.description ? `  ${t.description}` : '')].join(' '));
  });
}

export async function runTokenRevoke(o: { data: string }, id: string, out: (s: string) => void): Promise<void> {
  await withStore(o.data, async (store, audit) => {
    const who = actor();
    const t = await store.enrollment.getAdminToken(id);
    const ok = t ? await store.enrollment.revokeAdminToken(id, new Date(), audit.emitted([{ actor: who, action: 'admin.token.revoke', object: `token:${id}`, result: 'ok' }])) : false;
    if (!ok) {
      const e = t ? new FlintError('conflict', `token ${id} is already revoked`) : new FlintError('notFound', `no token with id ${id}`);
      await audit.record({ actor: who, action: 'admin.token.revoke', object: `token:${id}`, result: 'denied', reason: e.detail });
      throw e;
    }
    out(`revoked token ${id}`);
  });
}
