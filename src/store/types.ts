/**
 * Repository interfaces (ARCHITECTURE.md: store/ is the only place that writes SQL).
 * Every method is async so SQLite (embedded) and PostgreSQL (HA) implement the same contract,
 * and the same contract tests (test/contract/) run against both.
 *
 * Writes that must be atomic with their audit record take `audit` events: the repository
 * commits the row change and the chained audit records in one transaction (no partial state).
 */

import type { ApprovalRequest, ApprovalStatus } from './approvals.js';
import type { RevocationRepository } from './revocation-types.js';
import type { AcmeRepository } from './acme-types.js';
import type { EnrollmentRepository } from './enrollment-types.js';
import type { LeaseRepository, RecentEventRepository, StoreChangeListener } from './ha-types.js';

export type { ApprovalRequest, ApprovalStatus } from './approvals.js';
export type { RevocationRepository } from './revocation-types.js';
export type { AcmeRepository } from './acme-types.js';
export type { EnrollmentRepository } from './enrollment-types.js';
export type { Lease, LeaseRepository, RecentEventRepository, StoreChange, StoreChangeListener } from './ha-types.js';

export type CertificateStatus = 'valid' | 'revoked' | 'hold';

export interface CaRecord {
  /** Registry name: `root`, `issuing`, or a later issuing CA such as `issuing-2026`. */
  id: string;
  /** Parent CA id; null for a self-signed root. */
  parentId: string | null;
  keyUri: string;
  certDer: Buffer;
  subject: string;
  /** Subject key identifier, hex. */
  ski: string;
  notBefore: Date;
  notAfter: Date;
  /** 'active' issues; 'retiring' still answers OCSP/CRLs for what it issued. */
  status: 'active' | 'retiring' | 'offline';
  createdAt: Date;
}

export interface CertificateRecord {
  /** Lower-case hex, no leading 00. */
  serial: string;
  issuerId: string;
  subject: string;
  sans: string[];
  notBefore: Date;
  notAfter: Date;
  profile: string;
  requester: string;
  protocol: string;
  status: CertificateStatus;
  revokedAt: Date | null;
  /** RFC 5280 §5.3.1 CRLReason code. */
  revocationReason: number | null;
  der: Buffer;
  createdAt: Date;
  /** Serial of the certificate this one renews/supersedes, if any. */
  replaces: string | null;
}

export interface CertificateFilter {
  issuerId?: string;
  /** Certificates issued under this profile (e.g. the OCSP responder certificates of a CA). */
  profile?: string;
  status?: CertificateStatus;
  /** notAfter <= this. */
  expiringBefore?: Date;
  /** notAfter > this (excludes already expired). */
  notExpiredAt?: Date;
  limit?: number;
  afterSerial?: string;
}

/** What callers give the audit log; seq, time, prevHash and hash are assigned on append. */
export interface AuditInput {
  actor: string;
  action: string;
  object: string;
  result: 'ok' | 'denied' | 'failed' | 'intent';
  reason?: string;
  /** Extra structured detail (never secrets). */
  data?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditInput, 'data' | 'reason'>> {
  seq: number;
  time: string;
  reason: string | null;
  data: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

export interface AuditCheckpoint {
  headSeq: number;
  headHash: string;
  time: string;
  keyUri: string;
  /** Base64 signature over the canonical checkpoint statement. */
  signature: string;
}

export interface CaRepository {
  upsert(ca: CaRecord, audit?: AuditInput[]): Promise<void>;
  get(id: string): Promise<CaRecord | undefined>;
  list(): Promise<CaRecord[]>;
}

export interface RevocationChange {
  serial: string;
  status: CertificateStatus;
  revokedAt: Date | null;
  reason: number | null;
  /** Only apply when the current status is one of these (optimistic check). */
  fromStatuses: CertificateStatus[];
}

export interface CertificateRepository {
  insert(cert: CertificateRecord, audit?: AuditInput[]): Promise<void>;
  get(serial: string): Promise<CertificateRecord | undefined>;
  list(filter?: CertificateFilter): Promise<CertificateRecord[]>;
  /** Applies a status change; returns false (and writes nothing) when fromStatuses does not match. */
  setStatus(change: RevocationChange, audit?: AuditInput[]): Promise<boolean>;
  /** Counts of not-yet-expired certificates bucketed by days to expiry (for metrics). */
  countByExpiry(now: Date, bucketsDays: number[]): Promise<Record<string, number>>;
}

export interface AuditRepository {
  /**
   * Appends events. `durable: false` is for issuance intents: committed before signing, made
   * crash-safe for the process at once and power-safe by the next durable commit (the result).
   */
  append(events: AuditInput[], opts?: { durable?: boolean }): Promise<AuditRecord[]>;
  /** Records in seq order starting at fromSeq (inclusive). */
  range(fromSeq: number, limit: number): Promise<AuditRecord[]>;
  head(): Promise<{ seq: number; hash: string } | undefined>;
  addCheckpoint(cp: AuditCheckpoint): Promise<void>;
  checkpoints(): Promise<AuditCheckpoint[]>;
}

export interface ApprovalRepository {
  /** Inserts a pending request; returns the existing one when the id is already queued (idempotent). */
  submit(req: Omit<ApprovalRequest, 'status' | 'decidedAt' | 'decidedBy' | 'reason' | 'serial'>, audit?: AuditInput[]): Promise<ApprovalRequest>;
  get(id: string): Promise<ApprovalRequest | undefined>;
  list(status?: ApprovalStatus): Promise<ApprovalRequest[]>;
  /** pending → approved/rejected; false when the request is not pending. */
  decide(id: string, decision: 'approved' | 'rejected', actor: string, reason: string | null, audit?: AuditInput[]): Promise<boolean>;
  /** approved → issued with the serial; false when not approved (someone else issued it first). */
  markIssued(id: string, serial: string): Promise<boolean>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly cas: CaRepository;
  readonly certificates: CertificateRepository;
  readonly audit: AuditRepository;
  readonly approvals: ApprovalRepository;
  readonly revocation: RevocationRepository;
  readonly acme: AcmeRepository;
  readonly enrollment: EnrollmentRepository;
  readonly leases: LeaseRepository;
  readonly recentEvents: RecentEventRepository;
  /**
   * Calls `listener` for every committed change (see StoreChange for which nodes see which);
   * returns the unsubscribe function.
   */
  subscribe(listener: StoreChangeListener): () => void;
  /** Cheap round trip to the database (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
