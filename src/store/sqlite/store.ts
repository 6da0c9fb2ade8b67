/** The embedded store: one SQLite file DIR/flintca.db, WAL, busy timeout, group commit. */
import Database from 'better-sqlite3';
import { FlintError } from '../../errors/index.js';
import { sqliteMigrations } from '../migrations/index.js';
import type {
  AuditCheckpoint,
  AcmeRepository,
  ApprovalRepository,
  AuditRepository,
  CaRepository,
  CertificateFilter,
  CertificateRepository,
  EnrollmentRepository,
  LeaseRepository,
  RecentEventRepository,
  StoreChange,
  StoreChangeListener,
  RevocationChange,
  RevocationRepository,
  Store,
} from '../types.js';
import { toAuditRecord, toCa, toCert } from '../rows.js';
import { WriteBatcher } from './batch.js';
import { appendAuditSync } from './audit.js';
import { sqliteApprovalRepository } from './approvals.js';
import { sqliteRevocationRepository } from './revocation.js';
import { sqliteAcmeRepository } from './acme.js';
import { sqliteEnrollmentRepository } from './enrollment.js';
import { sqliteRecentEventRepository } from './recent-events.js';
import { sqliteLeaseRepository } from './leases.js';

export { appendAuditSync } from './audit.js';

type Db = Database.Database;
type Row = Record<string, unknown>;

function applyMigrations(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of sqliteMigrations) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }).immediate();
  }
}

function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly cas: CaRepository;
  readonly certificates: CertificateRepository;
  readonly audit: AuditRepository;
  readonly approvals: ApprovalRepository;
  readonly revocation: RevocationRepository;
  readonly acme: AcmeRepository;
  readonly enrollment: EnrollmentRepository;
  readonly leases: LeaseRepository;
  readonly recentEvents: RecentEventRepository;
  private readonly writer: WriteBatcher;
  /** In-process only: other processes on the same file do not see these (see StoreChange). */
  private readonly listeners = new Set<StoreChangeListener>();

  private constructor(private readonly db: Db) {
    this.writer = new WriteBatcher(db);
    const w = this.writer;
    const read = db;
    this.approvals = sqliteApprovalRepository(db, w);
    this.revocation = sqliteRevocationRepository(db, w, (c) => this.emit(c));
    this.leases = sqliteLeaseRepository(db, w);
    this.recentEvents = sqliteRecentEventRepository(db, w);
    this.acme = sqliteAcmeRepository(db, w);
    this.enrollment = sqliteEnrollmentRepository(db, w);
    this.cas = {
      upsert: (ca, audit = []) =>
        w.run((d) => {
          d.prepare(
            `INSERT INTO cas (id, parent_id, key_uri, cert_der, subject, ski, not_before, not_after, status, created_at)
             VALUES (?,?,?,?,?,?,?,?,?,?)
             ON CONFLICT(id) DO UPDATE SET parent_id=excluded.parent_id, key_uri=excluded.key_uri, cert_der=excluded.cert_der,
               subject=excluded.subject, ski=excluded.ski, not_before=excluded.not_before, not_after=excluded.not_after, status=excluded.status`,
          ).run(ca.id, ca.parentId, ca.keyUri, ca.certDer, ca.subject, ca.ski, ca.notBefore.getTime(), ca.notAfter.getTime(), ca.status, ca.createdAt.getTime());
          appendAuditSync(d, audit);
        }),
      get: async (id) => {
        const r = read.prepare('SELECT * FROM cas WHERE id = ?').get(id) as Row | undefined;
        return r ? toCa(r) : undefined;
      },
      list: async () => (read.prepare('SELECT * FROM cas ORDER BY created_at, id').all() as Row[]).map(toCa),
    };
    const insertCert = db.prepare(
      `INSERT INTO certificates (serial, issuer_id, subject, sans, not_before, not_after, profile, requester, protocol, status,
        revoked_at, revocation_reason, der, created_at, replaces) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    const getCert = db.prepare('SELECT * FROM certificates WHERE serial = ?');
    this.certificates = {
      insert: async (c, audit = []) => {
        try {
          await w.run((d) => {
            insertCert.run(c.serial, c.issuerId, c.subject, JSON.stringify(c.sans), c.notBefore.getTime(), c.notAfter.getTime(), c.profile,
              c.requester, c.protocol, c.status, c.revokedAt?.getTime() ?? null, c.revocationReason, c.der, c.createdAt.getTime(), c.replaces);
            appendAuditSync(d, audit);
          });
        } catch (e) {
          if (isUniqueViolation(e)) throw new FlintError('conflict', `serial ${c.serial} already exists`, { code: 'store.duplicateSerial' });
          throw e;
        }
      },
      get: async (serial) => {
        const r = getCert.get(serial) as Row | undefined;
        return r ? toCert(r) : undefined;
      },
      list: async (f: CertificateFilter = {}) => {
        const where: string[] = [];
        const args: unknown[] = [];
        if (f.issuerId) (where.push('issuer_id = ?'), args.push(f.issuerId));
        if (f.profile) (where.push('profile = ?'), args.push(f.profile));
        if (f.status) (where.push('status = ?'), args.push(f.status));
        if (f.expiringBefore) (where.push('not_after <= ?'), args.push(f.expiringBefore.getTime()));
        if (f.notExpiredAt) (where.push('not_after > ?'), args.push(f.notExpiredAt.getTime()));
        if (f.afterSerial) (where.push('serial > ?'), args.push(f.afterSerial));
        const sql = `SELECT * FROM certificates ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY serial LIMIT ?`;
        args.push(f.limit ?? 1_000_000);
        return (read.prepare(sql).all(...args) as Row[]).map(toCert);
      },
      setStatus: async (ch: RevocationChange, audit = []) => {
        const issuerId = await w.run((d) => {
          const placeholders = ch.fromStatuses.map(() => '?').join(',');
          const row = d
            .prepare(`UPDATE certificates SET status = ?, revoked_at = ?, revocation_reason = ? WHERE serial = ? AND status IN (${placeholders}) RETURNING issuer_id`)
            .get(ch.status, ch.revokedAt?.getTime() ?? null, ch.reason, ch.serial, ...ch.fromStatuses) as { issuer_id: string } | undefined;
          if (!row) return undefined;
          appendAuditSync(d, audit);
          return row.issuer_id;
        });
        if (issuerId === undefined) return false;
        this.emit({ kind: 'certificateStatus', serial: ch.serial, issuerId, status: ch.status });
        return true;
      },
      countByExpiry: async (now, buckets) => {
        const out: Record<string, number> = {};
        let prev = now.getTime();
        const sorted = [...buckets].sort((a, b) => a - b);
        const q = read.prepare('SELECT COUNT(*) AS n FROM certificates WHERE status = ? AND not_after > ? AND not_after <= ?');
        for (const days of sorted) {
          const until = now.getTime() + days * 86_400_000;
          out[`${days}d`] = (q.get('valid', prev, until) as { n: number }).n;
          prev = until;
        }
        out['later'] = (read.prepare('SELECT COUNT(*) AS n FROM certificates WHERE status = ? AND not_after > ?').get('valid', prev) as { n: number }).n;
        return out;
      },
    };
    this.audit = {
      append: (events, opts) => w.run((d) => appendAuditSync(d, events), opts?.durable ?? true),
      range: async (fromSeq, limit) =>
        (read.prepare('SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT ?').all(fromSeq, limit) as Row[]).map(toAuditRecord),
      head: async () => read.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined,
      addCheckpoint: (cp: AuditCheckpoint) =>
        w.run((d) => {
          d.prepare('INSERT OR REPLACE INTO audit_checkpoints (head_seq, head_hash, time, key_uri, signature) VALUES (?,?,?,?,?)').run(
            cp.headSeq, cp.headHash, cp.time, cp.keyUri, cp.signature);
        }),
      checkpoints: async () =>
        (read.prepare('SELECT * FROM audit_checkpoints ORDER BY head_seq').all() as Row[]).map((r) => ({
          headSeq: r.head_seq as number,
          headHash: r.head_hash as string,
          time: r.time as string,
          keyUri: r.key_uri as string,
          signature: r.signature as string,
        })),
    };
  }

  /** Opens (creating if needed) the database file and applies pending migrations. */
  static open(file: string): SqliteStore {
    let db: Db;
    try {
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      applyMigrations(db);
    } catch (e) {
      throw new FlintError('unavailable', `cannot open SQLite store ${file}: ${(e as Error).message}`, { cause: e });
    }
    return new SqliteStore(db);
  }

  subscribe(listener: StoreChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: StoreChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        /* a listener's failure must not fail the write that already committed */
      }
    }
  }

  /** Escape hatch for tests that tamper with the audit table on purpose. */
  get rawDatabase(): Db {
    return this.db;
  }

  async ping(): Promise<boolean> {
    try {
      this.db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // Let queued writes flush (and their WAL sync finish) before closing.
    await this.writer.close();
    this.db.close();
  }
}
