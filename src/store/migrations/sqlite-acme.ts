/** SQLite schema for the acme repositories (versions are global; this area owns 200..299). */
import type { Migration } from './sqlite.js';

export const acmeMigrations: Migration[] = [
  {
    version: 200,
    name: 'acme: nonces, accounts, orders, authorizations, challenges',
    sql: `
      CREATE TABLE acme_nonces (nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL);
      CREATE INDEX acme_nonces_expires ON acme_nonces(expires);
      CREATE TABLE acme_accounts (
        id TEXT PRIMARY KEY,
        thumbprint TEXT NOT NULL UNIQUE,
        jwk TEXT NOT NULL,
        contact TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE acme_orders (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES acme_accounts(id),
        status TEXT NOT NULL,
        identifiers TEXT NOT NULL,
        not_before INTEGER,
        not_after INTEGER,
        expires INTEGER NOT NULL,
        cert_serial TEXT,
        error TEXT,
        profile TEXT NOT NULL,
        replaces TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX acme_orders_account ON acme_orders(account_id);
      CREATE INDEX acme_orders_cert ON acme_orders(cert_serial);
      CREATE TABLE acme_authzs (
        id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL REFERENCES acme_orders(id),
        account_id TEXT NOT NULL,
        identifier TEXT NOT NULL,
        status TEXT NOT NULL,
        expires INTEGER NOT NULL,
        wildcard INTEGER NOT NULL
      );
      CREATE INDEX acme_authzs_order ON acme_authzs(order_id);
      CREATE TABLE acme_challenges (
        id TEXT PRIMARY KEY,
        authz_id TEXT NOT NULL REFERENCES acme_authzs(id),
        type TEXT NOT NULL,
        token TEXT NOT NULL,
        status TEXT NOT NULL,
        validated INTEGER,
        error TEXT
      );
      CREATE INDEX acme_challenges_authz ON acme_challenges(authz_id);
    `,
  },
  {
    version: 201,
    name: 'acme: external account binding keys, replaces index, account provisioner',
    sql: `
      CREATE TABLE acme_eab_keys (
        kid TEXT PRIMARY KEY,
        provisioner TEXT NOT NULL,
        hmac_key BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        account_id TEXT,
        used_at INTEGER
      );
      CREATE INDEX acme_orders_replaces ON acme_orders(replaces);
      ALTER TABLE acme_accounts ADD COLUMN provisioner TEXT NOT NULL DEFAULT 'acme';
    `,
  },
  {
    version: 202,
    name: 'acme: order-authorization links (authz reuse), rate-limit counters, validation and finalization leases',
    sql: `
      CREATE TABLE acme_order_authzs (
        order_id TEXT NOT NULL REFERENCES acme_orders(id),
        authz_id TEXT NOT NULL REFERENCES acme_authzs(id),
        position INTEGER NOT NULL,
        PRIMARY KEY (order_id, authz_id)
      );
      CREATE INDEX acme_order_authzs_authz ON acme_order_authzs(authz_id);
      INSERT INTO acme_order_authzs (order_id, authz_id, position) SELECT order_id, id, rowid FROM acme_authzs;
      CREATE INDEX acme_authzs_reuse ON acme_authzs(account_id, identifier, status);
      CREATE TABLE acme_rate_counters (
        key TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        count INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        PRIMARY KEY (key, window_start)
      );
      CREATE INDEX acme_rate_counters_expires ON acme_rate_counters(expires);
      ALTER TABLE acme_challenges ADD COLUMN started_at INTEGER;
      ALTER TABLE acme_challenges ADD COLUMN claimed_until INTEGER;
      ALTER TABLE acme_challenges ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX acme_challenges_status ON acme_challenges(status);
      ALTER TABLE acme_orders ADD COLUMN csr BLOB;
      ALTER TABLE acme_orders ADD COLUMN claimed_until INTEGER;
      ALTER TABLE acme_orders ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX acme_orders_status ON acme_orders(status);
      CREATE INDEX certificates_requester ON certificates(requester);
    `,
  },
  {
    version: 203,
    name: 'acme: stateless (HMAC) nonces: used-nonce set and shared secrets (the stored-nonce table goes)',
    sql: `
      CREATE TABLE acme_used_nonces (nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL);
      CREATE INDEX acme_used_nonces_expires ON acme_used_nonces(expires);
      CREATE TABLE acme_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL, created_at INTEGER NOT NULL);
      DROP TABLE acme_nonces;
    `,
  },
];
