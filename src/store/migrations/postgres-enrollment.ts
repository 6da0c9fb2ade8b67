/** PostgreSQL schema for the enrollment repositories (SCEP transactions, one-time challenges, admin tokens); same versions as SQLite (300..399). */
import type { Migration } from './sqlite.js';

export const postgresEnrollmentMigrations: Migration[] = [
  {
    version: 300,
    name: 'scep: transactions, one-time challenges; admin tokens',
    sql: `
      CREATE TABLE scep_transactions (
        label TEXT NOT NULL,
        transaction_id TEXT NOT NULL,
        signer_key TEXT NOT NULL,
        csr_hash TEXT NOT NULL,
        message_type INTEGER NOT NULL,
        status TEXT NOT NULL,
        serial TEXT,
        fail_info INTEGER,
        approval_id TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (label, transaction_id)
      );
      CREATE TABLE scep_challenges (
        hash TEXT PRIMARY KEY,
        label TEXT NOT NULL,
        subject TEXT,
        sans TEXT,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        used_by TEXT
      );
      CREATE INDEX scep_challenges_expires ON scep_challenges(expires_at);
      CREATE TABLE admin_tokens (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        description TEXT,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT,
        last_used_at BIGINT
      );
    `,
  },
];
