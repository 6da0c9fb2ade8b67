/** SQLite schema for the revocation repositories (versions are global; this area owns its own range). */
import type { Migration } from './sqlite.js';

export const revocationMigrations: Migration[] = [];
