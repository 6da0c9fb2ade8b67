/**
 * Readiness (issue 7 §5): whether this node's store and key store answer. For requests it is
 * checked at most once per `intervalMs` and cached, so the per-request gate costs a comparison
 * (/readyz probes afresh and updates the cache); the probe bounds each part with within() (an
 * unreachable database must not hang the check). While not ready,
 * protocol requests get 503 + Retry-After (apps.ts); the node recovers by itself on the first
 * successful check, with no restart.
 */
export interface ReadinessResult {
  ok: boolean;
  detail: Record<string, boolean>;
}

export type ReadinessProbe = () => Promise<ReadinessResult>;

/** `p` resolved true within `ms`; false when it rejects, resolves false, or takes longer. */
export function within(p: Promise<boolean>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    t.unref();
    p.then(
      (v) => (clearTimeout(t), resolve(v === true)),
      () => (clearTimeout(t), resolve(false)),
    );
  });
}

export class Readiness {
  private last: ReadinessResult = { ok: true, detail: {} };
  private checkedAt = Number.NEGATIVE_INFINITY;
  private running?: Promise<ReadinessResult>;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly onChange?: (r: ReadinessResult) => void;

  constructor(private readonly probe: ReadinessProbe, o: { intervalMs?: number; now?: () => number; onChange?: (r: ReadinessResult) => void } = {}) {
    this.intervalMs = o.intervalMs ?? 1000;
    this.now = o.now ?? (() => performance.now());
    this.onChange = o.onChange;
  }

  /** The last known state, synchronously (per request); starts a re-check in the background when stale. */
  ready(): boolean {
    if (this.now() - this.checkedAt >= this.intervalMs) void this.check();
    return this.last.ok;
  }

  /**
   * A result at most intervalMs old (waits for a probe when stale); `fresh` always probes (/readyz:
   * what a load balancer sees is current). Concurrent callers share one running probe.
   */
  check(o: { fresh?: boolean } = {}): Promise<ReadinessResult> {
    if (!o.fresh && this.now() - this.checkedAt < this.intervalMs) return Promise.resolve(this.last);
    this.running ??= this.probe()
      .catch((): ReadinessResult => ({ ok: false, detail: {} }))
      .then((r) => {
        const changed = r.ok !== this.last.ok;
        this.last = r;
        this.checkedAt = this.now();
        this.running = undefined;
        if (changed) this.onChange?.(r);
        return r;
      });
    return this.running;
  }
}
