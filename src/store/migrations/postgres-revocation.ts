/** PostgreSQL schema of the revocation area beyond version 100 (versions as in sqlite-revocation.ts). */
import type { Migration } from './postgres.js';

export const postgresRevocationMigrations: Migration[] = [
  {
    version: 101,
    name: 'revocation: covering partial index of revoked/held certificates (paged CRL reads, digest)',
    sql: `
      CREATE INDEX certificates_revoked ON certificates(issuer_id, serial) INCLUDE (status, not_after, revoked_at, revocation_reason, created_at)
        WHERE status IN ('revoked', 'hold');
    `,
  },
];
