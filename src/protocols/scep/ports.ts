/** The narrow slice of core, keys and store the SCEP front-end uses (ARCHITECTURE.md rule 1). */
import type { Authority } from '../../core/authority.js';
import type { AuditSink, Clock, RandomBytes } from '../../core/ports.js';
import type { RunExclusive } from '../../core/leases.js';
import type { Decrypter, Signer } from '../../keys/types.js';
import type { ApprovalRepository, CertificateRepository, RecentEventRepository, EnrollmentRepository, RevocationRepository } from '../../store/types.js';
import type { ScepConfig } from './config.js';

export type ScepAuthority = Pick<Authority, 'issue' | 'revoke' | 'chain' | 'profile'>;

/**
 * Who answers SCEP for an issuing CA (RFC 8894 §2.1): the RA (an RSA key in the key store and a
 * certificate with keyEncipherment + digitalSignature issued by that CA) or, for an RSA CA
 * without an RA, the CA itself. Requests are encrypted to it and CertReps are signed by it.
 */
export interface Responder {
  certDer: Buffer;
  signer: Pick<Signer, 'sign' | 'keyUri'>;
  decrypter: Decrypter;
  /** True when certDer is an RA certificate (GetCACert then answers CA + RA). */
  isRa: boolean;
}

export interface ScepPorts {
  authority: ScepAuthority;
  certificates: Pick<CertificateRepository, 'get'>;
  approvals: ApprovalRepository;
  /** One node at a time issues an approved request (store lease per approval id). */
  exclusive: RunExclusive;
  enrollment: EnrollmentRepository;
  /** Wrong challenge passwords per client address, recorded in the store for every node. */
  recentEvents: RecentEventRepository;
  revocation: Pick<RevocationRepository, 'latestCrl'>;
  audit: Pick<AuditSink, 'record' | 'emitted'>;
  config: ScepConfig;
  defaultIssuer: string;
  /** Responder per issuing CA id; undefined when that CA cannot do SCEP (not RSA and no RA). */
  responder(issuerId: string): Responder | undefined;
  clock: Clock;
  random: RandomBytes;
}

/** What a route hands the handlers: transport facts, no framework objects. */
export interface ScepRequest {
  label: string;
  ip: string;
  method: 'GET' | 'POST';
  operation: string;
  /** PKIOperation message: the POST body, or the decoded GET `message` parameter. */
  message?: Buffer;
}

export interface ScepResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}
