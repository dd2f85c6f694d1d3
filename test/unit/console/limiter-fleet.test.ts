import { describe, expect, it } from 'vitest';
import { budgetBoundFrom } from '../../../src/console/app.ts';
import {
  createLoginLimiter,
  delayAfter,
  FIRST_DELAY_MS,
  FORGET_AFTER_MS,
  FREE_FAILURES,
  MAX_DELAY_MS,
  MAX_QUEUE_MS,
} from '../../../src/console/limiter.ts';

describe('the console login limiter', () => {
  it('waits longer after each wrong token beyond the free ones, up to a ceiling', () => {
    expect(delayAfter(FREE_FAILURES - 1)).toBe(0);
    expect(delayAfter(FREE_FAILURES)).toBe(FIRST_DELAY_MS);
    expect(delayAfter(FREE_FAILURES + 2)).toBe(4 * FIRST_DELAY_MS);
    expect(delayAfter(FREE_FAILURES + 1000)).toBe(MAX_DELAY_MS);
  });

  it('queues a guessing address, leaves others alone, and clears on the right token', () => {
    let t = 0;
    const limiter = createLoginLimiter(() => t);
    for (let i = 0; i < FREE_FAILURES; i++) {
      expect(limiter.admit('10.0.0.1')).toEqual({ wait: 0 });
      limiter.failed('10.0.0.1');
    }
    // Other addresses: no wait.
    expect(limiter.admit('10.0.0.2')).toEqual({ wait: 0 });
    // The guesser: one at a time, each after the one before it.
    expect(limiter.admit('10.0.0.1')).toEqual({ wait: FIRST_DELAY_MS });
    expect(limiter.admit('10.0.0.1')).toEqual({ wait: 2 * FIRST_DELAY_MS });
    // A flood is refused once too much waiting is queued (never another address).
    let refused = false;
    for (let i = 0; i < 1000 && !refused; i++) refused = 'refused' in limiter.admit('10.0.0.1');
    expect(refused).toBe(true);
    expect(limiter.admit('10.0.0.3')).toEqual({ wait: 0 });
    // Once the queue has drained, the right token's attempt is admitted and clears the address.
    t += MAX_QUEUE_MS * 2;
    expect('wait' in limiter.admit('10.0.0.1')).toBe(true);
    limiter.succeeded('10.0.0.1');
    expect(limiter.admit('10.0.0.1')).toEqual({ wait: 0 });
  });

  it('forgets failures a while after the last one', () => {
    let t = 0;
    const limiter = createLoginLimiter(() => t);
    for (let i = 0; i < FREE_FAILURES + 3; i++) limiter.failed('10.0.0.1');
    t += FORGET_AFTER_MS + 1;
    expect(limiter.admit('10.0.0.1')).toEqual({ wait: 0 });
  });
});

describe('the fleet view: budget-bound projects', () => {
  it("takes each project's latest sync and flags it when details stopped for the budget", () => {
    const job = (projectId: string, finishedOn: number, stoppedBy: string | null, name = 'sync-catalog') => ({
      name,
      data: { projectId },
      finishedOn,
      returnvalue: { details: { stoppedBy, deferred: stoppedBy ? 7 : 0 } },
    });
    const bound = budgetBoundFrom([
      job('a', 1, 'budget'),
      job('a', 2, null), // a later sync read everything: no longer bound
      job('b', 5, 'budget'),
      job('b', 3, null),
      job('c', 4, 'rate_limited'),
      job('d', 9, 'budget', 'verify-credentials'),
      { name: 'sync-catalog', data: { projectId: 'e' }, finishedOn: 1, returnvalue: null },
    ]);
    expect([...bound.keys()].sort()).toEqual(['b', 'c']);
    expect(bound.get('b')).toEqual({ stoppedBy: 'budget', deferred: 7, at: new Date(5) });
  });
});
