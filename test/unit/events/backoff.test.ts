import { describe, expect, it } from 'vitest';
import { DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS } from '../../../src/config/env.ts';
import { classifyResponse, nextRetry } from '../../../src/events/backoff.ts';

describe('retry schedule', () => {
  it('follows the schedule, then gives up', () => {
    const schedule = [1000, 2000, 4000];
    const mid = () => 0.5; // no jitter
    expect(nextRetry(1, schedule, mid)).toEqual({ retry: true, delayMs: 1000 });
    expect(nextRetry(2, schedule, mid)).toEqual({ retry: true, delayMs: 2000 });
    expect(nextRetry(3, schedule, mid)).toEqual({ retry: true, delayMs: 4000 });
    expect(nextRetry(4, schedule, mid)).toEqual({ retry: false });
  });

  it('jitters by at most 10%', () => {
    expect(nextRetry(1, [1000], () => 0)).toEqual({ retry: true, delayMs: 900 });
    expect(nextRetry(1, [1000], () => 1)).toEqual({ retry: true, delayMs: 1100 });
  });

  it('the default spreads the attempts over about a day, growing', () => {
    const total = DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(20 * 3_600_000);
    expect(total).toBeLessThan(36 * 3_600_000);
    for (let i = 1; i < DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.length; i++) {
      expect(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS[i]!).toBeGreaterThanOrEqual(
        DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS[i - 1]!,
      );
    }
  });
});

describe('response classes', () => {
  it.each([
    [200, 'succeeded'],
    [204, 'succeeded'],
    [410, 'disable'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [400, 'retry'],
    [301, 'retry'],
    [undefined, 'retry'],
  ] as const)('%s → %s', (status, expected) => {
    expect(classifyResponse(status)).toBe(expected);
  });
});
