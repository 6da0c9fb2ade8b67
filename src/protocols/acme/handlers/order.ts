/** §7.4 newOrder, order POST-as-GET, finalize. */
import { randomBytes } from 'node:crypto';
import { parseCsr } from '../../../pki/csr.js';
import type { AcmeAuthzRecord, AcmeChallengeRecord, AcmeOrderRecord } from '../../../store/acme-types.js';
import { identifierRefusal } from '../config.js';
import { AcmeError, problem, toProblem } from '../errors.js';
import { identifierKeys, parseIdentifiers } from '../identifiers.js';
import { account, notFound, type AcmeContext, type AcmeReply } from './context.js';
import { renderOrder } from './render.js';
import { certificateByCertId } from './renewal.js';

const id = () => randomBytes(12).toString('base64url');

function optionalDate(v: unknown, what: string): Date | null {
  if (v === undefined) return null;
  const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new AcmeError('malformed', `${what} is not an RFC 3339 date`);
  return d;
}

export async function newOrder(ctx: AcmeContext): Promise<AcmeReply> {
  const a = account(ctx);
  const p = ctx.req.payload;
  if (!p) throw new AcmeError('malformed', 'newOrder needs a payload');
  const identifiers = parseIdentifiers(p.identifiers);
  const notBefore = optionalDate(p.notBefore, 'notBefore');
  const notAfter = optionalDate(p.notAfter, 'notAfter');
  if (notBefore && notAfter && notAfter <= notBefore) throw new AcmeError('malformed', 'notAfter must be after notBefore');
  const prov = ctx.prov;
  // Identifier policy: every refused identifier is reported (RFC 8555 §6.7.1 subproblems).
  const subproblems = identifiers.flatMap((ident) => {
    const why = identifierRefusal(prov, ident);
    return why ? [{ ...problem('rejectedIdentifier', why), identifier: ident }] : [];
  });
  const typesFor = (ident: (typeof identifiers)[number]): AcmeChallengeRecord['type'][] => {
    const wildcard = ident.type === 'dns' && ident.value.startsWith('*.');
    const all: AcmeChallengeRecord['type'][] = wildcard ? ['dns-01'] : ident.type === 'ip' ? ['http-01', 'tls-alpn-01'] : ['http-01', 'dns-01', 'tls-alpn-01'];
    return all.filter((t) => prov.challenges.includes(t));
  };
  for (const ident of identifiers) {
    if (!subproblems.some((s) => s.identifier === ident) && typesFor(ident).length === 0) {
      subproblems.push({ ...problem('rejectedIdentifier', `provisioner ${prov.name} offers no challenge type (${prov.challenges.join(', ')}) that can validate ${ident.value}`), identifier: ident });
    }
  }
  if (subproblems.length) {
    throw new AcmeError('rejectedIdentifier', subproblems.length === 1 ? subproblems[0]!.detail : `${subproblems.length} identifiers are not allowed by provisioner ${prov.name}`, { subproblems });
  }
  // Profiles extension: `profile` picks one of the provisioner's profiles; the first is the default.
  if (p.profile !== undefined && (typeof p.profile !== 'string' || !prov.profiles.includes(p.profile))) {
    throw new AcmeError('malformed', `invalidProfile: unknown profile ${JSON.stringify(p.profile)} (this provisioner offers: ${prov.profiles.join(', ')})`);
  }
  const profile = (p.profile as string | undefined) ?? prov.profiles[0]!;
  // RFC 9773 §5: `replaces` names the certificate this order renews (it must be ours and the account's).
  let replaces: string | null = null;
  if (p.replaces !== undefined) {
    if (typeof p.replaces !== 'string') throw new AcmeError('malformed', 'replaces must be a certID string');
    const old = await certificateByCertId(ctx.deps, p.replaces).catch(() => {
      throw new AcmeError('malformed', 'replaces does not name a certificate issued by this CA');
    });
    const oldOrder = await ctx.deps.repo.getOrderByCertSerial(old.serial);
    if (!oldOrder || oldOrder.accountId !== a.id) throw new AcmeError('unauthorized', 'replaces names a certificate this account did not order');
    if (await ctx.deps.repo.getValidOrderReplacing(old.serial)) throw new AcmeError('malformed', 'alreadyReplaced: the certificate was already replaced by a finalized order', { status: 409 });
    replaces = old.serial;
  }
  const now = ctx.deps.clock();
  const expires = new Date(now.getTime() + prov.orderLifetimeMs);
  const authzExpires = new Date(now.getTime() + Math.min(prov.authzLifetimeMs, prov.orderLifetimeMs));
  const order: AcmeOrderRecord = {
    id: id(), accountId: a.id, status: 'pending', identifiers, notBefore, notAfter, expires,
    certSerial: null, error: null, profile, replaces, createdAt: now,
  };
  const authzs: AcmeAuthzRecord[] = identifiers.map((ident) => {
    const authzId = id();
    const wildcard = ident.type === 'dns' && ident.value.startsWith('*.');
    const types = typesFor(ident);
    return {
      id: authzId, orderId: order.id, accountId: a.id, status: 'pending', expires: authzExpires, wildcard,
      identifier: wildcard ? { type: 'dns', value: ident.value.slice(2) } : ident,
      challenges: types.map((type) => ({ id: id(), authzId, type, token: randomBytes(32).toString('base64url'), status: 'pending', validated: null, error: null })),
    };
  });
  await ctx.deps.repo.createOrder(order, authzs, ctx.deps.audit.emitted([
    { actor: `acme:${a.id}`, action: 'acme.order.create', object: `acme-order:${order.id}`, result: 'ok', data: { identifiers: identifiers.map((i) => `${i.type}:${i.value}`) } },
  ]));
  return { status: 201, json: renderOrder(ctx.urls, order, authzs.map((x) => x.id)), location: ctx.urls.order(order.id) };
}

async function ownedOrder(ctx: AcmeContext): Promise<AcmeOrderRecord> {
  const o = await ctx.deps.repo.getOrder(ctx.params.id ?? '');
  if (!o || o.accountId !== account(ctx).id) throw notFound('order');
  if ((o.status === 'pending' || o.status === 'ready') && o.expires < ctx.deps.clock()) {
    const error = { type: 'urn:ietf:params:acme:error:malformed', detail: 'order expired' };
    await ctx.deps.repo.updateOrder(o.id, ['pending', 'ready'], { status: 'invalid', error });
    return { ...o, status: 'invalid', error };
  }
  return o;
}

async function reply(ctx: AcmeContext, o: AcmeOrderRecord): Promise<AcmeReply> {
  const authzs = await ctx.deps.repo.listAuthzs(o.id);
  return { status: 200, json: renderOrder(ctx.urls, o, authzs.map((a) => a.id)), location: ctx.urls.order(o.id) };
}

export async function getOrder(ctx: AcmeContext): Promise<AcmeReply> {
  if (ctx.req.payload !== null) throw new AcmeError('malformed', 'orders are fetched with POST-as-GET (empty payload)');
  return reply(ctx, await ownedOrder(ctx));
}

export async function finalize(ctx: AcmeContext): Promise<AcmeReply> {
  const a = account(ctx);
  const o = await ownedOrder(ctx);
  const p = ctx.req.payload;
  if (o.status !== 'ready') throw new AcmeError('orderNotReady', `order is ${o.status}, not ready`);
  if (!p || typeof p.csr !== 'string' || !/^[A-Za-z0-9_-]+$/.test(p.csr)) throw new AcmeError('malformed', 'finalize needs a base64url csr');
  const der = Buffer.from(p.csr, 'base64url');
  let names: string[];
  try {
    const csr = parseCsr(der);
    names = identifierKeys([...csr.sans.dns.map((value) => ({ type: 'dns' as const, value })), ...csr.sans.ip.map((value) => ({ type: 'ip' as const, value }))]);
    const cn = csr.subject.find((x) => x.type === 'CN')?.value.toLowerCase();
    if (cn && !names.includes(`dns:${cn}`) && !names.includes(`ip:${cn}`)) throw new AcmeError('badCSR', `CSR common name ${cn} is not one of the order identifiers`);
  } catch (e) {
    if (e instanceof AcmeError) throw e;
    throw new AcmeError('badCSR', `CSR cannot be parsed: ${toProblem(e).detail}`);
  }
  const want = identifierKeys(o.identifiers);
  if ([...new Set(names)].join(',') !== want.join(',')) throw new AcmeError('badCSR', `CSR names [${names.join(', ')}] must equal the order identifiers [${want.join(', ')}]`);
  if (!(await ctx.deps.repo.updateOrder(o.id, ['ready'], { status: 'processing' }))) throw new AcmeError('orderNotReady', 'order is no longer ready');
  try {
    const issued = await ctx.deps.authority.issue({
      csr: der, profile: o.profile, protocol: 'acme', requester: `acme:${a.id}`, provisioner: ctx.provisioner,
      notBefore: o.notBefore ?? undefined, notAfter: o.notAfter ?? undefined,
      ...(o.replaces ? { replaces: o.replaces } : {}),
    });
    await ctx.deps.repo.updateOrder(o.id, ['processing'], { status: 'valid', certSerial: issued.serial }, ctx.deps.audit.emitted([
      { actor: `acme:${a.id}`, action: 'acme.order.finalize', object: `acme-order:${o.id}`, result: 'ok', data: { serial: issued.serial } },
    ]));
    return reply(ctx, { ...o, status: 'valid', certSerial: issued.serial });
  } catch (e) {
    const pr = toProblem(e);
    await ctx.deps.repo.updateOrder(o.id, ['processing'], { status: 'invalid', error: { type: pr.type, detail: pr.detail, status: pr.status } });
    throw e;
  }
}
