/** SQLite schema for the acme repositories (versions are global; this area owns its own range). */
import type { Migration } from './sqlite.js';

export const acmeMigrations: Migration[] = [];
