/**
 * The shared manual-approval queue (EST and SCEP): a request that a label marks as needing an
 * operator is stored here; `flintca requests approve|reject` decides; the device's retry/poll
 * then gets the certificate (issued once, idempotently) or a rejection.
 */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'issued';

export interface ApprovalRequest {
  /** Stable id: EST uses a hash of the CSR, SCEP its transactionID. */
  id: string;
  protocol: 'est' | 'scep';
  /** EST label / SCEP label. */
  label: string;
  profile: string;
  requester: string;
  subject: string;
  sans: string[];
  csrDer: Buffer;
  status: ApprovalStatus;
  createdAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  reason: string | null;
  /** Serial of the certificate once issued. */
  serial: string | null;
  /** Protocol-specific extra state (e.g. SCEP recipient nonce, requester cert), JSON. */
  extra: Record<string, unknown> | null;
}
