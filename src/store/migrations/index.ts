/** Every SQLite migration, core first, then each area's own version range (revocation 100+, ACME 200+, EST/SCEP 300+, HA 900+). */
import { coreMigrations, type Migration } from './sqlite.js';
import { revocationMigrations } from './sqlite-revocation.js';
import { acmeMigrations } from './sqlite-acme.js';
import { enrollmentMigrations } from './sqlite-enrollment.js';
import { haMigrations } from './sqlite-ha.js';

export type { Migration } from './sqlite.js';

export const sqliteMigrations: Migration[] = [...coreMigrations, ...revocationMigrations, ...acmeMigrations, ...enrollmentMigrations, ...haMigrations].sort((a, b) => a.version - b.version);
