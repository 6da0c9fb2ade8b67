/**
 * Recomputes the audit chain: every record's hash, its link to the previous record, gap-free
 * sequence numbers, and every checkpoint's signature and position. Editing, deleting, reordering
 * and cutting records off the end (before the last checkpoint) are all detected.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { GENESIS_HASH, hashAuditRecord } from '../store/audit-hash.js';
import type { AuditRecord, AuditRepository } from '../store/types.js';
import { checkpointStatement } from './log.js';
import { hashOf, keyFamily, type KeyType } from '../pki/algorithms.js';

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** The first broken record, or the broken checkpoint. */
  firstBroken?: { seq: number; reason: string };
  checkpoints: number;
  lastCheckpointSeq?: number;
  /** Records after the last checkpoint: intact as far as the chain shows, but not yet anchored. */
  unanchored: number;
}

function verifySignature(pub: KeyObject, keyType: KeyType, data: Buffer, sig: Buffer): boolean {
  const fam = keyFamily(keyType);
  const hash = fam === 'ed25519' ? null : hashOf(keyType === 'P-384' ? 'ecdsa-sha384' : 'ecdsa-sha256');
  return cryptoVerify(fam === 'ed25519' ? null : hash, data, pub, sig);
}

export function keyTypeOfPublicKey(pub: KeyObject): KeyType {
  const d = pub.asymmetricKeyDetails ?? {};
  if (pub.asymmetricKeyType === 'rsa') return `RSA-${d.modulusLength ?? 2048}` as KeyType;
  if (pub.asymmetricKeyType === 'ed25519') return 'Ed25519';
  return d.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
}

export async function verifyAuditChain(repo: AuditRepository, auditPublicKeyPem?: string, pageSize = 5000): Promise<VerifyResult> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  const hashes = new Map<number, string>();
  const checkpoints = await repo.checkpoints();
  const wanted = new Set(checkpoints.map((c) => c.headSeq));
  let count = 0;
  const fail = (seq: number, reason: string): VerifyResult => ({ ok: false, records: count, firstBroken: { seq, reason }, checkpoints: checkpoints.length, unanchored: 0 });

  for (;;) {
    const page: AuditRecord[] = await repo.range(expectedSeq, pageSize);
    if (page.length === 0) break;
    for (const r of page) {
      if (r.seq !== expectedSeq) return fail(expectedSeq, `record ${expectedSeq} is missing (next record is ${r.seq})`);
      if (r.prevHash !== prevHash) return fail(r.seq, `record ${r.seq} does not link to record ${r.seq - 1} (prevHash mismatch: records deleted, reordered or edited)`);
      const { hash, ...rest } = r;
      if (hashAuditRecord(rest) !== hash) return fail(r.seq, `record ${r.seq} was modified (hash mismatch)`);
      if (wanted.has(r.seq)) hashes.set(r.seq, r.hash);
      prevHash = r.hash;
      expectedSeq += 1;
      count += 1;
    }
  }
  const lastSeq = expectedSeq - 1;
  const pub = auditPublicKeyPem ? createPublicKey(auditPublicKeyPem) : undefined;
  const keyType = pub ? keyTypeOfPublicKey(pub) : undefined;
  for (const cp of checkpoints) {
    if (cp.headSeq > lastSeq) return fail(lastSeq + 1, `records ${lastSeq + 1}..${cp.headSeq} were cut off the end (checkpoint at ${cp.time} anchors record ${cp.headSeq})`);
    if (hashes.get(cp.headSeq) !== cp.headHash) return fail(cp.headSeq, `record ${cp.headSeq} does not match its checkpoint of ${cp.time}`);
    if (pub && keyType) {
      const { signature, ...base } = cp;
      if (!verifySignature(pub, keyType, checkpointStatement(base), Buffer.from(signature, 'base64')))
        return fail(cp.headSeq, `checkpoint for record ${cp.headSeq} has an invalid signature`);
    }
  }
  const lastCp = checkpoints.at(-1)?.headSeq;
  return { ok: true, records: count, checkpoints: checkpoints.length, lastCheckpointSeq: lastCp, unanchored: lastSeq - (lastCp ?? 0) };
}

/** Writes records as JSON lines (optionally only those at or after `since`). */
export async function* exportAudit(repo: AuditRepository, since?: Date, pageSize = 5000): AsyncGenerator<string> {
  let from = 1;
  for (;;) {
    const page = await repo.range(from, pageSize);
    if (page.length === 0) return;
    for (const r of page) if (!since || new Date(r.time) >= since) yield JSON.stringify(r) + '\n';
    from = page.at(-1)!.seq + 1;
  }
}
