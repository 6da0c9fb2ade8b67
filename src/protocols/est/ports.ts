/** The narrow slice of core and store the EST front-end uses (ARCHITECTURE.md rule 1). */
import type { Authority } from '../../core/authority.js';
import type { AuditSink, Clock } from '../../core/ports.js';
import type { RunExclusive } from '../../core/leases.js';
import type { ApprovalRepository, CertificateRepository, RecentEventRepository } from '../../store/types.js';
import type { EstConfig } from './config.js';

export type EstAuthority = Pick<Authority, 'issue' | 'revoke' | 'chain' | 'profile'>;

export interface EstPorts {
  authority: EstAuthority;
  certificates: Pick<CertificateRepository, 'get'>;
  approvals: ApprovalRepository;
  /** One node at a time issues an approved request (store lease per approval id). */
  exclusive: RunExclusive;
  /** Failed-authentication counts per client address, recorded in the store for every node. */
  recentEvents: RecentEventRepository;
  audit: Pick<AuditSink, 'record'>;
  config: EstConfig;
  defaultIssuer: string;
  clock: Clock;
}

/** What a route hands the handlers: the transport facts, no framework objects. */
export interface EstRequest {
  label: string;
  /** Remote address, for failure rate limiting. */
  ip: string;
  contentType?: string;
  authorization?: string;
  /** The TLS client certificate, when one was presented. */
  clientCert?: { der: Buffer; authorized: boolean };
  /**
   * TLS channel-binding values of this connection (§3.5), when served over TLS: `tlsUnique`
   * (RFC 5929, TLS ≤ 1.2 only) and `tlsExporter` (RFC 9266, 32 bytes of
   * EXPORTER-Channel-Binding with an empty context).
   */
  channelBinding?: { tlsUnique?: Buffer; tlsExporter?: Buffer };
  body: Buffer;
}

export interface EstResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}
