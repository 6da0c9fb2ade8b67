/**
 * CRL service (RFC 5280 §5): builds and signs a full CRL (and a delta CRL, §5.2.4) per CA through
 * the key store, persists the cRLNumber and the latest CRL DER in the store (so restarts and other
 * nodes serve the same CRL), and regenerates:
 *  - on revocation (debounced) via Authority.onRevocation,
 *  - when the store's revoked set changes (revocations made by another process, e.g. the CLI),
 *  - when less than half of the validity period is left.
 * With `partitions` N > 0 it also publishes N partitioned CRLs per CA (RFC 5280 §5.2.5): partition k
 * lists the revoked end-entity certificates whose serialBucket(serial, N) is k, and carries a
 * critical Issuing Distribution Point naming its URL with onlyContainsUserCerts. They are
 * regenerated together with the full CRL and share the CA's cRLNumber sequence.
 * With `leader` (several nodes, see leader.ts) only the lease holder generates and saves CRLs;
 * the others serve what the store holds.
 *
 * Scale: revoked entries are read page by page (keyset pagination) and streamed into the CRL
 * encoders, so a million-entry CRL is built in bounded memory; whether a CRL is current is decided
 * by the store's digest of the revoked set (RevocationRepository.revokedDigest), not by listing it;
 * the store poll backs off so that it costs at most ~5% of the time when that digest is slow.
 */
import type { Logger } from 'pino';
import type { Issuer, IssuerRegistry } from '../../core/issuers.js';
import type { AuditSink, Clock } from '../../core/ports.js';
import { REVOCATION_REASONS } from '../../core/revocation-reasons.js';
import { serialBucket } from '../../core/serial.js';
import { FlintError } from '../../errors/index.js';
import { assembleCrl, buildTbsCrl, CrlEntryWriter, type CrlEntry } from '../../pki/crl.js';
import { readHeader } from '../../pki/der.js';
import type { CrlKind, StoredCrl } from '../../store/revocation-types.js';
import type { CertificateRecord, Store } from '../../store/types.js';
import type { CrlLeadership } from './leader.js';

export interface CrlServiceOptions {
  /** thisUpdate → nextUpdate, default 24 h. */
  validityMs?: number;
  /** Debounce after a revocation, default 2 s. */
  debounceMs?: number;
  /** How often the store is re-checked for revocations made elsewhere, default 1 s. */
  pollMs?: number;
  /** Partitioned CRLs by serial bucket (0 = off) and the URL of partition k (its IDP distributionPoint). */
  partitions?: number;
  partitionUrl?: (caId: string, k: number) => string;
  /** How long a node that does not lead waits for the leader's first CRL before answering unavailable, default 3 s. */
  missingWaitMs?: number;
}

export interface CrlServiceDeps {
  issuers: IssuerRegistry;
  store: Pick<Store, 'revocation'>;
  audit: Pick<AuditSink, 'record'>;
  clock: Clock;
  logger?: Logger;
  /** Absent: this process alone generates (single node, tests). */
  leader?: CrlLeadership;
}

interface CaState {
  full?: StoredCrl;
  delta?: StoredCrl;
  parts: Map<CrlKind, StoredCrl>;
  timer?: NodeJS.Timeout;
  running?: Promise<StoredCrl | undefined>;
}

const HOLD_REASON = Buffer.from('0603551d1504030a0106', 'hex'); // reasonCode extension = certificateHold
/** Revoked entries read per store page. */
const PAGE = 5000;

/** Serials (normalized hex) whose entry in a CRL we issued carries reason certificateHold (walked in place, no copy per entry). */
export function heldSerials(crlDer: Buffer): string[] {
  const out: string[] = [];
  try {
    const tbs = readHeader(crlDer, readHeader(crlDer).contentStart);
    // TBSCertList: version, signature, issuer, thisUpdate, nextUpdate, then revokedCertificates (a SEQUENCE) if any.
    let pos = tbs.contentStart;
    for (let i = 0; i < 5; i++) pos = readHeader(crlDer, pos).end;
    const list = pos < tbs.end ? readHeader(crlDer, pos) : undefined;
    if (!list || list.tag !== 0x30) return out;
    for (let p = list.contentStart; p < list.end; ) {
      const entry = readHeader(crlDer, p);
      if (crlDer.subarray(entry.contentStart, entry.end).includes(HOLD_REASON)) {
        const serial = readHeader(crlDer, entry.contentStart);
        out.push(crlDer.toString('hex', serial.contentStart, serial.end).replace(/^(00)+(?=[0-9a-f]{2})/, ''));
      }
      p = entry.end;
    }
  } catch {
    return out;
  }
  return out;
}

export class CrlService {
  private readonly state = new Map<string, CaState>();
  private poller?: NodeJS.Timeout;
  private readonly validityMs: number;
  private readonly debounceMs: number;
  private readonly pollMs: number;
  readonly partitions: number;
  private readonly partitionUrl: (caId: string, k: number) => string;
  private readonly missingWaitMs: number;
  private closed = false;

  constructor(private readonly d: CrlServiceDeps, o: CrlServiceOptions = {}) {
    this.validityMs = o.validityMs ?? 24 * 3600_000;
    this.debounceMs = o.debounceMs ?? 2000;
    this.pollMs = o.pollMs ?? 1000;
    this.partitions = o.partitions ?? 0;
    this.partitionUrl = o.partitionUrl ?? ((caId, k) => `/crl/${caId}-p${k}.crl`);
    this.missingWaitMs = o.missingWaitMs ?? 3000;
  }

  /** May this node generate and save CRLs for the CA now (it holds the lease, or there is no leader concept)? */
  private leads(caId: string): boolean {
    return !this.d.leader || this.d.leader.leads(caId);
  }

  private partitionKinds(): CrlKind[] {
    return Array.from({ length: this.partitions }, (_, k) => `p${k}` as CrlKind);
  }

  private pick(s: CaState, kind: CrlKind): StoredCrl | undefined {
    return kind === 'full' ? s.full : kind === 'delta' ? s.delta : s.parts.get(kind);
  }

  private put(s: CaState, crl: StoredCrl): void {
    if (crl.kind === 'full') s.full = crl;
    else if (crl.kind === 'delta') s.delta = crl;
    else s.parts.set(crl.kind, crl);
  }

  private st(caId: string): CaState {
    let s = this.state.get(caId);
    if (!s) this.state.set(caId, (s = { parts: new Map() }));
    return s;
  }

  /** Loads stored CRLs, generates missing/stale ones, and starts the store poll. */
  async start(): Promise<void> {
    for (const i of this.d.issuers.list()) await this.refresh(i.id).catch((e) => this.d.logger?.warn({ err: e, ca: i.id }, 'CRL generation failed'));
    this.poller = setTimeout(() => void this.poll(), this.pollMs);
    this.poller.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearTimeout(this.poller);
    for (const s of this.state.values()) if (s.timer) clearTimeout(s.timer);
    await Promise.all([...this.state.values()].map((s) => s.running?.catch(() => undefined)));
  }

  /** Authority.onRevocation listener: regenerate that CA's CRL after a short debounce. */
  onRevocation = (cert: CertificateRecord): void => this.schedule(cert.issuerId);

  schedule(caId: string): void {
    if (this.closed || !this.leads(caId)) return;
    const s = this.st(caId);
    if (s.timer) return;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void this.generate(caId).catch((e) => this.d.logger?.warn({ err: e, ca: caId }, 'CRL generation failed'));
    }, this.debounceMs);
    s.timer.unref();
  }

  /**
   * Streams the CA's CRL entries, page by page, in serial order. Certificates expired for less
   * than a CRL validity period stay listed, so each appears on one regularly scheduled CRL issued
   * after it expired (RFC 5280 §3.3); regeneration at half validity guarantees that CRL exists.
   */
  private async eachEntry(caId: string, visit: (e: CrlEntry) => void): Promise<void> {
    const notAfterAfter = new Date(this.d.clock().getTime() - this.validityMs);
    for (let after: string | null = null; ; ) {
      const rows = await this.d.store.revocation.revokedPage(caId, notAfterAfter, after, PAGE);
      // RFC 5280 §5.3.1: hold entries carry reason certificateHold.
      for (const c of rows) visit({ serial: c.serial, revokedAt: c.revokedAt, reason: c.status === 'hold' ? REVOCATION_REASONS.certificateHold : c.reason });
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.serial;
    }
  }

  /** The current CRL of `kind` for a CA: memory, else store, else generated now. */
  async get(caId: string, kind: CrlKind = 'full'): Promise<StoredCrl> {
    this.d.issuers.get(caId); // notFound for unknown CAs
    if (kind !== 'full' && kind !== 'delta' && !(Number(kind.slice(1)) < this.partitions)) throw new FlintError('notFound', `no CRL partition ${kind.slice(1)} for CA ${caId}`, { code: 'crl.unknownPartition' });
    const s = this.st(caId);
    let crl = this.pick(s, kind);
    if (!crl || this.stale(crl)) {
      await this.refresh(caId);
      crl = this.pick(s, kind);
    }
    if (!s.full && this.d.leader && this.d.issuers.get(caId).signer) crl = await this.awaitFirst(caId, kind);
    if (!crl) throw new FlintError('notFound', `no ${kind} CRL for CA ${caId}`, { code: 'crl.unavailable' });
    return crl;
  }

  /**
   * No CRL at all for the CA yet (fresh install) and another node leads: take the lease when no
   * one holds it and generate; otherwise wait briefly for the leader's CRL, then give up with
   * `unavailable` (503 + Retry-After) rather than generate beside the leader.
   */
  private async awaitFirst(caId: string, kind: CrlKind): Promise<StoredCrl | undefined> {
    const s = this.st(caId);
    if (!this.leads(caId) && (await this.d.leader!.claim(caId))) await this.refresh(caId);
    const end = Date.now() + this.missingWaitMs;
    while (!s.full && !this.closed && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 200));
      await this.reload(caId);
    }
    if (!s.full) throw new FlintError('unavailable', `the CRL of CA ${caId} is being generated by another node`, { code: 'crl.notYet', retryAfter: 5 });
    return this.pick(s, kind);
  }

  private stale(crl: StoredCrl): boolean {
    const now = this.d.clock().getTime();
    return crl.nextUpdate.getTime() - now < (crl.nextUpdate.getTime() - crl.thisUpdate.getTime()) / 2;
  }

  /** Picks up CRLs from the store newer than the ones in memory (another node or process made them). */
  async reload(caId: string): Promise<void> {
    const s = this.st(caId);
    const kinds: CrlKind[] = ['full', 'delta', ...this.partitionKinds()];
    for (const kind of kinds) {
      const cur = this.pick(s, kind);
      const stored = await this.d.store.revocation.latestCrl(caId, kind, cur?.number);
      if (stored && (!cur || stored.number > cur.number)) this.put(s, stored);
    }
  }

  /** Picks up newer CRLs from the store; the leader generates when missing, stale, or the revoked set changed. */
  async refresh(caId: string): Promise<void> {
    const s = this.st(caId);
    await this.reload(caId);
    if (!this.leads(caId)) return;
    const digest = await this.d.store.revocation.revokedDigest(caId);
    const partHash = this.partitionHash(digest);
    if (!s.full || this.stale(s.full) || s.full.sourceHash !== digest || this.partitionKinds().some((k) => s.parts.get(k)?.sourceHash !== partHash)) {
      await this.generate(caId);
    }
  }

  /** A partition is current for this revoked set and this partition count. */
  private partitionHash(fingerprint: string): string {
    return `${fingerprint}/p${this.partitions}`;
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    const started = performance.now();
    for (const i of this.d.issuers.list()) {
      const s = this.st(i.id);
      if (s.running || s.timer) continue;
      try {
        await this.refresh(i.id);
      } catch (e) {
        this.d.logger?.warn({ err: e, ca: i.id }, 'CRL refresh failed');
      }
    }
    // Back off when checking is slow (a digest over a million revoked entries): at most ~5% of the time.
    if (!this.closed) {
      this.poller = setTimeout(() => void this.poll(), Math.max(this.pollMs, 20 * (performance.now() - started)));
      this.poller.unref();
    }
  }

  /** Builds, signs, stores and audits a new full CRL (and the delta against the previous full). */
  generate(caId: string): Promise<StoredCrl | undefined> {
    const s = this.st(caId);
    if (s.running) return s.running.then(() => this.generate(caId));
    s.running = this.doGenerate(caId).finally(() => (s.running = undefined));
    return s.running;
  }

  private async doGenerate(caId: string): Promise<StoredCrl | undefined> {
    const issuer = this.d.issuers.get(caId);
    if (!issuer.signer || !issuer.signatureAlgorithmDer) return undefined; // offline CA: serve what the store has
    if (!this.leads(caId)) return undefined; // another node generates: this one serves what the store has
    const s = this.st(caId);
    // Read before the entries: a change while streaming makes the next refresh regenerate.
    const digest = await this.d.store.revocation.revokedDigest(caId);
    const previous = s.full;
    const since = previous?.thisUpdate.getTime();
    const full = new CrlEntryWriter();
    // Delta (§5.2.4): entries revoked after the base CRL was issued; base = the previous full CRL.
    const changed: CrlEntry[] = [];
    // §5.3.1: certificates on hold in the base and no longer listed are released (removeFromCRL).
    const released = new Set(previous ? heldSerials(previous.der) : []);
    // Partitions (§5.2.5): end-entity entries only (onlyContainsUserCerts), CA certificates stay on the full CRL.
    const parts = Array.from({ length: this.partitions }, () => new CrlEntryWriter());
    const caSerials = new Set(this.d.issuers.list().map((i) => i.cert.serialHex.toLowerCase().replace(/^(00)+(?=[0-9a-f]{2})/, '')));
    await this.eachEntry(caId, (e) => {
      full.add(e);
      if (since !== undefined && e.revokedAt.getTime() >= since) changed.push(e);
      released.delete(e.serial);
      if (parts.length && !caSerials.has(e.serial)) parts[serialBucket(e.serial, this.partitions)]!.add(e);
    });
    const number = await this.d.store.revocation.nextCrlNumber(caId);
    const thisUpdate = this.d.clock();
    const nextUpdate = new Date(thisUpdate.getTime() + this.validityMs);
    const fullCrl = await this.sign(issuer, { entries: full, number, thisUpdate, nextUpdate }, 'full', null, digest);
    // Never act on a lease that could not be renewed meanwhile (the number is burnt: a gap, still monotonic).
    if (!this.leads(caId)) return undefined;
    await this.d.store.revocation.saveCrl(fullCrl);
    s.full = fullCrl;
    if (previous) {
      for (const serial of released) changed.push({ serial, revokedAt: thisUpdate, reason: REVOCATION_REASONS.removeFromCRL });
      const deltaNumber = await this.d.store.revocation.nextCrlNumber(caId);
      const delta = await this.sign(issuer, { entries: changed, number: deltaNumber, thisUpdate, nextUpdate }, 'delta', previous.number, digest);
      await this.d.store.revocation.saveCrl(delta);
      s.delta = delta;
    }
    for (let k = 0; k < parts.length; k++) {
      const n = await this.d.store.revocation.nextCrlNumber(caId);
      const part = await this.sign(issuer, { entries: parts[k]!, number: n, thisUpdate, nextUpdate, distributionPoint: this.partitionUrl(caId, k) }, `p${k}`, null, this.partitionHash(digest));
      await this.d.store.revocation.saveCrl(part);
      s.parts.set(part.kind, part);
    }
    await this.d.audit
      .record({ actor: 'system', action: 'crl.generate', object: `crl:${caId}`, result: 'ok', data: { number: number.toString(), entries: full.count, nextUpdate: nextUpdate.toISOString(), partitions: this.partitions || undefined } })
      .catch((e) => this.d.logger?.warn({ err: e }, 'audit crl.generate failed'));
    this.d.logger?.info({ ca: caId, number: number.toString(), entries: full.count }, 'CRL generated');
    return fullCrl;
  }

  private async sign(issuer: Issuer, c: { entries: CrlEntry[] | CrlEntryWriter; number: bigint; thisUpdate: Date; nextUpdate: Date; distributionPoint?: string }, kind: CrlKind, baseNumber: bigint | null, sourceHash: string): Promise<StoredCrl> {
    const tbs = buildTbsCrl({
      signatureAlgorithm: issuer.signatureAlgorithmDer!,
      issuerDer: issuer.cert.subjectDer,
      thisUpdate: c.thisUpdate,
      nextUpdate: c.nextUpdate,
      entries: c.entries,
      authorityKeyId: issuer.cert.subjectKeyId ?? Buffer.from(issuer.record.ski, 'hex'),
      crlNumber: c.number,
      deltaOf: baseNumber ?? undefined,
      distributionPoint: c.distributionPoint,
      onlyContainsUserCerts: c.distributionPoint ? true : undefined,
    });
    const sig = await issuer.signer!.sign(tbs);
    const der = assembleCrl(tbs, issuer.signatureAlgorithmDer!, sig);
    return { caId: issuer.id, kind, number: c.number, baseNumber, thisUpdate: c.thisUpdate, nextUpdate: c.nextUpdate, der, sourceHash };
  }
}
