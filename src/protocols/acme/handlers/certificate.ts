/** §7.4.2 certificate download and §7.6 revokeCert. */
import { createPublicKey } from 'node:crypto';
import type { JWK } from 'jose';
import { normalizeSerial } from '../../../core/serial.js';
import { parseCertificate } from '../../../pki/certificate.js';
import { toPem } from '../../../pki/pem.js';
import { AcmeError } from '../errors.js';
import { thumbprintOf } from '../jws.js';
import { account, notFound, type AcmeContext, type AcmeReply } from './context.js';

export async function certificateResource(ctx: AcmeContext): Promise<AcmeReply> {
  const a = account(ctx);
  const serial = (ctx.params.serial ?? '').toLowerCase();
  const order = /^[0-9a-f]{1,64}$/.test(serial) ? await ctx.deps.repo.getOrderByCertSerial(serial) : undefined;
  if (!order || order.accountId !== a.id) throw notFound('certificate');
  const cert = await ctx.deps.certificates.get(serial);
  if (!cert) throw notFound('certificate');
  const chain = ctx.deps.authority.chain(cert.issuerId);
  // §7.4.2 alternate chains: /cert/{serial}/{n} (n = 1…) serves the leaf with the n-th configured
  // chain; every variant links to the others with rel="alternate".
  const alternates = ctx.deps.alternateChains?.(cert.issuerId) ?? [];
  const alt = ctx.params.alt === undefined ? 0 : /^[1-9]\d{0,2}$/.test(ctx.params.alt) ? Number(ctx.params.alt) : -1;
  if (alt < 0 || alt > alternates.length) throw notFound('certificate chain');
  const variants = [ctx.urls.certificate(serial), ...alternates.map((_, i) => ctx.urls.alternateCertificate(serial, i + 1))];
  const links = variants.filter((_, i) => i !== alt).map((u) => `<${u}>;rel="alternate"`);
  // Default: leaf + issuing CA; the root is the trust anchor and is not sent.
  const above = alt === 0 ? chain.slice(0, Math.max(1, chain.length - 1)) : alternates[alt - 1]!;
  const pem = [cert.der, ...above].map((d) => toPem(d, 'CERTIFICATE')).join('');
  return { status: 200, raw: { contentType: 'application/pem-certificate-chain', data: pem }, ...(links.length ? { links } : {}) };
}

/** RFC 5280 reason codes ACME clients may ask for (not certificateHold 6, not removeFromCRL 8, 7 unused). */
const ACME_REASONS = new Set([0, 1, 2, 3, 4, 5, 9, 10]);

export async function revokeCert(ctx: AcmeContext): Promise<AcmeReply> {
  const p = ctx.req.payload;
  if (!p || typeof p.certificate !== 'string' || !/^[A-Za-z0-9_-]+$/.test(p.certificate)) throw new AcmeError('malformed', 'revokeCert needs a base64url certificate');
  const reason = p.reason ?? 0;
  if (typeof reason !== 'number' || !Number.isInteger(reason) || !ACME_REASONS.has(reason)) throw new AcmeError('badRevocationReason', `revocation reason ${JSON.stringify(reason)} is not allowed`);
  let parsed: ReturnType<typeof parseCertificate>;
  try {
    parsed = parseCertificate(Buffer.from(p.certificate, 'base64url'));
  } catch {
    throw new AcmeError('malformed', 'certificate cannot be parsed');
  }
  const serial = normalizeSerial(parsed.serialHex);
  const cert = await ctx.deps.certificates.get(serial);
  if (!cert || !cert.der.equals(parsed.der)) throw notFound('certificate');
  let actor: string;
  if (ctx.req.account) {
    const order = await ctx.deps.repo.getOrderByCertSerial(serial);
    if (!order || order.accountId !== ctx.req.account.id) throw new AcmeError('unauthorized', 'this account did not order the certificate');
    actor = `acme:${ctx.req.account.id}`;
  } else {
    const certJwk = createPublicKey({ key: parsed.subjectPublicKeyInfo, format: 'der', type: 'spki' }).export({ format: 'jwk' }) as JWK;
    if ((await thumbprintOf(certJwk)) !== ctx.req.thumbprint) throw new AcmeError('unauthorized', 'the JWS is not signed by the certificate key');
    actor = `acme:certkey:${ctx.req.thumbprint}`;
  }
  await ctx.deps.authority.revoke(serial, { reason, actor, issuerId: cert.issuerId });
  return { status: 200 };
}
