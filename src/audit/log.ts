/**
 * The audit log: typed, append-only, hash-chained records on the store, each also emitted as a
 * pino line. Checkpoints (head seq + hash signed with the audit key) make truncation detectable.
 */
import type { Logger } from 'pino';
import type { Signer } from '../keys/types.js';
import { canonicalJson } from '../store/audit-hash.js';
import type { AuditCheckpoint, AuditInput, AuditRecord, AuditRepository } from '../store/types.js';

export interface CheckpointPolicy {
  signer: Signer;
  /** Write a checkpoint after this many records appended by this process. */
  every: number;
  /** ...or after this long, if anything was appended. */
  intervalMs: number;
}

/** The exact bytes a checkpoint signature covers. */
export function checkpointStatement(cp: Omit<AuditCheckpoint, 'signature'>): Buffer {
  return Buffer.from(canonicalJson({ headSeq: cp.headSeq, headHash: cp.headHash, time: cp.time, keyUri: cp.keyUri }));
}

export class AuditLog {
  private sinceCheckpoint = 0;
  private timer?: NodeJS.Timeout;
  private checkpointing?: Promise<void>;

  constructor(
    private readonly repo: AuditRepository,
    private readonly logger: Logger,
    private readonly policy?: CheckpointPolicy,
  ) {
    if (policy) {
      this.timer = setInterval(() => {
        if (this.sinceCheckpoint > 0) void this.checkpoint().catch((e) => this.logger.error({ err: e }, 'audit checkpoint failed'));
      }, policy.intervalMs);
      this.timer.unref();
    }
  }

  /** Emits the pino line for events that a repository write commits atomically with its change. */
  emitted(events: AuditInput[]): AuditInput[] {
    for (const e of events) this.logger.info({ audit: e }, `audit ${e.action} ${e.result}`);
    this.noteAppended(events.length);
    return events;
  }

  /** Appends events on their own (not tied to another write). */
  async record(...events: AuditInput[]): Promise<AuditRecord[]> {
    return this.append(events, true);
  }

  /** Appends an issuance intent: ordered before the signature, synced with the result's commit. */
  async intent(event: AuditInput): Promise<AuditRecord[]> {
    return this.append([event], false);
  }

  private async append(events: AuditInput[], durable: boolean): Promise<AuditRecord[]> {
    const recs = await this.repo.append(events, { durable });
    for (const r of recs) this.logger.info({ audit: r }, `audit ${r.action} ${r.result}`);
    this.noteAppended(recs.length);
    return recs;
  }

  private noteAppended(n: number): void {
    if (!this.policy) return;
    this.sinceCheckpoint += n;
    if (this.sinceCheckpoint >= this.policy.every && !this.checkpointing) {
      void this.checkpoint().catch((e) => this.logger.error({ err: e }, 'audit checkpoint failed'));
    }
  }

  /** Signs the current chain head and stores the checkpoint. */
  async checkpoint(): Promise<AuditCheckpoint | undefined> {
    if (!this.policy) return undefined;
    if (this.checkpointing) await this.checkpointing;
    let result: AuditCheckpoint | undefined;
    this.checkpointing = (async () => {
      const head = await this.repo.head();
      if (!head) return;
      this.sinceCheckpoint = 0;
      const base = { headSeq: head.seq, headHash: head.hash, time: new Date().toISOString(), keyUri: this.policy!.signer.keyUri };
      const sig = await this.policy!.signer.sign(checkpointStatement(base));
      result = { ...base, signature: sig.toString('base64') };
      await this.repo.addCheckpoint(result);
    })();
    try {
      await this.checkpointing;
    } finally {
      this.checkpointing = undefined;
    }
    return result;
  }

  /** Stops the timer and writes a final checkpoint (shutdown). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.policy && this.sinceCheckpoint > 0) await this.checkpoint();
  }
}
