/** Revocation data repositories (CRL numbers and the latest signed CRLs). Owned by the revocation work. */

/** full, delta (§5.2.4), or partition k of a partitioned CRL (§5.2.5) as `p<k>`. */
export type CrlKind = 'full' | 'delta' | `p${number}`;

export interface StoredCrl {
  caId: string;
  kind: CrlKind;
  /** cRLNumber (RFC 5280 §5.2.3), monotonic per CA across full and delta CRLs. */
  number: bigint;
  /** For deltas: the base CRL number (deltaCRLIndicator). */
  baseNumber: bigint | null;
  thisUpdate: Date;
  nextUpdate: Date;
  der: Buffer;
  /** Hash of the revoked/hold set it was built from (lets other nodes tell whether it is current). */
  sourceHash: string | null;
}

/** What a CRL entry needs of a revoked or held certificate (no DER: cheap to list every second). */
export interface RevokedEntry {
  serial: string;
  status: 'revoked' | 'hold';
  revokedAt: Date;
  reason: number | null;
}

export interface RevocationRepository {
  /** Revoked and held certificates of a CA that are not expired at `now`, ordered by serial. */
  listRevoked(caId: string, now: Date): Promise<RevokedEntry[]>;
  /** Atomically increments and returns the CA's next cRLNumber (1, 2, 3, ...). */
  nextCrlNumber(caId: string): Promise<bigint>;
  /** Stores the latest CRL of its (caId, kind), replacing an older one (never a newer one). */
  saveCrl(crl: StoredCrl): Promise<void>;
  latestCrl(caId: string, kind: CrlKind): Promise<StoredCrl | undefined>;
}
