/**
 * Throttles password guessing per client address (EST HTTP Basic, SCEP challenge passwords): after
 * `max` failures within a fixed window of `windowMs` from the first one, the address is refused
 * unchecked until the window ends (which also spares the scrypt work). In memory, per node: N nodes
 * allow N× the guesses (README "Several nodes"). At most `maxAddresses` are remembered.
 */
export class FailureThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly clock: () => Date,
    readonly max: number,
    readonly windowMs = 60_000,
    private readonly maxAddresses = 10_000,
  ) {}

  /** Seconds until `address` may try again; undefined when it may try now. */
  retryAfter(address: string): number | undefined {
    const f = this.failures.get(address);
    const now = this.clock().getTime();
    if (!f || now - f.since >= this.windowMs || f.count < this.max) return undefined;
    return Math.ceil((f.since + this.windowMs - now) / 1000);
  }

  fail(address: string): void {
    const now = this.clock().getTime();
    const f = this.failures.get(address);
    if (!f || now - f.since >= this.windowMs) this.failures.set(address, { count: 1, since: now });
    else f.count++;
    if (this.failures.size > this.maxAddresses) this.failures.delete(this.failures.keys().next().value!);
  }
}
