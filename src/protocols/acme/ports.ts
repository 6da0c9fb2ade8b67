/** The narrow slice of core and store the ACME front-end uses (ARCHITECTURE.md rule 1). */
import type { Authority } from '../../core/authority.js';
import type { AuditSink } from '../../core/ports.js';
import type { AcmeRepository } from '../../store/acme-types.js';
import type { CertificateRepository } from '../../store/types.js';

export type AcmeAuthority = Pick<Authority, 'issue' | 'revoke' | 'chain'>;

export interface AcmeDeps {
  authority: AcmeAuthority;
  repo: AcmeRepository;
  certificates: Pick<CertificateRepository, 'get'>;
  audit: Pick<AuditSink, 'emitted' | 'record'>;
  /** Signing profile ACME orders use. */
  profile: string;
  /** Profile name → description, for the directory's meta.profiles. */
  profileDescriptions?: Record<string, string>;
  clock: () => Date;
  /** True when the CA with this id is retiring (rollover): ARI then suggests renewing now. */
  issuerRetiring?: (issuerId: string) => boolean;
  /** Called when a challenge should be validated (asynchronously). */
  enqueueValidation: (challengeId: string) => void;
  /** Resolves when this node's validation job for the challenge has finished (optional). */
  validationSettled?: (challengeId: string) => Promise<void>;
  /** How long a challenge POST waits for its validation before answering `processing` (ms). Default 1.5 s. */
  validationWaitMs?: number;
  logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** Lease on a processing order (ms); another node finishes it after that. Default 60 s. */
  leaseMs?: number;
  /** How long finalize waits for issuance before answering `processing` (ms). Default 5 s. */
  finalizeWaitMs?: number;
  /** §7.4.2 alternate chains for an issuer: each a list of DER CA certificates sent after the leaf. */
  alternateChains?: (issuerId: string) => Buffer[][];
}
