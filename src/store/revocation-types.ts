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
  /**
   * One page of the revoked and held certificates of a CA whose notAfter is after `notAfterAfter`,
   * ordered by serial, starting after `afterSerial` (keyset pagination: a CRL of a million entries
   * is read in bounded memory).
   */
  revokedPage(caId: string, notAfterAfter: Date, afterSerial: string | null, limit: number): Promise<RevokedEntry[]>;
  /**
   * A digest of the CA's revoked/held set, expiry ignored, that changes with every revocation,
   * hold, release or reason change: tells a node whether its CRL is current without listing it.
   */
  revokedDigest(caId: string): Promise<string>;
  /** Atomically increments and returns the CA's next cRLNumber (1, 2, 3, ...). */
  nextCrlNumber(caId: string): Promise<bigint>;
  /** Stores the latest CRL of its (caId, kind), replacing an older one (never a newer one). */
  saveCrl(crl: StoredCrl): Promise<void>;
  /** The latest CRL of (caId, kind); with `newerThan`, only if its number is greater (the DER is not read otherwise). */
  latestCrl(caId: string, kind: CrlKind, newerThan?: bigint): Promise<StoredCrl | undefined>;
}
