/**
 * Row → record mapping of the SCEP and admin-token tables, shared by the SQLite and PostgreSQL
 * stores (integer-ms timestamps, JSON as text; see rows.ts).
 */
import type { AdminToken, ScepChallenge, ScepTransaction } from './enrollment-types.js';
import { date, dateOrNull, type Row } from './rows.js';

export function toTx(r: Row): ScepTransaction {
  return {
    label: r.label as string,
    transactionId: r.transaction_id as string,
    signerKey: r.signer_key as string,
    csrHash: r.csr_hash as string,
    messageType: r.message_type as number,
    status: r.status as ScepTransaction['status'],
    serial: (r.serial as string | null) ?? null,
    failInfo: (r.fail_info as number | null) ?? null,
    approvalId: (r.approval_id as string | null) ?? null,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  };
}

export function toChallenge(r: Row): ScepChallenge {
  return {
    hash: r.hash as string,
    label: r.label as string,
    subject: (r.subject as string | null) ?? null,
    sans: r.sans ? (JSON.parse(r.sans as string) as string[]) : null,
    createdBy: r.created_by as string,
    createdAt: date(r.created_at),
    expiresAt: date(r.expires_at),
    usedAt: dateOrNull(r.used_at),
    usedBy: (r.used_by as string | null) ?? null,
  };
}

export function toToken(r: Row): AdminToken {
  return {
    id: r.id as string,
    hash: r.hash as string,
    scopes: JSON.parse(r.scopes as string) as string[],
    description: (r.description as string | null) ?? null,
    createdBy: r.created_by as string,
    createdAt: date(r.created_at),
    revokedAt: dateOrNull(r.revoked_at),
    lastUsedAt: dateOrNull(r.last_used_at),
  };
}
