/**
 * OCSP responder (RFC 6960, RFC 5019): status lookup in the store (the store is the truth, so
 * revocations made by another process are seen), responses signed by the issuing CA itself
 * (§2.6: the CA that issued the certificate may sign), and a short-lived cache of pre-signed
 * responses per CertID for nonce-less requests (RFC 5019 §2.1: responses may be pre-produced).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Issuer, IssuerRegistry } from '../../core/issuers.js';
import type { Clock } from '../../core/ports.js';
import { REVOCATION_REASONS } from '../../core/revocation-reasons.js';
import { isFlintError } from '../../errors/index.js';
import { subjectPublicKeyBits } from '../../pki/extensions.js';
import { assembleOcspResponse, buildResponseData, ocspError, OCSP_STATUS, parseOcspRequest, singleResponse, type CertId, type CertIdHash, type CertStatus } from '../../pki/ocsp.js';
import type { CertificateRecord, Store } from '../../store/types.js';
import type { ResponderIdentity } from './delegated.js';

export interface OcspResponderOptions {
  /** thisUpdate → nextUpdate of each SingleResponse, default 1 h. */
  validityMs?: number;
  /** How long a pre-signed response is reused, default 3 s (bounds how late a revocation made elsewhere is seen). */
  cacheTtlMs?: number;
  maxCertIds?: number;
  maxCacheEntries?: number;
}

export interface OcspResult {
  /** OCSPResponse DER (always, including error statuses). */
  der: Buffer;
  status: number;
  /** For successful responses: the earliest nextUpdate / the producedAt (HTTP caching, RFC 5019 §6.2). */
  nextUpdate?: Date;
  producedAt?: Date;
  /** False for responses carrying a nonce (unique per request, RFC 5019 §2.1). */
  cacheable?: boolean;
  /** Memoized HTTP ETag (set by the HTTP layer). */
  etag?: string;
  /** Memoized HTTP cache headers and the second they were computed for (set by the HTTP layer). */
  headers?: Record<string, string>;
  headersSecond?: number;
}

interface IssuerHashes {
  issuer: Issuer;
  /** `${hash}:${nameHashHex}:${keyHashHex}` */
  keys: string[];
  responderKeyHash: Buffer;
}

interface Cached {
  result: OcspResult;
  expires: number;
  serial: string;
}

/** Requests up to this size are also cached by their exact bytes (hit without parsing, RFC 5019 §2.1). */
const RAW_CACHE_MAX = 512;

export class OcspResponder {
  private readonly byHash = new Map<string, IssuerHashes>();
  private readonly cache = new Map<string, Cached>();
  /** Exact request bytes (latin1) → the same entry as `cache`: identical nonce-less requests skip parsing. */
  private readonly rawCache = new Map<string, Cached>();
  private readonly validityMs: number;
  private readonly cacheTtlMs: number;
  private readonly maxCertIds: number;
  private readonly maxCacheEntries: number;

  constructor(
    private readonly d: {
      issuers: IssuerRegistry;
      store: Pick<Store, 'certificates'>;
      clock: Clock;
      logger?: Logger;
      /** Delegated responder identities; absent (or none for a CA) → the CA key signs. */
      delegated?: { current(caId: string): ResponderIdentity | undefined };
    },
    o: OcspResponderOptions = {}) {
    this.validityMs = o.validityMs ?? 3600_000;
    this.cacheTtlMs = o.cacheTtlMs ?? 3000;
    this.maxCertIds = o.maxCertIds ?? 100;
    this.maxCacheEntries = o.maxCacheEntries ?? 100_000;
    for (const issuer of d.issuers.list()) {
      const bits = subjectPublicKeyBits(issuer.cert.subjectPublicKeyInfo);
      const h: IssuerHashes = { issuer, keys: [], responderKeyHash: createHash('sha1').update(bits).digest() };
      for (const alg of ['sha1', 'sha256', 'sha384', 'sha512'] as CertIdHash[]) {
        const key = `${alg}:${createHash(alg).update(issuer.cert.subjectDer).digest('hex')}:${createHash(alg).update(bits).digest('hex')}`;
        h.keys.push(key);
        this.byHash.set(key, h);
      }
    }
  }

  /** Authority.onRevocation listener: drop cached responses for that serial. */
  onRevocation = (cert: CertificateRecord): void => {
    for (const [k, v] of this.cache) if (v.serial === cert.serial) this.cache.delete(k);
    for (const [k, v] of this.rawCache) if (v.serial === cert.serial) this.rawCache.delete(k);
  };

  private issuerOf(id: CertId): IssuerHashes | undefined {
    return this.byHash.get(`${id.hash}:${id.issuerNameHash.toString('hex')}:${id.issuerKeyHash.toString('hex')}`);
  }

  /**
   * The cached answer for a request seen before, by its exact bytes (or by another exact request
   * key the caller chose, e.g. the GET path): synchronous, no parsing — the hot path of RFC 5019.
   */
  cached(rawKey: string): OcspResult | undefined {
    const hit = this.rawCache.get(rawKey);
    return hit && hit.expires > this.d.clock().getTime() ? hit.result : undefined;
  }

  /** The default exact-request key: the request bytes (only short requests are cached this way). */
  static rawKey(der: Uint8Array): string | undefined {
    return der.length <= RAW_CACHE_MAX ? Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1') : undefined;
  }

  /**
   * Answers one DER OCSPRequest. Never throws for client input: errors become OCSP statuses.
   * `rawKey` (default: the request bytes) is what a later identical request is found by in `cached`.
   */
  async respond(der: Uint8Array, rawKey: string | undefined = OcspResponder.rawKey(der)): Promise<OcspResult> {
    const raw = rawKey;
    if (raw !== undefined) {
      const hit = this.cached(raw);
      if (hit) return hit;
    }
    let req;
    try {
      req = parseOcspRequest(der, { maxCertIds: this.maxCertIds, maxNonce: 32 });
    } catch (e) {
      if (!isFlintError(e)) this.d.logger?.warn({ err: e }, 'OCSP request parse failed unexpectedly');
      return { der: ocspError(OCSP_STATUS.malformedRequest), status: OCSP_STATUS.malformedRequest };
    }
    // RFC 6960 §2.3 / RFC 5019 §2.2.3: requests for a CA we are not responsible for → unauthorized.
    const issuers = req.certIds.map((c) => this.issuerOf(c));
    const first = issuers[0];
    // An offline CA (key ceremony root) answers only through its delegated responder.
    const canSign = (i: IssuerHashes) => (!!i.issuer.signer && !!i.issuer.signatureAlgorithmDer) || this.d.delegated?.current(i.issuer.id) !== undefined;
    if (!first || issuers.some((i) => i !== first) || !canSign(first)) {
      return { der: ocspError(OCSP_STATUS.unauthorized), status: OCSP_STATUS.unauthorized };
    }
    const cacheKey = !req.nonce && req.certIds.length === 1 ? `${req.certIds[0]!.raw.toString('hex')}:${req.certIds[0]!.serial}` : undefined;
    const now = this.d.clock();
    if (cacheKey) {
      const hit = this.cache.get(cacheKey);
      if (hit && hit.expires > now.getTime()) {
        if (raw !== undefined && this.rawCache.size < this.maxCacheEntries) this.rawCache.set(raw, hit);
        return hit.result;
      }
    }
    try {
      const responses: Buffer[] = [];
      const nextUpdate = new Date(now.getTime() + this.validityMs);
      for (const id of req.certIds) responses.push(singleResponse(id.raw, await this.status(first.issuer, id.serial), now, nextUpdate));
      const delegate = this.d.delegated?.current(first.issuer.id);
      const tbs = buildResponseData({ responderKeyHash: delegate?.keyHash ?? first.responderKeyHash, producedAt: now, responses, nonce: req.nonce });
      const der = delegate
        ? assembleOcspResponse(tbs, delegate.signatureAlgorithmDer, await delegate.signer.sign(tbs), delegate.certs)
        : assembleOcspResponse(tbs, first.issuer.signatureAlgorithmDer!, await first.issuer.signer!.sign(tbs));
      const result: OcspResult = { der, status: OCSP_STATUS.successful, nextUpdate, producedAt: now, cacheable: !req.nonce };
      if (cacheKey) {
        if (this.cache.size >= this.maxCacheEntries) this.cache.clear();
        if (this.rawCache.size >= this.maxCacheEntries) this.rawCache.clear();
        const entry: Cached = { result, expires: now.getTime() + this.cacheTtlMs, serial: req.certIds[0]!.serial };
        this.cache.set(cacheKey, entry);
        if (raw !== undefined) this.rawCache.set(raw, entry);
      }
      return result;
    } catch (e) {
      this.d.logger?.error({ err: e }, 'OCSP response signing failed');
      return { der: ocspError(OCSP_STATUS.internalError), status: OCSP_STATUS.internalError };
    }
  }

  /** good / revoked(time, reason) / unknown (§2.2); hold → revoked with certificateHold. */
  async status(issuer: Issuer, serial: string): Promise<CertStatus> {
    const cert = await this.d.store.certificates.get(serial);
    if (!cert || cert.issuerId !== issuer.id) return { status: 'unknown' };
    if (cert.status === 'valid') return { status: 'good' };
    const reason = cert.status === 'hold' ? REVOCATION_REASONS.certificateHold : cert.revocationReason;
    return { status: 'revoked', time: cert.revokedAt ?? cert.createdAt, reason };
  }
}
