/**
 * HTTP bindings for OCSP (RFC 6960 Appendix A, RFC 5019 §5–6) and CRLs (RFC 5280 §4.2.1.13,
 * served as application/pkix-crl, RFC 2585 §4.2). Never a 500 for client input: OCSP errors are
 * OCSP statuses in a 200 response (RFC 6960 Appendix A.1 leaves HTTP status to the transport; all
 * clients read the OCSPResponse).
 */
import { createHash } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { isFlintError, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../errors/index.js';
import { ocspError, OCSP_STATUS } from '../pki/ocsp.js';
import type { CrlKind } from '../store/revocation-types.js';
import type { CrlService } from './crl/service.js';
import type { OcspResponder, OcspResult } from './ocsp/responder.js';

const OCSP_RESPONSE = 'application/ocsp-response';
export const OCSP_BODY_LIMIT = 64 * 1024;

/** Response headers for an OCSP result (shared by the express route and the node:http fast path). */
export function ocspHeaders(r: OcspResult, cacheable: boolean): Record<string, string> {
  if (cacheable && r.status === OCSP_STATUS.successful && r.nextUpdate && r.producedAt) {
    // Results are cached and reused: the headers only change with max-age, once a second.
    const second = Math.floor(Date.now() / 1000);
    if (r.headers && r.headersSecond === second) return r.headers;
    // RFC 5019 §6.2: max-age not beyond nextUpdate; Last-Modified = producedAt (or thisUpdate); ETag.
    const maxAge = Math.max(0, Math.floor(r.nextUpdate.getTime() / 1000) - second);
    r.etag ??= `"${createHash('sha1').update(r.der).digest('hex')}"`;
    r.headersSecond = second;
    return (r.headers = {
      'Content-Type': OCSP_RESPONSE,
      'Content-Length': String(r.der.length),
      'Cache-Control': `max-age=${maxAge}, public, no-transform, must-revalidate`,
      'Last-Modified': r.producedAt.toUTCString(),
      Expires: r.nextUpdate.toUTCString(),
      ETag: r.etag,
    });
  }
  // Not cacheable by HTTP caches (POST, nonce): fixed per result, memoized too.
  return (r.plainHeaders ??= { 'Content-Type': OCSP_RESPONSE, 'Content-Length': String(r.der.length), 'Cache-Control': 'no-cache, no-store' });
}

function sendOcsp(res: Response, r: OcspResult, cacheable: boolean): void {
  for (const [k, v] of Object.entries(ocspHeaders(r, cacheable))) res.setHeader(k, v);
  res.status(200).end(r.der);
}

/** RFC 5019 §5: GET path segment is the URL-encoded base64 DER; URL-safe base64 accepted too. */
export function decodeGetRequest(encoded: string): Buffer | undefined {
  let s: string;
  try {
    s = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  s = s.replace(/-/g, '+').replace(/_/g, '/').replace(/\s/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.replace(/=+$/, '').length % 4 === 1) return undefined;
  const der = Buffer.from(s, 'base64');
  return der.length ? der : undefined;
}

export function revocationRouter(d: { ocsp: OcspResponder; crl: CrlService; logger?: { warn(o: object, m: string): void } }): Router {
  const r = express.Router();
  const fail = (res: Response, status: number) => sendOcsp(res, { der: ocspError(status), status }, false);

  r.post('/ocsp', express.raw({ type: () => true, limit: OCSP_BODY_LIMIT }), async (req: Request, res: Response) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    sendOcsp(res, await d.ocsp.respond(body), false);
  });
  r.get(['/ocsp', '/ocsp/'], (_req, res) => fail(res, OCSP_STATUS.malformedRequest));
  r.get('/ocsp/*rest', async (req: Request, res: Response) => {
    const path = req.originalUrl.split('?')[0]!;
    const i = path.indexOf('/ocsp/');
    const der = decodeGetRequest(path.slice(i + '/ocsp/'.length));
    if (!der || der.length > OCSP_BODY_LIMIT) return fail(res, OCSP_STATUS.malformedRequest);
    const result = await d.ocsp.respond(der);
    // Responses carrying a nonce are unique: not cacheable.
    sendOcsp(res, result, result.cacheable === true);
  });

  r.get('/crl/:file', async (req: Request, res: Response) => {
    const m = /^([A-Za-z0-9._-]+?)(-delta|-p\d{1,3})?\.crl$/.exec(String(req.params.file));
    if (!m) return void res.status(404).type('text/plain').send('not found\n');
    let caId = m[1]!;
    let kind: CrlKind = 'full';
    if (m[2] === '-delta') kind = 'delta';
    else if (m[2] && Number(m[2].slice(2)) < d.crl.partitions) kind = `p${Number(m[2].slice(2))}`;
    else if (m[2]) caId += m[2]; // partitions off: a CA id that merely ends in -p<digits>
    try {
      const crl = await d.crl.get(caId, kind);
      const etag = `"${crl.caId}-${crl.kind}-${crl.number}"`;
      res.setHeader('ETag', etag);
      res.setHeader('Last-Modified', crl.thisUpdate.toUTCString());
      res.setHeader('Expires', crl.nextUpdate.toUTCString());
      const maxAge = Math.max(0, Math.min(3600, Math.floor((crl.nextUpdate.getTime() - Date.now()) / 1000)));
      res.setHeader('Cache-Control', `public, max-age=${maxAge}, no-transform`);
      if (req.headers['if-none-match'] === etag) return void res.status(304).end();
      res.type('application/pkix-crl').send(crl.der);
    } catch (e) {
      if (isFlintError(e) && e.kind === 'notFound') return void res.status(404).type('text/plain').send(`${e.detail}\n`);
      d.logger?.warn({ err: e }, 'CRL unavailable');
      res.status(503).setHeader('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS)).type('text/plain').send('CRL temporarily unavailable\n');
    }
  });

  // Body too large / unreadable on /ocsp → malformedRequest, not an HTML error page.
  r.use((err: unknown, req: Request, res: Response, next: (e?: unknown) => void) => {
    if (req.path.startsWith('/ocsp') && !res.headersSent) return fail(res, OCSP_STATUS.malformedRequest);
    next(err);
  });
  return r;
}
