/**
 * Which node generates a CA's CRLs when several nodes share one store (issue 7: work that must
 * happen once): the holder of lease `crl:<caId>`. Every other node serves the latest CRL from the
 * store, learning about new ones from the store's change feed (`crl` changes) and, as a fallback
 * for SQLite multi-process and missed notifications, from CrlService's store poll.
 *
 * A node asked for a CRL that does not exist yet (fresh install) first tries to take the lease
 * itself — so a CRL is generated at once when no node holds it — and otherwise waits briefly for
 * the holder's CRL, then answers 503 (CrlService.get). The CRL number stays monotonic across
 * nodes and leader changes because it comes from the store (nextCrlNumber).
 */
import type { Store } from '../../store/types.js';

/** What CrlService asks about leadership. */
export interface CrlLeadership {
  /** True while this node may generate and save CRLs for `caId`. */
  leads(caId: string): boolean;
  /** Tries to take the lease now (no CRL exists yet); true when this node leads afterwards. */
  claim(caId: string): Promise<boolean>;
}

/** The slice of LeaseKeeper used here. */
export interface LeaseHolder {
  hold(name: string, o: { ttlMs: number; onAcquire?: () => void }): Promise<boolean>;
  holds(name: string): boolean;
  tryNow(name: string): Promise<boolean>;
}

export const crlLeaseName = (caId: string): string => `crl:${caId}`;

/**
 * Starts holding `crl:<caId>` for every CA that can sign CRLs here; resolves after the first
 * attempt of each, so CrlService.start() already knows whether this node leads.
 */
export async function crlLeadership(keeper: LeaseHolder, caIds: string[], ttlMs: number, onAcquire?: (caId: string) => void): Promise<CrlLeadership> {
  await Promise.all(caIds.map((id) => keeper.hold(crlLeaseName(id), { ttlMs, onAcquire: onAcquire && (() => onAcquire(id)) })));
  return {
    leads: (caId) => keeper.holds(crlLeaseName(caId)),
    claim: (caId) => keeper.tryNow(crlLeaseName(caId)),
  };
}

/**
 * Feeds committed changes from any node into the CRL service: a stored CRL is picked up at once
 * (followers), a status change schedules a regeneration (the leader; schedule() is a no-op elsewhere).
 */
export function followStoreChanges(store: Pick<Store, 'subscribe'>, crl: { reload(caId: string): Promise<void>; schedule(caId: string): void }, known: (caId: string) => boolean): () => void {
  return store.subscribe((c) => {
    if (c.kind === 'crl' && known(c.caId)) void crl.reload(c.caId).catch(() => undefined); // the poll retries
    else if (c.kind === 'certificateStatus' && known(c.issuerId)) crl.schedule(c.issuerId);
  });
}
