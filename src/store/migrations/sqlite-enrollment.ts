/** SQLite schema for the enrollment repositories (versions are global; this area owns 300..399). */
import type { Migration } from './sqlite.js';

export const enrollmentMigrations: Migration[] = [
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
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (label, transaction_id)
      );
      CREATE TABLE scep_challenges (
        hash TEXT PRIMARY KEY,
        label TEXT NOT NULL,
        subject TEXT,
        sans TEXT,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        used_by TEXT
      );
      CREATE INDEX scep_challenges_expires ON scep_challenges(expires_at);
      CREATE TABLE admin_tokens (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        description TEXT,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_used_at INTEGER
      );
    `,
  },
];
