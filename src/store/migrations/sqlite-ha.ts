/** SQLite schema for coordination between nodes (versions 900..999): leases. */
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
];
