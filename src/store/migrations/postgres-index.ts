/** Every PostgreSQL migration, core first, then each area's own version range (same numbering as SQLite). */
import { postgresCoreMigrations, type Migration } from './postgres.js';
import { postgresAcmeMigrations } from './postgres-acme.js';
import { postgresEnrollmentMigrations } from './postgres-enrollment.js';
import { postgresRevocationMigrations } from './postgres-revocation.js';

export type { Migration } from './postgres.js';

export const postgresMigrations: Migration[] = [...postgresCoreMigrations, ...postgresRevocationMigrations, ...postgresAcmeMigrations, ...postgresEnrollmentMigrations].sort((a, b) => a.version - b.version);
