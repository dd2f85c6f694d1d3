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
    ['one empty group: its collection, one (empty) page', shape(0, [0]), 2],
    ['one group of 50: its collection, one page', shape(10, [50]), 2],
    ['one group of 60: its collection read directly, no listing', shape(10, [60]), 2],
    ['one group of 120 and 51 IAPs', shape(51, [120]), 1 + 1 + 1],
    ['one group of 200: one page', shape(0, [200]), 2],
    ['one group of 201: two pages', shape(0, [201]), 3],
    ['one group of 401: three pages, no listing', shape(0, [401]), 4],
    ['two groups ≤ 50: the listing includes both', shape(0, [50, 3]), 2],
    ['two groups, one capped: listing + its collection', shape(0, [60, 3]), 3],
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

describe('one group read directly', () => {
  /** The plan via the groups listing: app, IAP pages if capped, listing, the group's pages if capped. */
  const viaListing = (iaps: number, subscriptions: number) =>
    1 +
    (iaps > 50 ? Math.ceil(iaps / 200) : 0) +
    1 +
    (subscriptions > 50 ? Math.ceil(subscriptions / 200) : 0);

  it('is never more than via the listing, and one fewer whenever the group holds more than 50', () => {
    fc.assert(
      fc.property(fc.nat({ max: 5000 }), fc.nat({ max: 5000 }), (iaps, subscriptions) => {
        const direct = requestLowerBound(shape(iaps, [subscriptions]));
        expect(direct).toBe(viaListing(iaps, subscriptions) - (subscriptions > 50 ? 1 : 0));
      }),
    );
  });
});

describe('criticalPath', () => {
  it.each([
    [shape(0, []), 1],
    [shape(250, []), 3],
    [shape(0, [60]), 2],
    [shape(0, [0]), 2],
    [shape(0, [401]), 1 + 3],
    [shape(0, [60, 3]), 1 + 1 + 1],
    [shape(250, [60, 401]), 1 + Math.max(2, 1 + 3)],
    [shape(1000, [60]), 1 + 5],
    [shape(1000, [60, 0]), 1 + 5],
  ])('%j → %i', (input, expected) => {
    expect(criticalPath(input)).toBe(expected);
  });

  it('with one group, equals the total when there are no IAP pages', () => {
    fc.assert(
      fc.property(fc.nat({ max: 50 }), fc.nat({ max: 5000 }), (iaps, subscriptions) => {
        const s = shape(iaps, [subscriptions]);
        expect(criticalPath(s)).toBe(requestLowerBound(s));
      }),
    );
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
