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
import { FlintError, isFlintError } from '../../errors/index.js';
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
  /** Memoized headers when served as not cacheable (POST). */
  plainHeaders?: Record<string, string>;
}

interface IssuerHashes {
  issuer: Issuer;
  /** `${hash}:${nameHashHex}:${keyHashHex}` */
  keys: string[];
  responderKeyHash: Buffer;
}

/** A pre-signed answer for one CertID (RFC 5019 §2.1), shared by every exact request key that maps to it. */
interface Cached {
  result: OcspResult;
  /** Until then the answer is served without looking at the store (cacheTtlMs). */
  expires: number;
  /** CertID (DER, hex): the key in `cache`. */
  key: string;
  serial: string;
  issuer: IssuerHashes;
  certIdRaw: Buffer;
  /** What `result` says; a revalidation re-signs only when the store says otherwise. */
  status: CertStatus;
  /** The delegated identity that signed it (undefined: the CA key). */
  signedBy: ResponderIdentity | undefined;
  /** Exact-request keys in `rawCache` pointing here. */
  rawKeys: string[];
  /** Removed on revocation (or cache reset): never linked again. */
  dropped: boolean;
  refreshing?: Promise<OcspResult>;
}

/** Requests up to this size are also cached by their exact bytes (hit without parsing, RFC 5019 §2.1). */
const RAW_CACHE_MAX = 512;

const sameStatus = (a: CertStatus, b: CertStatus) =>
  a.status === b.status && (a.status !== 'revoked' || (b.status === 'revoked' && a.time.getTime() === b.time.getTime() && a.reason === b.reason));

/**
 * Cache life cycle: the first nonce-less request for a CertID reads the store and signs (one
 * signature however many requests arrive together); the answer is then served for cacheTtlMs
 * without any store access; after that the next request revalidates it against the store (one
 * read, again shared) and the same signed response is reused while the status is unchanged and
 * more than half of its validity is left — so a busy responder signs per CertID about twice per
 * validity period, not once per TTL. Revocations through this process drop the entries at once;
 * revocations made elsewhere (CLI, other nodes) are seen within cacheTtlMs: the store is the truth.
 */
export class OcspResponder {
  private readonly byHash = new Map<string, IssuerHashes>();
  /** CertID (DER, hex) → entry. */
  private readonly cache = new Map<string, Cached>();
  /** Exact request bytes (latin1) or a caller's key (GET path) → the same entries: identical requests skip parsing. */
  private readonly rawCache = new Map<string, Cached>();
  private readonly bySerial = new Map<string, Cached[]>();
  /** First signature per CertID in flight: concurrent first requests share it. */
  private readonly filling = new Map<string, Promise<{ result: OcspResult; entry?: Cached }>>();
  /** Store reads of the last cacheTtlMs by serial (for the CA they were read for). */
  private readonly statuses = new Map<string, { issuerId: string; status: CertStatus; expires: number }>();
  /** Bumped on every revocation: an answer built from a status read before it is not cached. */
  private epoch = 0;
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

  /** Authority.onRevocation listener (revoke and unrevoke), also fed store changes: drop cached answers for that serial (only `serial` is read). */
  onRevocation = (cert: Pick<CertificateRecord, 'serial'>): void => {
    this.epoch++;
    this.statuses.delete(cert.serial);
    for (const e of this.bySerial.get(cert.serial) ?? []) this.drop(e);
    this.bySerial.delete(cert.serial);
  };

  private drop(e: Cached): void {
    e.dropped = true;
    if (this.cache.get(e.key) === e) this.cache.delete(e.key);
    for (const k of e.rawKeys) if (this.rawCache.get(k) === e) this.rawCache.delete(k);
  }

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
    try {
      return await this.answer(der, rawKey);
    } catch (e) {
      // Store or signer failures (client input never throws), never an HTTP 500. RFC 6960 §2.3:
      // a store or key store that is briefly unreachable is tryLater; anything else internalError.
      const status = e instanceof FlintError && e.kind === 'unavailable' ? OCSP_STATUS.tryLater : OCSP_STATUS.internalError;
      this.d.logger?.error({ err: e }, 'OCSP response failed');
      return { der: ocspError(status), status };
    }
  }

  private async answer(der: Uint8Array, raw: string | undefined): Promise<OcspResult> {
    if (raw !== undefined) {
      const e = this.rawCache.get(raw);
      if (e) return e.expires > this.d.clock().getTime() ? e.result : this.revalidate(e);
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
    if (req.nonce || req.certIds.length > 1) {
      // Unique (nonce, RFC 5019 §2.1) or uncommon (several CertIDs): signed live. Statuses come
      // from fresh cache entries where there are some (as current as a cached answer), else the store.
      const now = this.d.clock();
      const statuses: CertStatus[] = [];
      for (const id of req.certIds) {
        const e = this.cache.get(id.raw.toString('hex'));
        statuses.push(e && e.expires > now.getTime() ? e.status : await this.currentStatus(first.issuer, id.serial));
      }
      return (await this.sign(first, req.certIds.map((id) => id.raw), statuses, req.nonce)).result;
    }
    const id = req.certIds[0]!;
    const key = id.raw.toString('hex');
    const e = this.cache.get(key);
    if (e) {
      this.link(e, raw);
      return e.expires > this.d.clock().getTime() ? e.result : this.revalidate(e);
    }
    let p = this.filling.get(key);
    if (!p) {
      p = this.fill(first, id, key).finally(() => this.filling.delete(key));
      this.filling.set(key, p);
    }
    const filled = await p;
    if (filled.entry) this.link(filled.entry, raw);
    return filled.result;
  }

  private link(e: Cached, raw: string | undefined): void {
    if (raw === undefined || e.dropped || this.rawCache.get(raw) === e) return;
    if (this.rawCache.size >= this.maxCacheEntries) this.reset();
    if (e.dropped) return;
    this.rawCache.set(raw, e);
    e.rawKeys.push(raw);
  }

  /** Bounded memory: at the limit every entry is dropped (they are rebuilt on demand). */
  private reset(): void {
    for (const e of this.cache.values()) e.dropped = true;
    for (const e of this.rawCache.values()) e.dropped = true;
    this.cache.clear();
    this.rawCache.clear();
    this.bySerial.clear();
    this.statuses.clear();
  }

  /** First answer for a CertID: store read + signature, cached unless a revocation happened meanwhile. */
  private async fill(issuer: IssuerHashes, id: CertId, key: string): Promise<{ result: OcspResult; entry?: Cached }> {
    const epoch = this.epoch;
    const status = await this.currentStatus(issuer.issuer, id.serial);
    const signed = await this.sign(issuer, [id.raw], [status]);
    if (signed.result.status !== OCSP_STATUS.successful || epoch !== this.epoch) return { result: signed.result };
    if (this.cache.size >= this.maxCacheEntries) this.reset();
    const entry: Cached = { result: signed.result, expires: this.d.clock().getTime() + this.cacheTtlMs, key, serial: id.serial, issuer, certIdRaw: id.raw, status, signedBy: signed.by, rawKeys: [], dropped: false };
    this.cache.set(key, entry);
    const list = this.bySerial.get(id.serial);
    if (list) list.push(entry);
    else this.bySerial.set(id.serial, [entry]);
    return { result: signed.result, entry };
  }

  /** An expired entry: one store read (shared by concurrent requests); re-signed only when needed. */
  private revalidate(e: Cached): Promise<OcspResult> {
    e.refreshing ??= this.refresh(e).finally(() => (e.refreshing = undefined));
    return e.refreshing;
  }

  private async refresh(e: Cached): Promise<OcspResult> {
    const epoch = this.epoch;
    const current = () => epoch === this.epoch && !e.dropped;
    const status = await this.currentStatus(e.issuer.issuer, e.serial);
    const now = this.d.clock().getTime();
    const delegate = this.d.delegated?.current(e.issuer.issuer.id);
    // RFC 5019 §2.1/§6.2: a pre-produced response is reusable until shortly before its nextUpdate.
    if (sameStatus(status, e.status) && delegate === e.signedBy && e.result.nextUpdate!.getTime() - now > this.validityMs / 2) {
      if (current()) e.expires = now + this.cacheTtlMs;
      return e.result;
    }
    const signed = await this.sign(e.issuer, [e.certIdRaw], [status]);
    if (signed.result.status === OCSP_STATUS.successful && current()) {
      e.result = signed.result;
      e.status = status;
      e.signedBy = signed.by;
      e.expires = this.d.clock().getTime() + this.cacheTtlMs;
    }
    return signed.result;
  }

  /** Signs a BasicOCSPResponse for the CertIDs (delegated responder if there is one, §4.2.2.2; else the CA, §2.6). */
  private async sign(issuer: IssuerHashes, certIds: Buffer[], statuses: CertStatus[], nonce?: Buffer): Promise<{ result: OcspResult; by?: ResponderIdentity }> {
    try {
      const now = this.d.clock();
      const nextUpdate = new Date(now.getTime() + this.validityMs);
      const responses = certIds.map((raw, i) => singleResponse(raw, statuses[i]!, now, nextUpdate));
      const delegate = this.d.delegated?.current(issuer.issuer.id);
      const tbs = buildResponseData({ responderKeyHash: delegate?.keyHash ?? issuer.responderKeyHash, producedAt: now, responses, nonce });
      const der = delegate
        ? assembleOcspResponse(tbs, delegate.signatureAlgorithmDer, await delegate.signer.sign(tbs), delegate.certs)
        : assembleOcspResponse(tbs, issuer.issuer.signatureAlgorithmDer!, await issuer.issuer.signer!.sign(tbs));
      return { result: { der, status: OCSP_STATUS.successful, nextUpdate, producedAt: now, cacheable: !nonce }, by: delegate };
    } catch (e) {
      this.d.logger?.error({ err: e }, 'OCSP response signing failed');
      const status = e instanceof FlintError && e.kind === 'unavailable' ? OCSP_STATUS.tryLater : OCSP_STATUS.internalError;
      return { result: { der: ocspError(status), status } };
    }
  }

  /**
   * The status as of at most cacheTtlMs ago: a store read, remembered for cacheTtlMs (nonce requests
   * for the same serial then cost a signature, not a store read), unless a revocation raced with it.
   */
  private async currentStatus(issuer: Issuer, serial: string): Promise<CertStatus> {
    const now = this.d.clock().getTime();
    const known = this.statuses.get(serial);
    if (known && known.issuerId === issuer.id && known.expires > now) return known.status;
    const epoch = this.epoch;
    const status = await this.status(issuer, serial);
    if (epoch === this.epoch) {
      if (this.statuses.size >= this.maxCacheEntries) this.statuses.clear();
      this.statuses.set(serial, { issuerId: issuer.id, status, expires: now + this.cacheTtlMs });
    }
    return status;
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
