/**
 * PostgreSQL schema for the acme repositories: same version numbers as the SQLite ACME migrations
 * (200..299), each creating its tables in their final shape (no ALTERs to replay: the PostgreSQL
 * store starts from this schema). Times are BIGINT ms, binary BYTEA, JSON TEXT (see postgres/db.ts).
 */
import type { Migration } from './sqlite.js';

export const postgresAcmeMigrations: Migration[] = [
  {
    version: 200,
    name: 'acme: accounts, orders, authorizations, challenges (with validation and finalization leases)',
    sql: `
      CREATE TABLE acme_accounts (
        id TEXT PRIMARY KEY,
        thumbprint TEXT NOT NULL UNIQUE,
        jwk TEXT NOT NULL,
        contact TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        provisioner TEXT NOT NULL DEFAULT 'acme'
      );
      CREATE TABLE acme_orders (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES acme_accounts(id),
        status TEXT NOT NULL,
        identifiers TEXT NOT NULL,
        not_before BIGINT,
        not_after BIGINT,
        expires BIGINT NOT NULL,
        cert_serial TEXT,
        error TEXT,
        profile TEXT NOT NULL,
        replaces TEXT,
        created_at BIGINT NOT NULL,
        csr BYTEA,
        claimed_until BIGINT,
        attempts INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX acme_orders_account ON acme_orders(account_id);
      CREATE INDEX acme_orders_cert ON acme_orders(cert_serial);
      CREATE INDEX acme_orders_status ON acme_orders(status);
      CREATE TABLE acme_authzs (
        id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL REFERENCES acme_orders(id),
        account_id TEXT NOT NULL,
        identifier TEXT NOT NULL,
        status TEXT NOT NULL,
        expires BIGINT NOT NULL,
        wildcard BOOLEAN NOT NULL
      );
      CREATE INDEX acme_authzs_order ON acme_authzs(order_id);
      -- position: the challenge's place in its authorization (SQLite orders by rowid).
      CREATE TABLE acme_challenges (
        id TEXT PRIMARY KEY,
        authz_id TEXT NOT NULL REFERENCES acme_authzs(id),
        position INTEGER NOT NULL,
        type TEXT NOT NULL,
        token TEXT NOT NULL,
        status TEXT NOT NULL,
        validated BIGINT,
        error TEXT,
        started_at BIGINT,
        claimed_until BIGINT,
        attempts INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX acme_challenges_authz ON acme_challenges(authz_id);
      CREATE INDEX acme_challenges_status ON acme_challenges(status);
    `,
  },
  {
    version: 201,
    name: 'acme: external account binding keys, replaces index',
    sql: `
      CREATE TABLE acme_eab_keys (
        kid TEXT PRIMARY KEY,
        provisioner TEXT NOT NULL,
        hmac_key BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        account_id TEXT,
        used_at BIGINT
      );
      CREATE INDEX acme_orders_replaces ON acme_orders(replaces);
    `,
  },
  {
    version: 202,
    name: 'acme: order-authorization links (authz reuse), rate-limit counters, certificates by requester',
    sql: `
      CREATE TABLE acme_order_authzs (
        order_id TEXT NOT NULL REFERENCES acme_orders(id),
        authz_id TEXT NOT NULL REFERENCES acme_authzs(id),
        position INTEGER NOT NULL,
        PRIMARY KEY (order_id, authz_id)
      );
      CREATE INDEX acme_order_authzs_authz ON acme_order_authzs(authz_id);
      CREATE INDEX acme_authzs_reuse ON acme_authzs(account_id, identifier, status);
      CREATE TABLE acme_rate_counters (
        key TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        count INTEGER NOT NULL,
        expires BIGINT NOT NULL,
        PRIMARY KEY (key, window_start)
      );
      CREATE INDEX acme_rate_counters_expires ON acme_rate_counters(expires);
      CREATE INDEX IF NOT EXISTS certificates_requester ON certificates(requester);
    `,
  },
  {
    version: 203,
    name: 'acme: stateless (HMAC) nonces: used-nonce set and shared secrets',
    sql: `
      CREATE TABLE acme_used_nonces (nonce TEXT PRIMARY KEY, expires BIGINT NOT NULL);
      CREATE INDEX acme_used_nonces_expires ON acme_used_nonces(expires);
      CREATE TABLE acme_secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL, created_at BIGINT NOT NULL);
    `,
  },
];
