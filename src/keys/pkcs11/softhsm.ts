/**
 * SoftHSM 2 helpers for development and tests: find the module, make a throwaway token.
 *
 * SoftHSM reads its configuration file from `SOFTHSM2_CONF` when the module is initialised
 * (C_Initialize). This helper does NOT change the environment: the caller (config/useSoftHsmConf, tests) must set
 * SOFTHSM2_CONF = confPath BEFORE opening a Pkcs11KeyStore on that module in this
 * process; a process can use only one SoftHSM configuration at a time.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { childEnv } from '../../config/index.js';
import { FlintError } from '../../errors/index.js';

/** Where Debian/Ubuntu and source builds install SoftHSM 2, in the order we try them. */
export const SOFTHSM_MODULE_CANDIDATES: readonly string[] = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

export function findSoftHsmModule(): string | undefined {
  return SOFTHSM_MODULE_CANDIDATES.find((p) => existsSync(p));
}

let utilAvailable: boolean | undefined;

/** True when both the SoftHSM module and `softhsm2-util` are installed. */
export function softHsmAvailable(): boolean {
  if (findSoftHsmModule() === undefined) return false;
  if (utilAvailable === undefined) {
    const r = spawnSync('softhsm2-util', ['--version'], { stdio: 'ignore', timeout: 10_000 });
    utilAvailable = r.error === undefined && r.status === 0;
  }
  return utilAvailable;
}

export interface SoftHsmTokenOptions {
  /** A directory this token may own; `softhsm2.conf` and `tokens/` are created inside. */
  dir: string;
  label: string;
  pin: string;
  soPin: string;
}

/**
 * Writes `dir/softhsm2.conf` (token directory `dir/tokens`, file backend, errors-only logging)
 * and initialises a token in the first free slot. The PINs go only into the argv of the
 * `softhsm2-util` child (its documented interface) and are never logged.
 */
export async function createSoftHsmToken(opts: SoftHsmTokenOptions): Promise<{ confPath: string; tokenDir: string }> {
  const dir = resolve(opts.dir);
  const tokenDir = join(dir, 'tokens');
  const confPath = join(dir, 'softhsm2.conf');
  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  await writeFile(
    confPath,
    `# Written by flintca (src/keys/pkcs11/softhsm.ts)\n` +
      `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
    { mode: 0o600 },
  );
  const args = ['--init-token', '--free', '--label', opts.label, '--pin', opts.pin, '--so-pin', opts.soPin];
  await new Promise<void>((done, fail) => {
    execFile(
      'softhsm2-util',
      args,
      { env: childEnv({ SOFTHSM2_CONF: confPath }), timeout: 60_000 },
      (err, _stdout, stderr) => {
        if (!err) return done();
        // Redact the PINs in case a future softhsm2-util echoes its arguments.
        const why = redact(`${String(stderr).trim() || err.message}`, [opts.pin, opts.soPin]);
        fail(new FlintError('invalidConfig', `softhsm2-util --init-token failed for token "${opts.label}": ${why}`));
      },
    );
  });
  return { confPath, tokenDir };
}

function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}
