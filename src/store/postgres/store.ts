/**
 * The HA store (issue 7): every node runs on one PostgreSQL database through a small pool.
 * Statements time out on the server (statement_timeout) and so do forgotten transactions
 * (idle_in_transaction_session_timeout); a connection lost to a server restart surfaces as
 * FlintError 'unavailable' (db.ts mapError) and the pool reconnects on the next call.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { FlintError } from '../../errors/index.js';
import { postgresMigrations } from '../migrations/postgres-index.js';
import type {
  AcmeRepository,
  ApprovalRepository,
  AuditRepository,
  CaRepository,
  CertificateRepository,
  EnrollmentRepository,
  LeaseRepository,
  RecentEventRepository,
  RevocationRepository,
  Store,
  StoreChangeListener,
} from '../types.js';
import { pgAcmeRepository } from './acme.js';
import { pgApprovalRepository } from './approvals.js';
import { pgAuditRepository } from './audit.js';
import { pgCaRepository, pgCertificateRepository } from './certificates.js';
import { ChangeFeed } from './changes.js';
import { isConnectionError } from './db.js';
import { pgEnrollmentRepository } from './enrollment.js';
import { pgRecentEventRepository } from './recent-events.js';
import { pgLeaseRepository } from './leases.js';
import { applyMigrations } from './migrate.js';
import { pgRevocationRepository } from './revocation.js';

export interface PgStoreOptions {
  /** Pool size per node (default 10). */
  maxConnections?: number;
  /** Server-side limit on one statement, ms (default 10 000). */
  statementTimeoutMs?: number;
  /** Waiting for a new connection, ms (default 5 000). */
  connectTimeoutMs?: number;
  /** Called for errors on idle connections and the LISTEN connection (never with secrets). */
  onError?: (message: string, error: unknown) => void;
}

export class PgStore implements Store {
  readonly kind = 'postgres' as const;
  readonly cas: CaRepository;
  readonly certificates: CertificateRepository;
  readonly audit: AuditRepository;
  readonly approvals: ApprovalRepository;
  readonly revocation: RevocationRepository;
  readonly acme: AcmeRepository;
  readonly enrollment: EnrollmentRepository;
  readonly leases: LeaseRepository;
  readonly recentEvents: RecentEventRepository;
  private readonly feed: ChangeFeed;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    clientConfig: pg.ClientConfig,
    onError?: PgStoreOptions['onError'],
  ) {
    // Identifies this store's own NOTIFYs, which its subscribers already got after COMMIT.
    const origin = randomUUID();
    this.feed = new ChangeFeed(clientConfig, origin, onError);
    const emit = this.feed.emit.bind(this.feed);
    this.cas = pgCaRepository(pool);
    this.certificates = pgCertificateRepository(pool, emit, origin);
    this.audit = pgAuditRepository(pool);
    this.approvals = pgApprovalRepository(pool);
    this.revocation = pgRevocationRepository(pool, emit, origin);
    this.leases = pgLeaseRepository(pool);
    this.recentEvents = pgRecentEventRepository(pool);
    this.acme = pgAcmeRepository(pool);
    this.enrollment = pgEnrollmentRepository(pool);
  }

  /** Connects, applies pending migrations (once across nodes starting together) and returns the store. */
  static async open(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
    const statementTimeout = opts.statementTimeoutMs ?? 10_000;
    const clientConfig: pg.ClientConfig = {
      connectionString: url,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      statement_timeout: statementTimeout,
      // Client side too: a server that stopped answering (network partition) fails the call
      // instead of hanging it; the pool then drops that connection.
      query_timeout: statementTimeout + 5_000,
      // A transaction left open by a stalled node must not hold the audit head lock for long.
      idle_in_transaction_session_timeout: Math.max(statementTimeout * 3, 30_000),
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: 'flintca',
    };
    const pool = new pg.Pool({ ...clientConfig, max: opts.maxConnections ?? 10, idleTimeoutMillis: 30_000 });
    // An idle connection killed by a server restart emits 'error' on the pool: without a handler
    // that would crash the process. The pool drops the connection; the next call reconnects.
    pool.on('error', (e) => opts.onError?.('PostgreSQL idle connection lost', e));
    try {
      await applyMigrations(clientConfig, postgresMigrations);
    } catch (e) {
      await pool.end().catch(() => undefined);
      const kind = isConnectionError(e) ? 'unavailable' : 'internal';
      // pg error messages name the user and database at most, never the password.
      throw new FlintError(kind, `cannot open PostgreSQL store: ${(e as Error).message}`, { code: 'store.unavailable', cause: e, retryAfter: kind === 'unavailable' ? 5 : undefined });
    }
    return new PgStore(pool, clientConfig, opts.onError);
  }

  subscribe(listener: StoreChangeListener): () => void {
    return this.feed.subscribe(listener);
  }

  /** Resolves once the LISTEN connection is up (after the first subscribe, and again after a reconnect). */
  whenListening(): Promise<void> {
    return this.feed.whenListening();
  }

  async ping(timeoutMs = 2_000): Promise<boolean> {
    if (this.closed) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const probe = this.pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([probe, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.feed.close();
    await this.pool.end();
  }
}
