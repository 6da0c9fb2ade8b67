/** SQLite schema for the enrollment repositories (versions are global; this area owns its own range). */
import type { Migration } from './sqlite.js';

export const enrollmentMigrations: Migration[] = [];
