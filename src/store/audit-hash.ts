/**
 * The audit chain's hash: SHA-256 over the canonical JSON of the record including prevHash.
 * It lives in store/ because appending (read head → hash → insert) must happen inside the
 * store's transaction, on SQLite and PostgreSQL alike; audit/ imports it to verify.
 */
import { createHash } from 'node:crypto';
import type { AuditRecord } from './types.js';

export const GENESIS_HASH = '0'.repeat(64);

/** Canonical JSON: object keys sorted recursively, no whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(obj[k])).join(',') + '}';
}

export function hashAuditRecord(r: Omit<AuditRecord, 'hash'>): string {
  const canonical = canonicalJson({
    seq: r.seq,
    time: r.time,
    actor: r.actor,
    action: r.action,
    object: r.object,
    result: r.result,
    reason: r.reason,
    data: r.data,
    prevHash: r.prevHash,
  });
  return createHash('sha256').update(canonical).digest('hex');
}
