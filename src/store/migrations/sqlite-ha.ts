/** SQLite schema for coordination between nodes (versions 900..999): leases, recent events. */
import type { Migration } from './sqlite.js';

export const haMigrations: Migration[] = [
  {
    version: 900,
    name: 'ha: leases',
    sql: `
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 901,
    name: 'ha: recent events (sliding-window limits shared by nodes)',
    sql: `
      CREATE TABLE recent_events (
        key TEXT NOT NULL,
        at INTEGER NOT NULL,
        expires INTEGER NOT NULL
      );
      CREATE INDEX recent_events_key_at ON recent_events (key, at);
      CREATE INDEX recent_events_expires ON recent_events (expires);
    `,
  },
];
