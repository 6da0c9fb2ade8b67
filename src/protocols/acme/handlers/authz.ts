/** §7.5 authorizations and challenges: POST-as-GET, deactivate (§7.5.2), respond to challenge (§7.5.1). */
import { AcmeError } from '../errors.js';
import { account, notFound, type AcmeContext, type AcmeReply } from './context.js';
import { PROCESSING_RETRY_AFTER } from './order.js';
import { renderAuthz, renderChallenge } from './render.js';

async function ownedAuthz(ctx: AcmeContext, id: string) {
  const a = await ctx.deps.repo.getAuthz(id);
  if (!a || a.accountId !== account(ctx).id) throw notFound('authorization');
  return a;
}

export async function authzResource(ctx: AcmeContext): Promise<AcmeReply> {
  let a = await ownedAuthz(ctx, ctx.params.id ?? '');
  const p = ctx.req.payload;
  if (p !== null) {
    if (p.status !== 'deactivated') throw new AcmeError('malformed', 'an authorization may only be updated to status "deactivated"');
    if (!(await ctx.deps.repo.deactivateAuthz(a.id, ctx.deps.audit.emitted([{ actor: `acme:${a.accountId}`, action: 'acme.authz.deactivate', object: `acme-authz:${a.id}`, result: 'ok' }])))) {
      throw new AcmeError('malformed', `authorization is ${a.status} and cannot be deactivated`);
    }
    a = { ...a, status: 'deactivated' };
  }
  return { status: 200, json: renderAuthz(ctx.urls, a, ctx.deps.clock()), location: ctx.urls.authz(a.id) };
}

export async function challengeResource(ctx: AcmeContext): Promise<AcmeReply> {
  let ch = await ctx.deps.repo.getChallenge(ctx.params.id ?? '');
  if (!ch) throw notFound('challenge');
  const authz = await ownedAuthz(ctx, ch.authzId);
  const up = { status: 200, links: [`<${ctx.urls.authz(authz.id)}>;rel="up"`] };
  // POST-as-GET reads; any JSON object payload (normally {}) asks the server to validate.
  if (ctx.req.payload === null) return { ...up, json: renderChallenge(ctx.urls, ch), ...(ch.status === 'processing' ? { retryAfter: PROCESSING_RETRY_AFTER } : {}) };
  if (authz.expires < ctx.deps.clock()) throw new AcmeError('malformed', 'authorization has expired');
  if (ch.status === 'pending' && (await ctx.deps.repo.startChallenge(ch.id, ctx.deps.clock()))) {
    ch = { ...ch, status: 'processing' };
    ctx.deps.enqueueValidation(ch.id);
    // Loopback-fast validations finish within the request: answering with the result spares the
    // client a poll (lego and acme-client otherwise back off for the Retry-After).
    if (ctx.deps.validationSettled) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ctx.deps.validationSettled(ch.id), new Promise((r) => (timer = setTimeout(r, ctx.deps.validationWaitMs ?? 1500)))]);
      clearTimeout(timer);
      ch = (await ctx.deps.repo.getChallenge(ch.id)) ?? ch;
    }
  }
  // §8.2: while validation runs, tell the client when to look again.
  return { ...up, json: renderChallenge(ctx.urls, ch), ...(ch.status === 'processing' ? { retryAfter: PROCESSING_RETRY_AFTER } : {}) };
}
