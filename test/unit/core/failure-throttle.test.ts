import { describe, expect, it } from 'vitest';
import { FailureThrottle } from '../../../src/core/failure-throttle.js';

describe('FailureThrottle', () => {
  it('refuses an address after max failures until the window from its first failure ends; others are unaffected', () => {
    let now = 1_000_000;
    const t = new FailureThrottle(() => new Date(now), 3, 60_000);
    for (let i = 0; i < 2; i++) t.fail('10.0.0.1');
    expect(t.retryAfter('10.0.0.1')).toBeUndefined();
    now += 10_000;
    t.fail('10.0.0.1');
    expect(t.retryAfter('10.0.0.1')).toBe(50); // the window started at the first failure
    expect(t.retryAfter('10.0.0.2')).toBeUndefined();
    now += 49_500;
    expect(t.retryAfter('10.0.0.1')).toBe(1);
    now += 500;
    expect(t.retryAfter('10.0.0.1')).toBeUndefined();
    t.fail('10.0.0.1'); // a new window: one failure so far
    expect(t.retryAfter('10.0.0.1')).toBeUndefined();
  });

  it('remembers a bounded number of addresses (the oldest is forgotten)', () => {
    const t = new FailureThrottle(() => new Date(0), 1, 60_000, 2);
    t.fail('a');
    t.fail('b');
    t.fail('c');
    expect(t.retryAfter('a')).toBeUndefined();
    expect(t.retryAfter('b')).toBe(60);
    expect(t.retryAfter('c')).toBe(60);
  });
});
