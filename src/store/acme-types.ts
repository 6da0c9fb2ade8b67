/** ACME repositories (accounts, orders, authorizations, challenges, nonces). Owned by the ACME work. RFC 8555 §7.1. */
import type { AuditInput } from './types.js';

export type AcmeAccountStatus = 'valid' | 'deactivated' | 'revoked';
export type AcmeOrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export type AcmeAuthzStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type AcmeChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';

export interface AcmeIdentifier {
  type: 'dns' | 'ip';
  value: string;
}

/** An RFC 7807 problem as stored on an order or challenge. */
export interface AcmeStoredProblem {
  type: string;
  detail: string;
  status?: number;
}

export interface AcmeAccountRecord {
  id: string;
  thumbprint: string;
  jwk: Record<string, unknown>;
  contact: string[];
  status: AcmeAccountStatus;
  createdAt: Date;
  /** Provisioner the account was created under (it only works there); `acme` when absent. */
  provisioner?: string;
}

export interface AcmeOrderRecord {
  id: string;
  accountId: string;
  status: AcmeOrderStatus;
  identifiers: AcmeIdentifier[];
  notBefore: Date | null;
  notAfter: Date | null;
  expires: Date;
  certSerial: string | null;
  error: AcmeStoredProblem | null;
  profile: string;
  replaces: string | null;
  createdAt: Date;
  /** The finalize CSR (DER), kept while the order is processing so any node can finish it. */
  csr?: Buffer | null;
}

export interface AcmeChallengeRecord {
  id: string;
  authzId: string;
  type: 'http-01' | 'dns-01' | 'tls-alpn-01';
  token: string;
  status: AcmeChallengeStatus;
  validated: Date | null;
  error: AcmeStoredProblem | null;
}

export interface AcmeAuthzRecord {
  id: string;
  orderId: string;
  accountId: string;
  identifier: AcmeIdentifier;
  status: AcmeAuthzStatus;
  expires: Date;
  wildcard: boolean;
  challenges: AcmeChallengeRecord[];
}

/** An External Account Binding key (RFC 8555 §7.3.4), created by `flintca acme eab create`. */
export interface AcmeEabKeyRecord {
  kid: string;
  provisioner: string;
  /** The raw HMAC key (the CA must hold it to verify the binding's MAC). */
  hmacKey: Buffer;
  createdAt: Date;
  /** Account the key was bound to (one-time use); null while unused. */
  accountId: string | null;
  usedAt: Date | null;
}

export interface AcmeOrderPatch {
  status?: AcmeOrderStatus;
  certSerial?: string | null;
  error?: AcmeStoredProblem | null;
  /** Finalize CSR (DER) for a processing order; null clears it. */
  csr?: Buffer | null;
  /** Lease of the node finishing a processing order (see claimOrder); null clears it. */
  claimedUntil?: Date | null;
}

/**
 * A rate-limit counter checked and upserted in the same transaction as the action it limits
 * (fixed windows of `windowMs` aligned to the epoch; works across HA nodes: no node-local state).
 * Past the limit the write throws FlintError 'rateLimited' (retryAfter = seconds to the window's
 * end) and nothing of the action is written.
 */
export interface AcmeRateLimit {
  /** Counter key, e.g. `newOrders:acct:ID`. */
  key: string;
  /** Name used in the error detail, e.g. `newOrdersPerAccount`. */
  name: string;
  limit: number;
  windowMs: number;
  /** take (default): count this action, refuse past the limit; check: refuse when the count already reached the limit, count nothing; count: count, never refuse. */
  mode?: 'take' | 'check' | 'count';
}

export interface AcmeWriteOptions {
  /** The time rate-limit windows are taken from. */
  now?: Date;
  limits?: AcmeRateLimit[];
  /**
   * false: the write may commit without its own flush to disk (safe against a process crash; a
   * later durable commit makes it durable). For intermediate states a durable write always follows.
   */
  durable?: boolean;
}

export interface AcmeRepository {
  /**
   * Stateless (HMAC) nonces: records the nonce as used until `expires`; true only the first time
   * (single use across nodes). Expired entries are pruned.
   */
  useNonce(nonce: string, expires: Date): Promise<boolean>;
  /** A random secret shared by every node (created on first use, e.g. the nonce HMAC key). */
  sharedSecret(name: string): Promise<Buffer>;

  /**
   * With `eabKid`, the EAB key is claimed in the same transaction (unused and of `provisioner`,
   * else a FlintError 'unauthorized' is thrown and nothing is written).
   */
  createAccount(acct: AcmeAccountRecord, audit?: AuditInput[], eab?: { kid: string; provisioner: string }, opts?: AcmeWriteOptions): Promise<void>;

  createEabKey(key: AcmeEabKeyRecord, audit?: AuditInput[]): Promise<void>;
  getEabKey(kid: string): Promise<AcmeEabKeyRecord | undefined>;
  getAccount(id: string): Promise<AcmeAccountRecord | undefined>;
  getAccountByThumbprint(thumbprint: string): Promise<AcmeAccountRecord | undefined>;
  /** Key rollover sets jwk + thumbprint together (a thumbprint in use elsewhere throws: unique). */
  updateAccount(id: string, patch: { contact?: string[]; status?: AcmeAccountStatus; jwk?: Record<string, unknown>; thumbprint?: string }, audit?: AuditInput[]): Promise<void>;

  /**
   * Inserts an order with its new authorizations and their challenges in one transaction, and links
   * it to `opts.reuse` (existing authorizations of the same account, §7.1.4 reuse): each must still
   * be pending or valid and unexpired at `opts.now`, else FlintError 'conflict' and nothing is
   * written. Returns the order's stored status: `ready` when every linked authorization is valid.
   */
  createOrder(order: AcmeOrderRecord, authzs: AcmeAuthzRecord[], audit?: AuditInput[], opts?: AcmeWriteOptions & { reuse?: string[] }): Promise<{ status: AcmeOrderStatus }>;
  /**
   * An authorization of this account for this identifier (wildcard flag equal) that a new order
   * may reuse: valid and expiring after `minExpires`, else (with `includePending`) pending and
   * expiring after `minExpires`; the latest-expiring one.
   */
  findReusableAuthz(accountId: string, identifier: AcmeIdentifier, wildcard: boolean, opts: { minExpires: Date; includePending: boolean }): Promise<AcmeAuthzRecord | undefined>;
  getOrder(id: string): Promise<AcmeOrderRecord | undefined>;
  listOrderIds(accountId: string): Promise<string[]>;
  getOrderByCertSerial(serial: string): Promise<AcmeOrderRecord | undefined>;
  /** A finalized (valid) order whose `replaces` is this serial (RFC 9773 §5). */
  getValidOrderReplacing(serial: string): Promise<AcmeOrderRecord | undefined>;
  /** Applies the patch only when the order's current status is one of `from`; returns whether it did. */
  updateOrder(id: string, from: AcmeOrderStatus[], patch: AcmeOrderPatch, audit?: AuditInput[], opts?: AcmeWriteOptions): Promise<boolean>;
  /**
   * Takes the lease on a processing order whose lease is free or lapsed (until `until`) and counts
   * the attempt; returns the attempt number, or undefined when it is not processing or leased.
   */
  claimOrder(id: string, now: Date, until: Date): Promise<number | undefined>;
  /** Processing orders whose lease lapsed before `now` (a node died finalizing them). */
  listStaleOrders(now: Date, limit: number): Promise<string[]>;
  /** Serial of a certificate stored with this requester (exactly-once finalization after a crash). */
  findSerialByRequester(requester: string): Promise<string | undefined>;

  getAuthz(id: string): Promise<AcmeAuthzRecord | undefined>;
  /** The order's authorizations (its own and reused ones, via the order↔authz links). */
  listAuthzs(orderId: string): Promise<AcmeAuthzRecord[]>;
  deactivateAuthz(id: string, audit?: AuditInput[]): Promise<boolean>;
  getChallenge(id: string): Promise<AcmeChallengeRecord | undefined>;
  /** Challenges left in processing (e.g. by a restart), to validate again. */
  listProcessingChallenges(limit: number): Promise<string[]>;
  /**
   * pending → processing (started at `now`, no lease yet); false when the challenge was not pending.
   * Not flushed on its own: the result (completeChallenge) is; a power loss before it leaves the
   * challenge pending, which the client may simply retry.
   */
  startChallenge(id: string, now?: Date): Promise<boolean>;
  /** Takes the validation lease of a processing challenge (free or lapsed); the attempt number, or undefined. */
  claimChallenge(id: string, now: Date, until: Date): Promise<number | undefined>;
  /** Processing challenges whose lease lapsed, or never leased and started before `unleasedBefore`. */
  listStaleChallenges(now: Date, unleasedBefore: Date, limit: number): Promise<string[]>;
  /**
   * Records a validation result atomically (§7.1.6) if the challenge is still processing (returns
   * whether it was): the challenge becomes valid/invalid, its authorization follows, and every
   * order linked to that authorization becomes ready (all its authorizations valid) or invalid.
   */
  completeChallenge(id: string, result: { ok: true; validated: Date } | { ok: false; error: AcmeStoredProblem }, audit?: AuditInput[], opts?: AcmeWriteOptions): Promise<boolean>;
}
