/** Versioned SQLite schema; applied in order at start, each in its own transaction. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const coreMigrations: Migration[] = [
  {
    version: 1,
    name: 'core: CAs, certificates, audit',
    sql: `
      CREATE TABLE cas (
        id TEXT PRIMARY KEY,
        parent_id TEXT,
        key_uri TEXT NOT NULL,
        cert_der BLOB NOT NULL,
        subject TEXT NOT NULL,
        ski TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE certificates (
        serial TEXT PRIMARY KEY,
        issuer_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        sans TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        profile TEXT NOT NULL,
        requester TEXT NOT NULL,
        protocol TEXT NOT NULL,
        status TEXT NOT NULL,
        revoked_at INTEGER,
        revocation_reason INTEGER,
        der BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        replaces TEXT
      );
      CREATE INDEX certificates_not_after ON certificates(not_after);
      CREATE INDEX certificates_issuer_status ON certificates(issuer_id, status);
      CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY,
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
      CREATE TABLE audit_checkpoints (
        head_seq INTEGER PRIMARY KEY,
        head_hash TEXT NOT NULL,
        time TEXT NOT NULL,
        key_uri TEXT NOT NULL,
        signature TEXT NOT NULL
      );
    `,
  },
];

coreMigrations.push({
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
      csr_der BLOB NOT NULL,
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      decided_at INTEGER,
      decided_by TEXT,
      reason TEXT,
      serial TEXT,
      extra TEXT
    );
    CREATE INDEX approvals_status ON approvals(status);
  `,
});
