/**
 * Row → record mapping shared by the SQLite and PostgreSQL stores: both keep timestamps as
 * integer milliseconds (PostgreSQL BIGINT is parsed to a number, postgres/db.ts), binary as
 * Buffers, JSON as text and CRL numbers as decimal text, so one mapping serves both.
 */
import type { ApprovalRequest } from './approvals.js';
import type { CrlKind, StoredCrl } from './revocation-types.js';
import type { AuditRecord, CaRecord, CertificateRecord } from './types.js';

export type Row = Record<string, unknown>;

/** Integer-ms timestamp columns (SQLite INTEGER, PostgreSQL BIGINT) as Dates. */
export const date = (v: unknown): Date => new Date(Number(v));
export const dateOrNull = (v: unknown): Date | null => (v == null ? null : date(v));
const json = <T>(v: unknown): T | null => (v ? (JSON.parse(v as string) as T) : null);

export function toAuditRecord(r: Row): AuditRecord {
  return {
    seq: Number(r.seq),
    time: r.time as string,
    actor: r.actor as string,
    action: r.action as string,
    object: r.object as string,
    result: r.result as AuditRecord['result'],
    reason: (r.reason as string | null) ?? null,
    data: json<Record<string, unknown>>(r.data),
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}

export function toCa(r: Row): CaRecord {
  return {
    id: r.id as string,
    parentId: (r.parent_id as string | null) ?? null,
    keyUri: r.key_uri as string,
    certDer: r.cert_der as Buffer,
    subject: r.subject as string,
    ski: r.ski as string,
    notBefore: date(r.not_before),
    notAfter: date(r.not_after),
    status: r.status as CaRecord['status'],
    createdAt: date(r.created_at),
  };
}

export function toCert(r: Row): CertificateRecord {
  return {
    serial: r.serial as string,
    issuerId: r.issuer_id as string,
    subject: r.subject as string,
    sans: JSON.parse(r.sans as string) as string[],
    notBefore: date(r.not_before),
    notAfter: date(r.not_after),
    profile: r.profile as string,
    requester: r.requester as string,
    protocol: r.protocol as string,
    status: r.status as CertificateRecord['status'],
    revokedAt: dateOrNull(r.revoked_at),
    revocationReason: (r.revocation_reason as number | null) ?? null,
    der: r.der as Buffer,
    createdAt: date(r.created_at),
    replaces: (r.replaces as string | null) ?? null,
  };
}

export function toApproval(r: Row): ApprovalRequest {
  return {
    id: r.id as string,
    protocol: r.protocol as ApprovalRequest['protocol'],
    label: r.label as string,
    profile: r.profile as string,
    requester: r.requester as string,
    subject: r.subject as string,
    sans: JSON.parse(r.sans as string) as string[],
    csrDer: r.csr_der as Buffer,
    status: r.status as ApprovalRequest['status'],
    createdAt: date(r.created_at),
    decidedAt: dateOrNull(r.decided_at),
    decidedBy: (r.decided_by as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    serial: (r.serial as string | null) ?? null,
    extra: json<Record<string, unknown>>(r.extra),
  };
}

/** A `crls` row whose number columns are decimal text. */
export function toStoredCrl(caId: string, kind: CrlKind, r: Row): StoredCrl {
  return {
    caId,
    kind,
    number: BigInt(r.number as string),
    baseNumber: r.base_number == null ? null : BigInt(r.base_number as string),
    thisUpdate: date(r.this_update),
    nextUpdate: date(r.next_update),
    der: r.der as Buffer,
    sourceHash: (r.source_hash as string | null) ?? null,
  };
}
