import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { criticalPath, requestLowerBound } from '../../../src/sync/plan.ts';

const shape = (iaps: number, subscriptionsPerGroup: number[]) => ({
  iaps,
  groups: subscriptionsPerGroup.length,
  subscriptionsPerGroup,
});

describe('requestLowerBound', () => {
  it.each([
    ['empty app: the app request only', shape(0, []), 1],
    ['50 IAPs fit the include', shape(50, []), 1],
    ['51 IAPs: the collection, one page', shape(51, []), 2],
    ['200 IAPs: one page', shape(200, []), 2],
    ['201 IAPs: two pages', shape(201, []), 3],
    ['250 IAPs: two pages', shape(250, []), 3],
    ['one empty group still needs the groups listing', shape(0, [0]), 2],
    ['a group of 50 subscriptions is fully included', shape(10, [50]), 2],
    ['a group of 60 needs its own collection', shape(10, [60]), 3],
    ['a group of 401 needs three pages of its own', shape(0, [401]), 5],
    ['several groups, some capped', shape(250, [60, 3, 50, 201]), 1 + 2 + 1 + 1 + 2],
    [
      '201 groups: two listing pages',
      shape(
        0,
        Array.from({ length: 201 }, () => 1),
      ),
      3,
    ],
  ])('%s', (_name, input, expected) => {
    expect(requestLowerBound(input)).toBe(expected);
  });
});

describe('criticalPath', () => {
  it.each([
    [shape(0, []), 1],
    [shape(250, []), 3],
    [shape(0, [60]), 3],
    [shape(250, [60, 401]), 1 + Math.max(2, 1 + 3)],
    [shape(1000, [60]), 1 + 5],
  ])('%j → %i', (input, expected) => {
    expect(criticalPath(input)).toBe(expected);
  });

  it('is never longer than the total and never shorter than one request', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 5000 }),
        fc.array(fc.nat({ max: 1000 }), { maxLength: 30 }),
        (iaps, perGroup) => {
          const s = shape(iaps, perGroup);
          const path = criticalPath(s);
          expect(path).toBeGreaterThanOrEqual(1);
          expect(path).toBeLessThanOrEqual(requestLowerBound(s));
        },
      ),
    );
  });
});
