/**
 * EST/SCEP repositories (owned by the SCEP work): SCEP transactions (transactionID → outcome, for
 * idempotent replay and CertPoll), one-time dynamic challenge passwords, and admin bearer tokens
 * (scoped, revocable; the first admin API mints SCEP challenges, later ones reuse the tokens).
 * Secrets are never stored: challenges and tokens are kept as SHA-256 hashes of high-entropy
 * random values (a slow KDF would add nothing for 128+ bit secrets and would prevent lookup).
 */
import type { AuditInput } from './types.js';

export type ScepTransactionStatus = 'processing' | 'pending' | 'success' | 'failure';

export interface ScepTransaction {
  label: string;
  /** The client's transactionID (RFC 8894 §3.2.1.1), unique per label. */
  transactionId: string;
  /** SHA-256 (hex) of the requester's signer public key: only the same key may replay or poll. */
  signerKey: string;
  /** SHA-256 (hex) of the CSR DER: a replay with another CSR is refused. */
  csrHash: string;
  messageType: number;
  status: ScepTransactionStatus;
  /** Issued certificate serial (success). */
  serial: string | null;
  /** RFC 8894 §3.2.1.4 failInfo (failure). */
  failInfo: number | null;
  /** Approval queue id (pending labels). */
  approvalId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ScepChallenge {
  /** SHA-256 (hex) of the challenge password. */
  hash: string;
  label: string;
  /** Bound subject (e.g. `CN=device-1`) and SANs (`dns:x`), when given at creation. */
  subject: string | null;
  sans: string[] | null;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  /** Transaction (label:transactionID) that consumed it. */
  usedBy: string | null;
}

export interface AdminToken {
  /** Public token id (printed by `flintca token list`); the secret part is only hashed. */
  id: string;
  /** SHA-256 (hex) of the secret part. */
  hash: string;
  /** e.g. `scep-challenge:iot`, `scep-challenge:*`. */
  scopes: string[];
  description: string | null;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface EnrollmentRepository {
  /**
   * Claims a transaction: inserts it unless (label, transactionId) exists. Returns the stored row
   * and whether this call created it (only the creator processes the request; others replay).
   * May be committed without its own fsync (made durable by the next synchronous commit).
   */
  claimScepTransaction(tx: Omit<ScepTransaction, 'updatedAt'>): Promise<{ tx: ScepTransaction; created: boolean }>;
  getScepTransaction(label: string, transactionId: string): Promise<ScepTransaction | undefined>;
  /**
   * Moves a transaction to its outcome; only from `from` statuses (conditional UPDATE). Returns
   * false and writes nothing when the row is not in one of them.
   */
  updateScepTransaction(
    label: string,
    transactionId: string,
    change: { status: ScepTransactionStatus; serial?: string | null; failInfo?: number | null; approvalId?: string | null; messageType?: number; csrHash?: string },
    from: ScepTransactionStatus[],
    audit?: AuditInput[],
    /** durable: false commits without its own fsync (synced by the next durable commit). */
    opts?: { durable?: boolean },
  ): Promise<boolean>;
  /** Removes a transaction (e.g. one whose processing failed before any outcome). */
  deleteScepTransaction(label: string, transactionId: string, from: ScepTransactionStatus[]): Promise<boolean>;

  createScepChallenge(ch: Omit<ScepChallenge, 'usedAt' | 'usedBy'>, audit?: AuditInput[]): Promise<void>;
  getScepChallenge(hash: string): Promise<ScepChallenge | undefined>;
  /**
   * Single use: marks the challenge used if it belongs to `label`, is unused and unexpired at
   * `now` (one conditional UPDATE); false when another request consumed it first or it expired.
   */
  consumeScepChallenge(hash: string, label: string, now: Date, usedBy: string, audit?: AuditInput[]): Promise<boolean>;

  createAdminToken(t: Omit<AdminToken, 'revokedAt' | 'lastUsedAt'>, audit?: AuditInput[]): Promise<void>;
  getAdminToken(id: string): Promise<AdminToken | undefined>;
  listAdminTokens(): Promise<AdminToken[]>;
  /** Revokes an active token; false when unknown or already revoked. */
  revokeAdminToken(id: string, at: Date, audit?: AuditInput[]): Promise<boolean>;
  /** Records a use (best effort, not audited itself). */
  touchAdminToken(id: string, at: Date): Promise<void>;
}
