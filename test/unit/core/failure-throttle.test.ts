import { describe, expect, it } from 'vitest';
import { FailureThrottle } from '../../../src/core/failure-throttle.js';
import { freshRecentEvents } from '../../helpers/recent-events.js';

describe('FailureThrottle (failures recorded in the store)', () => {
  it('refuses an address with max failures in the last window until the earliest is a window old; other addresses and scopes are unaffected', async () => {
    let now = Date.UTC(2026, 0, 1, 0, 0, 50);
    const events = freshRecentEvents();
    const t = new FailureThrottle(events, 'test', () => new Date(now), 3, 60_000);
    await t.fail('10.0.0.1');
    now += 20_000; // across a minute boundary: still the same sliding window
    await t.fail('10.0.0.1');
    expect(await t.retryAfter('10.0.0.1')).toBeUndefined();
    await t.fail('10.0.0.1');
    expect(await t.retryAfter('10.0.0.1')).toBe(40); // the first failure is 20 s old
    expect(await t.retryAfter('10.0.0.2')).toBeUndefined();
    expect(await new FailureThrottle(events, 'other', () => new Date(now), 3, 60_000).retryAfter('10.0.0.1')).toBeUndefined();
    now += 39_500;
    expect(await t.retryAfter('10.0.0.1')).toBe(1);
    now += 500; // the first failure has left the window: two remain
    expect(await t.retryAfter('10.0.0.1')).toBeUndefined();
  });

  it("two throttles on the same store (two nodes) see each other's failures", async () => {
    const events = freshRecentEvents();
    const now = () => new Date(Date.UTC(2026, 0, 1));
    const a = new FailureThrottle(events, 'est-auth', now, 2);
    const b = new FailureThrottle(events, 'est-auth', now, 2);
    await a.fail('10.0.0.9');
    await b.fail('10.0.0.9');
    expect(await a.retryAfter('10.0.0.9')).toBe(60);
  });
});
