/**
 * M-of-N custodian shares of a backup key (Shamir's secret sharing over GF(256), by the audited
 * `shamir-secret-sharing` package), and their printable form: one text file per custodian.
 *
 *   Flint CA key backup share
 *   backup: <id>            the backup file this share opens (SHA-256 of the wrapped blob, 16 hex)
 *   custodian: alice
 *   share: 2 of 5 (any 3 restore)
 *   value: 0a1b 2c3d ...     the share, hex in groups of 4
 *   check: 1234abcd          first 4 bytes of SHA-256(value), catches typing errors
 */
import { createHash } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { FlintError } from '../errors/index.js';

export interface Share {
  backupId: string;
  custodian: string;
  index: number;
  count: number;
  threshold: number;
  value: Buffer;
}

const check = (v: Uint8Array) => createHash('sha256').update(v).digest().subarray(0, 4).toString('hex');

export async function splitSecret(secret: Uint8Array, custodians: readonly string[], threshold: number, backupId: string): Promise<Share[]> {
  if (threshold < 2 || threshold > custodians.length) throw new FlintError('invalidConfig', `threshold ${threshold} must be between 2 and ${custodians.length}`);
  // The library wants plain Uint8Arrays (it rejects Buffer, a subclass).
  const parts = await split(Uint8Array.from(secret), custodians.length, threshold);
  return parts.map((p, i) => ({ backupId, custodian: custodians[i]!, index: i + 1, count: custodians.length, threshold, value: Buffer.from(p) }));
}

export function formatShare(s: Share): string {
  const hex = s.value.toString('hex').replace(/(.{4})(?=.)/g, '$1 ');
  return [
    'Flint CA key backup share',
    `backup: ${s.backupId}`,
    `custodian: ${s.custodian}`,
    `share: ${s.index} of ${s.count} (any ${s.threshold} restore)`,
    `value: ${hex}`,
    `check: ${check(s.value)}`,
    '',
  ].join('\n');
}

export function parseShare(text: string, where: string): Share {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(text)?.[1]?.trim();
  const backupId = field('backup');
  const custodian = field('custodian') ?? '';
  const share = /^(\d+) of (\d+) \(any (\d+) restore\)$/.exec(field('share') ?? '');
  const hex = (field('value') ?? '').replace(/\s+/g, '');
  if (!backupId || !share || !/^([0-9a-f]{2})+$/i.test(hex)) throw new FlintError('malformed', `${where}: not a Flint CA backup share (backup, share and value lines are required)`);
  const value = Buffer.from(hex, 'hex');
  if (field('check') !== check(value)) throw new FlintError('malformed', `${where}: the share value does not match its check digits (typing error?)`);
  return { backupId, custodian, index: Number(share[1]), count: Number(share[2]), threshold: Number(share[3]), value };
}

/** Recombines shares of one backup; needs at least the threshold, all distinct. */
export async function combineShares(shares: readonly Share[], backupId: string): Promise<Buffer> {
  const first = shares[0];
  if (!first) throw new FlintError('invalidConfig', 'no shares given');
  for (const s of shares) {
    if (s.backupId !== backupId) throw new FlintError('invalidConfig', `share of custodian "${s.custodian}" belongs to backup ${s.backupId}, not ${backupId}`);
  }
  if (new Set(shares.map((s) => s.index)).size !== shares.length) throw new FlintError('invalidConfig', 'the same share was given twice');
  if (shares.length < first.threshold) throw new FlintError('invalidConfig', `${shares.length} shares given; this backup needs ${first.threshold}`);
  return Buffer.from(await combine(shares.map((s) => Uint8Array.from(s.value))));
}
