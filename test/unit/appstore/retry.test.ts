import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, isRetryableStatus, parseRetryAfter, retryDelay } from '../../../src/appstore/retry.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 7 ', NOW)).toBe(7_000);
  });

  it('reads an HTTP date relative to now', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', NOW)).toBe(30_000);
  });

  it('treats a date in the past as now', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('', NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
    expect(parseRetryAfter('1.5', NOW)).toBeUndefined();
    expect(parseRetryAfter('12abc', NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
  });

  it('uses the first of several header values', () => {
    expect(parseRetryAfter(['3', '9'], NOW)).toBe(3_000);
  });
});

describe('backoff', () => {
  const options = { baseMs: 100, capMs: 1_000 };

  it('doubles the ceiling per attempt up to the cap (full jitter, upper end)', () => {
    const almostOne = () => 0.999_999;
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, options, almostOne))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
  });

  it('can wait zero (full jitter, lower end)', () => {
    expect(backoffDelay(3, options, () => 0)).toBe(0);
  });

  it('always stays within [0, min(cap, base·2^attempt))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          const wait = backoffDelay(attempt, options, () => r);
          return wait >= 0 && wait < Math.min(1_000, 100 * 2 ** attempt);
        },
      ),
    );
  });

  it('honours Retry-After over backoff, capped', () => {
    expect(retryDelay(0, 250, options, () => 0.5)).toBe(250);
    expect(retryDelay(0, 30_000, options, () => 0.5)).toBe(1_000);
    expect(retryDelay(0, 0, options, () => 0.5)).toBe(0);
    expect(retryDelay(2, undefined, options, () => 0.5)).toBe(200);
  });

  it('retries throttling and server errors only', () => {
    expect([429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([200, 400, 401, 403, 404, 409, 422].some(isRetryableStatus)).toBe(false);
  });
});
