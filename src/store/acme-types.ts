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
}

export interface AcmeRepository {
  /** Stores a fresh nonce valid until `expires`. */
  addNonce(nonce: string, expires: Date): Promise<void>;
  /** Deletes the nonce; true only when it existed and had not expired (single use across nodes). */
  consumeNonce(nonce: string, now: Date): Promise<boolean>;

  /**
   * With `eabKid`, the EAB key is claimed in the same transaction (unused and of `provisioner`,
   * else a FlintError 'unauthorized' is thrown and nothing is written).
   */
  createAccount(acct: AcmeAccountRecord, audit?: AuditInput[], eab?: { kid: string; provisioner: string }): Promise<void>;

  createEabKey(key: AcmeEabKeyRecord, audit?: AuditInput[]): Promise<void>;
  getEabKey(kid: string): Promise<AcmeEabKeyRecord | undefined>;
  getAccount(id: string): Promise<AcmeAccountRecord | undefined>;
  getAccountByThumbprint(thumbprint: string): Promise<AcmeAccountRecord | undefined>;
  /** Key rollover sets jwk + thumbprint together (a thumbprint in use elsewhere throws: unique). */
  updateAccount(id: string, patch: { contact?: string[]; status?: AcmeAccountStatus; jwk?: Record<string, unknown>; thumbprint?: string }, audit?: AuditInput[]): Promise<void>;

  /** Inserts an order with its authorizations and their challenges in one transaction. */
  createOrder(order: AcmeOrderRecord, authzs: AcmeAuthzRecord[], audit?: AuditInput[]): Promise<void>;
  getOrder(id: string): Promise<AcmeOrderRecord | undefined>;
  listOrderIds(accountId: string): Promise<string[]>;
  getOrderByCertSerial(serial: string): Promise<AcmeOrderRecord | undefined>;
  /** A finalized (valid) order whose `replaces` is this serial (RFC 9773 §5). */
  getValidOrderReplacing(serial: string): Promise<AcmeOrderRecord | undefined>;
  /** Applies the patch only when the order's current status is one of `from`; returns whether it did. */
  updateOrder(id: string, from: AcmeOrderStatus[], patch: AcmeOrderPatch, audit?: AuditInput[]): Promise<boolean>;

  getAuthz(id: string): Promise<AcmeAuthzRecord | undefined>;
  listAuthzs(orderId: string): Promise<AcmeAuthzRecord[]>;
  deactivateAuthz(id: string, audit?: AuditInput[]): Promise<boolean>;
  getChallenge(id: string): Promise<AcmeChallengeRecord | undefined>;
  /** Challenges left in processing (e.g. by a restart), to validate again. */
  listProcessingChallenges(limit: number): Promise<string[]>;
  /** pending → processing; false when the challenge was not pending. */
  startChallenge(id: string): Promise<boolean>;
  /**
   * Records a validation result atomically (§7.1.6): the challenge becomes valid/invalid, its
   * authorization follows, and the order becomes ready (all authorizations valid) or invalid.
   */
  completeChallenge(id: string, result: { ok: true; validated: Date } | { ok: false; error: AcmeStoredProblem }, audit?: AuditInput[]): Promise<void>;
}
