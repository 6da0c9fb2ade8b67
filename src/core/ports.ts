/** What core/ needs from the outside, as narrow interfaces (ARCHITECTURE.md rule 1 and 7). */
import type { AuditInput, AuditRecord } from '../store/types.js';

export type Clock = () => Date;
export type RandomBytes = (n: number) => Buffer;

/** The slice of the audit log core uses. */
export interface AuditSink {
  /** Appends events on their own. */
  record(...events: AuditInput[]): Promise<AuditRecord[]>;
  /** Appends an issuance intent (written before signing; synced together with the result). */
  intent(event: AuditInput): Promise<AuditRecord[]>;
  /** Emits the log line for events committed together with another write. */
  emitted(events: AuditInput[]): AuditInput[];
}

/** Metrics hook (implemented in http/ with prom-client). */
export interface IssuanceObserver {
  issued(profile: string, protocol: string, result: 'ok' | 'denied' | 'failed', seconds: number): void;
}

/** Where relying parties fetch CRLs, OCSP and CA certificates (CONTRACT.md URL layout). */
export interface PublicUrls {
  crl(caId: string): string;
  deltaCrl(caId: string): string;
  /** Partition k of a CA's partitioned CRLs (RFC 5280 §5.2.5). */
  crlPartition(caId: string, k: number): string;
  ocsp(): string;
  caIssuers(caId: string): string;
}

export function publicUrls(base: string): PublicUrls {
  const b = base.replace(/\/+$/, '');
  return {
    crl: (ca) => `${b}/crl/${ca}.crl`,
    deltaCrl: (ca) => `${b}/crl/${ca}-delta.crl`,
    crlPartition: (ca, k) => `${b}/crl/${ca}-p${k}.crl`,
    ocsp: () => `${b}/ocsp`,
    caIssuers: (ca) => `${b}/ca/${ca}.crt`,
  };
}
