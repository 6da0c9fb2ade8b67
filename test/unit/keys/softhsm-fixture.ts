/**
 * Shared SoftHSM set-up for key tests. Each test file runs in its own forked process (vitest
 * pool 'forks'), so each file gets one throwaway token in a temp dir, and SOFTHSM2_CONF is set in
 * process.env before any store loads the module.
 *
 * When SoftHSM is missing the tests skip loudly, unless FLINTCA_REQUIRE_INTEROP=1 (CI), where
 * they fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { createSoftHsmToken, findSoftHsmModule, softHsmAvailable } from '../../../src/keys/index.js';

export const HSM_AVAILABLE = softHsmAvailable();
const REQUIRED = process.env.FLINTCA_REQUIRE_INTEROP === '1';

/** Call at the top of a test file; returns true when the SoftHSM tests should be skipped. */
export function skipWithoutSoftHsm(): boolean {
  if (HSM_AVAILABLE) return false;
  if (REQUIRED) {
    describe('SoftHSM prerequisites', () => {
      it('softhsm2-util and libsofthsm2.so are installed (FLINTCA_REQUIRE_INTEROP=1)', () => {
        throw new Error('SoftHSM is required (FLINTCA_REQUIRE_INTEROP=1) but softhsm2-util or libsofthsm2.so is missing: apt-get install -y softhsm2 opensc');
      });
    });
  } else {
    console.warn('\n*** SKIPPING SoftHSM key tests: softhsm2-util or libsofthsm2.so not installed (apt-get install -y softhsm2 opensc) ***\n');
  }
  return true;
}

export interface TestToken {
  dir: string;
  modulePath: string;
  label: string;
  pin: string;
  confPath: string;
  cleanup(): void;
}

/** Creates a token in a fresh temp dir and points this process's SOFTHSM2_CONF at it. */
export async function makeTestToken(label = 'flint-test', pin = '246810', soPin = '13579135'): Promise<TestToken> {
  const dir = mkdtempSync(join(tmpdir(), 'flintca-hsm-'));
  const { confPath } = await createSoftHsmToken({ dir, label, pin, soPin });
  process.env.SOFTHSM2_CONF = confPath;
  return { dir, modulePath: findSoftHsmModule()!, label, pin, confPath, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
