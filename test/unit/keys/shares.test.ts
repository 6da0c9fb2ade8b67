/** Shamir glue: any M of N custodian shares rebuild the backup key; fewer, mixed or mistyped shares are refused. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { combineShares, formatShare, parseShare, splitSecret } from '../../../src/keys/shares.js';
import { keyCheckValue } from '../../../src/keys/pkcs11/backup.js';

describe('backup key shares', () => {
  it('3 of 5: every 3-subset rebuilds the key, through the printed form', async () => {
    const key = randomBytes(32);
    const shares = await splitSecret(key, ['alice', 'bob', 'carol', 'dave', 'erin'], 3, 'b1');
    const printed = shares.map((s) => parseShare(formatShare(s), `share ${s.index}`));
    expect(printed[1]).toMatchObject({ backupId: 'b1', custodian: 'bob', index: 2, count: 5, threshold: 3 });
    for (const pick of [[0, 1, 2], [1, 3, 4], [0, 2, 4], [4, 3, 0]]) {
      const got = await combineShares(pick.map((i) => printed[i]!), 'b1');
      expect(got.equals(key)).toBe(true);
    }
    expect(keyCheckValue(key)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses too few, duplicated, foreign and mistyped shares', async () => {
    const key = randomBytes(32);
    const s = await splitSecret(key, ['a', 'b', 'c'], 2, 'b2');
    await expect(combineShares([s[0]!], 'b2')).rejects.toThrow(/1 shares given; this backup needs 2/);
    await expect(combineShares([s[0]!, s[0]!], 'b2')).rejects.toThrow(/same share was given twice/);
    await expect(combineShares([s[0]!, s[1]!], 'other')).rejects.toThrow(/belongs to backup b2/);
    const text = formatShare(s[0]!);
    const typo = text.replace(/value: (\w)/, (_m, c: string) => `value: ${c === '0' ? '1' : '0'}`);
    expect(() => parseShare(typo, 'typo.txt')).toThrow(/does not match its check digits/);
    expect(() => parseShare('hello', 'x.txt')).toThrow(/not a Flint CA backup share/);
    await expect(splitSecret(key, ['a', 'b'], 3, 'x')).rejects.toThrow(/threshold 3/);
  });
});
