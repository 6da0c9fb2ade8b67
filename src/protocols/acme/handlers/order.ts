/** §7.4 newOrder, order POST-as-GET, finalize. */
import { randomBytes } from 'node:crypto';
import { isFlintError } from '../../../errors/index.js';
import { parseCsr } from '../../../pki/csr.js';
import type { ParsedCsr } from '../../../pki/types.js';
import type { AcmeAuthzRecord, AcmeChallengeRecord, AcmeIdentifier, AcmeOrderRecord, AcmeRateLimit } from '../../../store/acme-types.js';
import { identifierRefusal, type AcmeProvisioner } from '../config.js';
import { ACME_ERROR_PREFIX, AcmeError, isAcmeErrorType, problem, toProblem } from '../errors.js';
import { identifierKeys, parseIdentifiers, registeredDomain } from '../identifiers.js';
import { DEFAULT_LEASE_MS, finishOrder } from '../processing.js';
import { account, notFound, type AcmeContext, type AcmeReply } from './context.js';
import { renderOrder } from './render.js';
import { certificateByCertId } from './renewal.js';

const id = () => randomBytes(12).toString('base64url');

/** Seconds a client is asked to wait before polling a processing order or challenge again. */
export const PROCESSING_RETRY_AFTER = 1;
/** How long finalize waits for the issuance before answering `processing` + Retry-After. */
export const FINALIZE_WAIT_MS = 5000;

/** Rate-limit counter for a provisioner's configured limit, or nothing when it is not configured. */
export function limit(prov: AcmeProvisioner, name: keyof NonNullable<AcmeProvisioner['rateLimits']>, key: string, mode?: AcmeRateLimit['mode']): AcmeRateLimit[] {
  const l = prov.rateLimits?.[name];
  return l ? [{ key: `${prov.name}:${name}:${key}`, name, limit: l.limit, windowMs: l.windowMs, ...(mode ? { mode } : {}) }] : [];
}

/** The identifier an authorization is for: a wildcard order identifier *.x is authorized as x (§7.1.4). */
function authzIdentifier(ident: AcmeIdentifier): { identifier: AcmeIdentifier; wildcard: boolean } {
  const wildcard = ident.type === 'dns' && ident.value.startsWith('*.');
  return { identifier: wildcard ? { type: 'dns', value: ident.value.slice(2) } : ident, wildcard };
}

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
    throw new AcmeError('invalidProfile', `invalidProfile: unknown profile ${JSON.stringify(p.profile)} (this provisioner offers: ${prov.profiles.join(', ')})`);
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
    if (await ctx.deps.repo.getValidOrderReplacing(old.serial)) throw new AcmeError('alreadyReplaced', 'alreadyReplaced: the certificate was already replaced by a finalized order');
    replaces = old.serial;
  }
  const limits = [
    ...limit(prov, 'newOrdersPerAccount', `acct:${a.id}`),
    ...identifiers.flatMap((ident) => limit(prov, 'failedValidationsPerIdentifier', `${a.id}:${ident.type}:${authzIdentifier(ident).identifier.value}`, 'check')),
  ];
  const create = async (allowReuse: boolean): Promise<AcmeReply> => {
    const now = ctx.deps.clock();
    let expires = new Date(now.getTime() + prov.orderLifetimeMs);
    const authzExpires = new Date(now.getTime() + Math.min(prov.authzLifetimeMs, prov.orderLifetimeMs));
    // §7.1.4 reuse (as Let's Encrypt does): an authorization of this account for the identifier that
    // stays usable for a while (a day, or half the authorization lifetime if shorter).
    const minExpires = new Date(now.getTime() + Math.min(86_400_000, prov.authzLifetimeMs / 2));
    const orderId = id();
    const fresh: AcmeAuthzRecord[] = [];
    const reused: AcmeAuthzRecord[] = [];
    for (const ident of identifiers) {
      const { identifier, wildcard } = authzIdentifier(ident);
      const old = allowReuse && prov.reuseAuthorizations !== false
        ? await ctx.deps.repo.findReusableAuthz(a.id, identifier, wildcard, { minExpires, includePending: prov.reusePendingAuthorizations !== false })
        : undefined;
      // Only when its challenges are still ones this provisioner offers for the identifier.
      if (old && (old.status === 'valid' || old.challenges.every((c) => typesFor(ident).includes(c.type)))) {
        reused.push(old);
        if (old.expires < expires) expires = old.expires;
        continue;
      }
      const authzId = id();
      fresh.push({
        id: authzId, orderId, accountId: a.id, status: 'pending', expires: authzExpires, wildcard, identifier,
        challenges: typesFor(ident).map((type) => ({ id: id(), authzId, type, token: randomBytes(32).toString('base64url'), status: 'pending', validated: null, error: null })),
      });
    }
    const order: AcmeOrderRecord = {
      id: orderId, accountId: a.id, status: 'pending', identifiers, notBefore, notAfter, expires,
      certSerial: null, error: null, profile, replaces, createdAt: now,
    };
    const { status } = await ctx.deps.repo.createOrder(order, fresh, ctx.deps.audit.emitted([
      { actor: `acme:${a.id}`, action: 'acme.order.create', object: `acme-order:${order.id}`, result: 'ok', data: { identifiers: identifiers.map((i) => `${i.type}:${i.value}`), ...(reused.length ? { reusedAuthorizations: reused.map((x) => x.id) } : {}) } },
    ]), { now, limits, reuse: reused.map((x) => x.id), durable: false });
    // Not flushed on its own (no fsync): a process crash keeps it (WAL); a power loss can drop a new
    // order with its authorizations and audit record together, which costs the client a retry and
    // issues nothing. The issuance's durable commit later syncs the whole WAL, order included.
    return { status: 201, json: renderOrder(ctx.urls, { ...order, status }, [...fresh, ...reused].map((x) => x.id)), location: ctx.urls.order(order.id) };
  };
  try {
    return await create(true);
  } catch (e) {
    // A reused authorization was deactivated or failed meanwhile: make fresh ones.
    if (isFlintError(e) && e.code === 'acme.authzChanged') return create(false);
    throw e;
  }
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
  const r: AcmeReply = { status: 200, json: renderOrder(ctx.urls, o, authzs.map((a) => a.id)), location: ctx.urls.order(o.id) };
  // §7.4: a processing order tells the client when to poll again.
  if (o.status === 'processing') r.retryAfter = PROCESSING_RETRY_AFTER;
  return r;
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
  let csr: ParsedCsr;
  try {
    csr = parseCsr(der);
    names = identifierKeys([...csr.sans.dns.map((value) => ({ type: 'dns' as const, value })), ...csr.sans.ip.map((value) => ({ type: 'ip' as const, value }))]);
    const cn = csr.subject.find((x) => x.type === 'CN')?.value.toLowerCase();
    if (cn && !names.includes(`dns:${cn}`) && !names.includes(`ip:${cn}`)) throw new AcmeError('badCSR', `CSR common name ${cn} is not one of the order identifiers`);
  } catch (e) {
    if (e instanceof AcmeError) throw e;
    throw new AcmeError('badCSR', `CSR cannot be parsed: ${toProblem(e).detail}`);
  }
  const want = identifierKeys(o.identifiers);
  if ([...new Set(names)].join(',') !== want.join(',')) throw new AcmeError('badCSR', `CSR names [${names.join(', ')}] must equal the order identifiers [${want.join(', ')}]`);
  // Certificates per registered domain are counted when the order is accepted for issuance.
  const domains = [...new Set(o.identifiers.map((i) => registeredDomain(i, ctx.prov.dnsSuffixes)))];
  const limits = domains.flatMap((dom) => limit(ctx.prov, 'certificatesPerDomain', dom));
  const now = ctx.deps.clock();
  const lease = new Date(now.getTime() + (ctx.deps.leaseMs ?? DEFAULT_LEASE_MS));
  const started = await ctx.deps.repo.updateOrder(o.id, ['ready'], { status: 'processing', csr: der, claimedUntil: lease }, ctx.deps.audit.emitted([
    { actor: `acme:${a.id}`, action: 'acme.order.process', object: `acme-order:${o.id}`, result: 'ok' },
  ]), { now, limits, durable: false }); // the issuance's durable commit follows (a power loss before it leaves the order ready)
  if (!started) throw new AcmeError('orderNotReady', 'order is no longer ready');
  // The store holds the job: if this node dies now, another node's sweeper finishes it.
  const job = finishOrder(ctx.deps, o.id, ctx.prov, 1, csr).catch((e) => ctx.deps.logger?.warn({ err: e, order: o.id }, 'acme: finalization bookkeeping failed'));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([job, new Promise((r) => (timer = setTimeout(r, ctx.deps.finalizeWaitMs ?? FINALIZE_WAIT_MS)))]);
  clearTimeout(timer);
  const cur = (await ctx.deps.repo.getOrder(o.id)) ?? o;
  if (cur.status === 'invalid' && cur.error) {
    // The CSR was refused at issuance (e.g. a weak key): answer with that problem (the order is invalid, §7.4).
    const type = cur.error.type.slice(ACME_ERROR_PREFIX.length);
    throw new AcmeError(isAcmeErrorType(type) ? type : 'serverInternal', cur.error.detail, cur.error.status ? { status: cur.error.status } : {});
  }
  return reply(ctx, cur);
}
