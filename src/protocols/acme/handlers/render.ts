/** Store records → RFC 8555 §7.1 JSON objects. */
import type { AcmeAuthzRecord, AcmeChallengeRecord, AcmeOrderRecord, AcmeStoredProblem } from '../../../store/acme-types.js';
import type { AcmeUrls } from '../urls.js';
import type { Authorization, Challenge, Order, Problem } from '../wire.js';

const prob = (p: AcmeStoredProblem): Problem => ({ type: p.type, detail: p.detail, status: p.status ?? 400 });

export function renderOrder(urls: AcmeUrls, o: AcmeOrderRecord, authzIds: string[]): Order {
  const out: Order = {
    status: o.status,
    expires: o.expires.toISOString(),
    identifiers: o.identifiers,
    authorizations: authzIds.map((id) => urls.authz(id)),
    finalize: urls.finalize(o.id),
  };
  if (o.notBefore) out.notBefore = o.notBefore.toISOString();
  if (o.notAfter) out.notAfter = o.notAfter.toISOString();
  if (o.error) out.error = prob(o.error);
  if (o.status === 'valid' && o.certSerial) out.certificate = urls.certificate(o.certSerial);
  return out;
}

export function renderChallenge(urls: AcmeUrls, c: AcmeChallengeRecord): Challenge {
  const out: Challenge = { type: c.type, url: urls.challenge(c.id), status: c.status, token: c.token };
  if (c.validated) out.validated = c.validated.toISOString();
  if (c.error) out.error = prob(c.error);
  return out;
}

export function renderAuthz(urls: AcmeUrls, a: AcmeAuthzRecord, now: Date): Authorization {
  // §7.1.6: pending and valid authorizations become expired past their expiry.
  const status = (a.status === 'pending' || a.status === 'valid') && a.expires < now ? 'expired' : a.status;
  const out: Authorization = {
    identifier: a.identifier,
    status,
    expires: a.expires.toISOString(),
    challenges: (status === 'valid' ? a.challenges.filter((c) => c.status === 'valid') : a.challenges).map((c) => renderChallenge(urls, c)),
  };
  if (a.wildcard) out.wildcard = true;
  return out;
}
