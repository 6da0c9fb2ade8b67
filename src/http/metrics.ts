/** Prometheus metrics (prom-client): issuance by profile/protocol/result, latency, expiry buckets. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IssuanceObserver } from '../core/ports.js';
import type { CertificateRepository } from '../store/types.js';

export class Metrics implements IssuanceObserver {
  readonly registry = new Registry();
  private readonly issuance: Counter<'profile' | 'protocol' | 'result'>;
  private readonly latency: Histogram<'protocol'>;
  readonly httpRequests: Counter<'app' | 'status'>;

  constructor(certificates: CertificateRepository, now: () => Date = () => new Date()) {
    collectDefaultMetrics({ register: this.registry, prefix: 'flintca_' });
    this.issuance = new Counter({
      name: 'flintca_issuance_total',
      help: 'Certificate issuance requests by profile, protocol and result',
      labelNames: ['profile', 'protocol', 'result'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'flintca_issuance_duration_seconds',
      help: 'Time from request to stored certificate',
      labelNames: ['protocol'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.httpRequests = new Counter({
      name: 'flintca_http_requests_total',
      help: 'HTTP requests by listener and status code',
      labelNames: ['app', 'status'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'flintca_certificates_by_expiry',
      help: 'Valid certificates by days until expiry',
      labelNames: ['within'],
      registers: [this.registry],
      async collect() {
        const counts = await certificates.countByExpiry(now(), [1, 7, 30, 90]);
        for (const [within, n] of Object.entries(counts)) this.set({ within }, n);
      },
    });
  }

  /** flintca_lease_held{name}: 1 while this node holds the lease (work that must happen once, issue 7). */
  observeLeases(leases: { snapshot(): { name: string; held: boolean }[] }): void {
    new Gauge({
      name: 'flintca_lease_held',
      help: 'Leases this node keeps: 1 while it holds the lease, 0 otherwise',
      labelNames: ['name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const l of leases.snapshot()) this.set({ name: l.name }, l.held ? 1 : 0);
      },
    });
  }

  issued(profile: string, protocol: string, result: 'ok' | 'denied' | 'failed', seconds: number): void {
    this.issuance.inc({ profile, protocol, result });
    if (result === 'ok') this.latency.observe({ protocol }, seconds);
  }
}
