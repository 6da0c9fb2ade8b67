/** SQLite schema for the revocation repositories (versions are global; this area owns 100..199). */
import type { Migration } from './sqlite.js';

export const revocationMigrations: Migration[] = [
  {
    version: 100,
    name: 'revocation: CRL numbers and latest CRLs',
    sql: `
      CREATE TABLE crl_numbers (
        ca_id TEXT PRIMARY KEY,
        last_number TEXT NOT NULL
      );
      CREATE TABLE crls (
        ca_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        number TEXT NOT NULL,
        base_number TEXT,
        this_update INTEGER NOT NULL,
        next_update INTEGER NOT NULL,
        der BLOB NOT NULL,
        source_hash TEXT,
        PRIMARY KEY (ca_id, kind)
      );
    `,
  },
  {
    version: 101,
    name: 'revocation: covering partial index of revoked/held certificates (paged CRL reads, digest)',
    sql: `
      CREATE INDEX certificates_revoked ON certificates(issuer_id, serial, status, not_after, revoked_at, revocation_reason, created_at)
        WHERE status IN ('revoked', 'hold');
    `,
  },
];
