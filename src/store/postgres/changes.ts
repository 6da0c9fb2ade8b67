/**
 * The change feed across nodes: one dedicated connection per store LISTENs on CHANGE_CHANNEL
 * (started on the first subscribe). Writers send NOTIFY inside their transaction, so only
 * committed changes arrive. A store's own writes reach its subscribers directly after COMMIT
 * (at once, even before the LISTEN connection is up); their NOTIFY echo carries the store's
 * `origin` and is dropped here.
 *
 * When the connection drops (the server restarted, a failover), the feed reconnects with backoff
 * for as long as it takes. Notifications sent while it was away are lost and nothing is replayed:
 * it emits nothing it cannot know. Caches fed by it must therefore also re-check the store on
 * their own (the OCSP and CRL caches use a TTL), which bounds staleness after a reconnect.
 */
import pg from 'pg';
import type { StoreChange, StoreChangeListener } from '../ha-types.js';
import { CHANGE_CHANNEL } from './db.js';

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;
/** A LISTEN connection only reads: a round trip this often finds one that died silently (no RST). */
const HEARTBEAT_MS = 15_000;

/** Validates a NOTIFY payload; anything else on the channel is ignored. */
export function parseChange(payload: string | undefined, ownOrigin: string): StoreChange | undefined {
  if (!payload) return undefined;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || v.origin === ownOrigin) return undefined;
  if (v.kind === 'certificateStatus' && typeof v.serial === 'string' && typeof v.issuerId === 'string' && (v.status === 'valid' || v.status === 'revoked' || v.status === 'hold')) {
    return { kind: 'certificateStatus', serial: v.serial, issuerId: v.issuerId, status: v.status };
  }
  if (v.kind === 'crl' && typeof v.caId === 'string') return { kind: 'crl', caId: v.caId };
  return undefined;
}

export class ChangeFeed {
  private readonly listeners = new Set<StoreChangeListener>();
  private client: pg.Client | undefined;
  private started = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoff = MIN_BACKOFF_MS;
  /** Resolves each time a LISTEN is in place (tests and readiness can wait for it). */
  private readyWaiters: (() => void)[] = [];

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly origin: string,
    private readonly onError: (message: string, error: unknown) => void = () => undefined,
  ) {}

  subscribe(listener: StoreChangeListener): () => void {
    this.listeners.add(listener);
    if (!this.started && !this.closed) {
      this.started = true;
      void this.connect();
    }
    return () => void this.listeners.delete(listener);
  }

  /** Delivers a change to this store's subscribers (own writes, after COMMIT). */
  emit(change: StoreChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        /* a listener's failure must not fail the write that already committed */
      }
    }
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Waits until the LISTEN connection is (again) up. */
  whenListening(): Promise<void> {
    if (this.client) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const c = new pg.Client(this.config);
    let lost = false;
    let heartbeat: NodeJS.Timeout | undefined;
    const onLost = (e?: unknown) => {
      if (lost) return;
      lost = true;
      clearInterval(heartbeat);
      if (this.client === c) {
        this.client = undefined;
        if (!this.closed) this.onError('PostgreSQL change feed connection lost; reconnecting (changes meanwhile are not replayed)', e);
      }
      void c.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    c.on('error', onLost); // never unhandled: a dead server must not crash the process
    c.on('end', () => onLost());
    c.on('notification', (msg) => {
      if (msg.channel !== CHANGE_CHANNEL) return;
      const change = parseChange(msg.payload, this.origin);
      if (change) this.emit(change);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (e) {
      onLost(e);
      return;
    }
    if (lost) return;
    if (this.closed) {
      await c.end().catch(() => undefined);
      return;
    }
    this.client = c;
    this.backoff = MIN_BACKOFF_MS;
    heartbeat = setInterval(() => void c.query('SELECT 1').catch((e: unknown) => onLost(e)), HEARTBEAT_MS);
    heartbeat.unref();
    for (const w of this.readyWaiters.splice(0)) w();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const c = this.client;
    this.client = undefined;
    this.listeners.clear();
    for (const w of this.readyWaiters.splice(0)) w(); // nothing left to wait for
    if (c) await c.end().catch(() => undefined); // 'end' → onLost clears the heartbeat; closed: no reconnect
  }
}
