/** §7.3 account management: newAccount, account POST-as-GET / update / deactivate, orders list. */
import { randomBytes } from 'node:crypto';
import { isFlintError } from '../../../errors/index.js';
import type { AcmeAccountRecord } from '../../../store/acme-types.js';
import { verifyEab } from '../eab.js';
import { AcmeError } from '../errors.js';
import type { Account } from '../wire.js';
import { account, notFound, type AcmeContext, type AcmeReply } from './context.js';
import { limit } from './order.js';

function render(ctx: AcmeContext, a: AcmeAccountRecord): Account {
  return { status: a.status, contact: a.contact, orders: ctx.urls.orders(a.id) };
}

function parseContact(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((c) => typeof c !== 'string')) throw new AcmeError('malformed', 'contact must be an array of strings');
  if (v.length > 10) throw new AcmeError('invalidContact', 'too many contacts');
  for (const c of v as string[]) {
    if (!c.startsWith('mailto:')) throw new AcmeError('unsupportedContact', `only mailto: contacts are supported, got ${JSON.stringify(c)}`);
    const addr = c.slice('mailto:'.length);
    if (!/^[^@\s,?]+@[^@\s,?]+$/.test(addr)) throw new AcmeError('invalidContact', `invalid contact ${JSON.stringify(c)}`);
  }
  return v as string[];
}

export async function newAccount(ctx: AcmeContext): Promise<AcmeReply> {
  const p = ctx.req.payload ?? {};
  const existing = await ctx.deps.repo.getAccountByThumbprint(ctx.req.thumbprint);
  // Accounts belong to one provisioner (else an EAB-free provisioner's account could skip EAB elsewhere).
  if (existing && (existing.provisioner ?? 'acme') !== ctx.provisioner) throw new AcmeError('unauthorized', 'this key is registered with an account of another ACME provisioner');
  if (existing) return { status: 200, json: render(ctx, existing), location: ctx.urls.account(existing.id) };
  if (p.onlyReturnExisting === true) throw new AcmeError('accountDoesNotExist', 'no account exists with this key');
  if (p.termsOfServiceAgreed !== undefined && typeof p.termsOfServiceAgreed !== 'boolean') throw new AcmeError('malformed', 'termsOfServiceAgreed must be a boolean');
  const contact = parseContact(p.contact);
  let eab: { kid: string; provisioner: string } | undefined;
  if (p.externalAccountBinding !== undefined) {
    const kid = await verifyEab(p.externalAccountBinding, { newAccountUrl: ctx.urls.newAccount, accountJwk: ctx.req.jwk, provisioner: ctx.provisioner, repo: ctx.deps.repo });
    eab = { kid, provisioner: ctx.provisioner };
  } else if (ctx.prov.requireEab) {
    throw new AcmeError('externalAccountRequired', `provisioner ${ctx.provisioner} requires an external account binding (flintca acme eab create)`);
  }
  const a: AcmeAccountRecord = {
    id: randomBytes(12).toString('base64url'),
    thumbprint: ctx.req.thumbprint,
    jwk: ctx.req.jwk as Record<string, unknown>,
    contact,
    status: 'valid',
    createdAt: ctx.deps.clock(),
    provisioner: ctx.provisioner,
  };
  try {
    const limits = ctx.clientIp ? limit(ctx.prov, 'newAccountsPerIp', ctx.clientIp) : [];
    await ctx.deps.repo.createAccount(a, ctx.deps.audit.emitted([{ actor: `acme:${a.id}`, action: 'acme.account.create', object: `acme-account:${a.id}`, result: 'ok', data: { provisioner: ctx.provisioner, thumbprint: a.thumbprint, ...(eab ? { eabKid: eab.kid } : {}) } }]), eab, { now: a.createdAt, limits });
  } catch (e) {
    if (isFlintError(e) && e.kind === 'rateLimited') throw e;
    // A concurrent newAccount with the same key won the unique thumbprint: return that one.
    const again = await ctx.deps.repo.getAccountByThumbprint(ctx.req.thumbprint);
    if (isFlintError(e) && e.kind === 'unauthorized' && !again) throw new AcmeError('unauthorized', e.detail);
    if (again && (again.provisioner ?? 'acme') === ctx.provisioner) return { status: 200, json: render(ctx, again), location: ctx.urls.account(again.id) };
    throw e;
  }
  return { status: 201, json: render(ctx, a), location: ctx.urls.account(a.id) };
}

export async function accountResource(ctx: AcmeContext): Promise<AcmeReply> {
  const a = account(ctx);
  if (ctx.params.id !== a.id) throw new AcmeError('unauthorized', 'the kid does not match the account URL');
  const p = ctx.req.payload;
  if (p === null) return { status: 200, json: render(ctx, a), location: ctx.urls.account(a.id) };
  const patch: { contact?: string[]; status?: 'deactivated' } = {};
  if (p.contact !== undefined) patch.contact = parseContact(p.contact);
  if (p.status !== undefined) {
    if (p.status !== 'deactivated') throw new AcmeError('malformed', 'status may only be set to "deactivated"');
    patch.status = 'deactivated';
  }
  if (patch.contact || patch.status) {
    await ctx.deps.repo.updateAccount(a.id, patch, ctx.deps.audit.emitted([{ actor: `acme:${a.id}`, action: patch.status ? 'acme.account.deactivate' : 'acme.account.update', object: `acme-account:${a.id}`, result: 'ok' }]));
  }
  const updated = { ...a, ...patch };
  return { status: 200, json: render(ctx, updated), location: ctx.urls.account(a.id) };
}

export async function accountOrders(ctx: AcmeContext): Promise<AcmeReply> {
  const a = account(ctx);
  if (ctx.params.id !== a.id) throw notFound('account');
  const ids = await ctx.deps.repo.listOrderIds(a.id);
  return { status: 200, json: { orders: ids.map((id) => ctx.urls.order(id)) } };
}
