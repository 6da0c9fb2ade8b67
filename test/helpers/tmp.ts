import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp dir removed after the test file (call in beforeAll/afterAll pairs). */
export function tempDir(prefix = 'flintca-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Interop tools must exist in CI (FLINTCA_REQUIRE_INTEROP=1); locally a missing tool skips loudly. */
export function requireTool(available: boolean, tool: string): boolean {
  if (available) return true;
  if (process.env.FLINTCA_REQUIRE_INTEROP === '1') throw new Error(`${tool} is required (FLINTCA_REQUIRE_INTEROP=1) but not installed`);
  console.warn(`SKIPPING: ${tool} is not installed`);
  return false;
}
