/**
 * Throttles password guessing per client address (EST HTTP Basic and client certificates, SCEP
 * challenge passwords): an address with `max` failures within the last `windowMs` is refused
 * unchecked (which also spares the scrypt work) until the earliest of them is `windowMs` old.
 * The failures are recorded in the store (issue 7 §2), so every node sees the guesses made at any
 * node.
 */
import type { RecentEventRepository } from '../store/ha-types.js';

export class FailureThrottle {
  constructor(
    private readonly events: RecentEventRepository,
    /** Key prefix: each protocol counts its own guesses. */
    private readonly scope: string,
    private readonly clock: () => Date,
    readonly max: number,
    readonly windowMs = 60_000,
  ) {}

  /** Seconds until `address` may try again; undefined when it may try now. */
  async retryAfter(address: string): Promise<number | undefined> {
    const now = this.clock().getTime();
    const { count, first } = await this.events.since(this.key(address), new Date(now - this.windowMs));
    if (count < this.max || !first) return undefined;
    return Math.max(1, Math.ceil((first.getTime() + this.windowMs - now) / 1000));
  }

  /** Records a failure; never throws (one lost while the store is down changes no answer). */
  async fail(address: string): Promise<void> {
    await this.events.record(this.key(address), this.clock(), this.windowMs).catch(() => undefined);
  }

  private key(address: string): string {
    return `${this.scope}:${address}`;
  }
}
