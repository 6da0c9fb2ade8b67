/**
 * Versioned PostgreSQL schema: the same versions as the SQLite one (core 1-2, revocation 100+,
 * HA 900+), with PostgreSQL types. Timestamps are BIGINT milliseconds, binary columns BYTEA,
 * JSON TEXT (store/postgres/db.ts). Serials sort byte-wise (COLLATE "C") as in SQLite, whatever
 * the database's locale, so `afterSerial` paging and ORDER BY agree on every node.
 * Applied at open under an advisory lock (store/postgres/migrate.ts), each in its own transaction.
 */
import { GENESIS_HASH } from '../audit-hash.js';
import type { Migration } from './sqlite.js';

export type { Migration } from './sqlite.js';

export const postgresCoreMigrations: Migration[] = [
  {
    version: 1,
    name: 'core: CAs, certificates, audit (with the chain head row every append locks)',
    sql: `
      CREATE TABLE cas (
        id TEXT PRIMARY KEY,
        parent_id TEXT,
        key_uri TEXT NOT NULL,
        cert_der BYTEA NOT NULL,
        subject TEXT NOT NULL,
        ski TEXT NOT NULL,
        not_before BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE certificates (
        serial TEXT COLLATE "C" PRIMARY KEY,
        issuer_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        sans TEXT NOT NULL,
        not_before BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        profile TEXT NOT NULL,
        requester TEXT NOT NULL,
        protocol TEXT NOT NULL,
        status TEXT NOT NULL,
        revoked_at BIGINT,
        revocation_reason INTEGER,
        der BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        replaces TEXT
      );
      CREATE INDEX certificates_not_after ON certificates(not_after);
      CREATE INDEX certificates_issuer_status ON certificates(issuer_id, status);
      CREATE TABLE audit_events (
        seq BIGINT PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        object TEXT NOT NULL,
        result TEXT NOT NULL,
        reason TEXT,
        data TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      -- One row: the chain head. appendAudit locks it FOR UPDATE, so appends from every node
      -- form one chain (issue 7 §4).
      CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL
      );
      INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}');
      CREATE TABLE audit_checkpoints (
        head_seq BIGINT PRIMARY KEY,
        head_hash TEXT NOT NULL,
        time TEXT NOT NULL,
        key_uri TEXT NOT NULL,
        signature TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'approval queue (EST + SCEP)',
    sql: `
      CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        protocol TEXT NOT NULL,
        label TEXT NOT NULL,
        profile TEXT NOT NULL,
        requester TEXT NOT NULL,
        subject TEXT NOT NULL,
        sans TEXT NOT NULL,
        csr_der BYTEA NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        decided_at BIGINT,
        decided_by TEXT,
        reason TEXT,
        serial TEXT,
        extra TEXT
      );
      CREATE INDEX approvals_status ON approvals(status);
    `,
  },
  {
    version: 100,
    name: 'revocation: CRL numbers and latest CRLs',
    // cRLNumber is up to 20 octets (RFC 5280 §5.2.3): NUMERIC holds it and increments in SQL.
    sql: `
      CREATE TABLE crl_numbers (
        ca_id TEXT PRIMARY KEY,
        last_number NUMERIC(49, 0) NOT NULL
      );
      CREATE TABLE crls (
        ca_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        number NUMERIC(49, 0) NOT NULL,
        base_number NUMERIC(49, 0),
        this_update BIGINT NOT NULL,
        next_update BIGINT NOT NULL,
        der BYTEA NOT NULL,
        source_hash TEXT,
        PRIMARY KEY (ca_id, kind)
      );
    `,
  },
  {
    version: 900,
    name: 'ha: leases',
    sql: `
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 901,
    name: 'ha: recent events (sliding-window limits shared by nodes)',
    sql: `
      CREATE TABLE recent_events (
        key TEXT NOT NULL,
        at BIGINT NOT NULL,
        expires BIGINT NOT NULL
      );
      CREATE INDEX recent_events_key_at ON recent_events (key, at);
      CREATE INDEX recent_events_expires ON recent_events (expires);
    `,
  },
];
