import { describe, expect, it } from 'vitest';
import { FailureRateLimit } from '../../../../src/adapters/http/failure-rate-limit.ts';

describe('failed authentications per client address', () => {
  it('allows five failures a minute, then asks to wait until the oldest leaves the window', () => {
    let now = 1_000_000;
    const limit = new FailureRateLimit({ maxFailures: 5, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 5; i += 1) {
      expect(limit.retryAfterSeconds('10.0.0.1')).toBe(0);
      limit.recordFailure('10.0.0.1');
      now += 1000;
    }
    // First failure at 1,000,000; the window frees it at 1,060,000; now is 1,005,000.
    expect(limit.retryAfterSeconds('10.0.0.1')).toBe(55);
    expect(limit.retryAfterSeconds('10.0.0.2')).toBe(0);
    now += 55_000;
    expect(limit.retryAfterSeconds('10.0.0.1')).toBe(0);
  });

  it('keeps at most maxClients addresses', () => {
    const limit = new FailureRateLimit({ maxFailures: 1, maxClients: 2, now: () => 5 });
    limit.recordFailure('a');
    limit.recordFailure('b');
    limit.recordFailure('c');
    expect(limit.retryAfterSeconds('a')).toBe(0);
    expect(limit.retryAfterSeconds('c')).toBeGreaterThan(0);
  });
});
