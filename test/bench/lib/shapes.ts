import type { CatalogShape } from '../../../src/sync/plan.ts';

/** A named catalog shape: what the simulator generates and what the request bounds take. */
export interface NamedShape {
  name: string;
  iaps: number;
  /** Subscriptions of each group. */
  groups: number[];
  /** Whether the app has billing grace period settings. */
  grace: boolean;
}

export const products = (s: NamedShape) => s.iaps + s.groups.reduce((a, b) => a + b, 0);

export const toPlanShape = (s: NamedShape): CatalogShape => ({
  iaps: s.iaps,
  groups: s.groups.length,
  subscriptionsPerGroup: s.groups,
});

const groupsOf = (count: number, each: number) => Array.from({ length: count }, () => each);

/** Shapes for scenario 1, small to large, covering each term of the bound. */
export function requestShapes(quick: boolean): NamedShape[] {
  const all: (NamedShape & { quick?: boolean })[] = [
    { name: '5 IAPs, no subscriptions', iaps: 5, groups: [], grace: false, quick: true },
    { name: '2 IAPs + 1 group × 3', iaps: 2, groups: [3], grace: true, quick: true },
    { name: '50 IAPs (include cap)', iaps: 50, groups: [], grace: true },
    { name: '51 IAPs (one over the cap)', iaps: 51, groups: [], grace: true, quick: true },
    { name: '60 IAPs + 2 groups × 20', iaps: 60, groups: groupsOf(2, 20), grace: true, quick: true },
    { name: '1 group × 51 subscriptions', iaps: 0, groups: [51], grace: true },
    {
      name: '1,000: 800 IAPs + 2 groups × 100',
      iaps: 800,
      groups: groupsOf(2, 100),
      grace: true,
      quick: true,
    },
    {
      name: '1,000: 400 IAPs + 120 groups × 5',
      iaps: 400,
      groups: groupsOf(120, 5),
      grace: true,
      quick: true,
    },
    { name: '1,000: IAPs only', iaps: 1000, groups: [], grace: false, quick: true },
    { name: '1,000: 4 groups × 250, no IAPs', iaps: 0, groups: groupsOf(4, 250), grace: true },
    { name: '1,000: 250 groups × 4 (groups paged)', iaps: 0, groups: groupsOf(250, 4), grace: true },
    { name: '10,000: 9,000 IAPs + 5 groups × 200', iaps: 9000, groups: groupsOf(5, 200), grace: true },
    { name: '10,000: 5,000 IAPs + 500 groups × 10', iaps: 5000, groups: groupsOf(500, 10), grace: true },
    { name: '10,000: IAPs only', iaps: 10_000, groups: [], grace: false },
  ];
  return all.filter((s) => !quick || s.quick).map(({ quick: _q, ...shape }) => shape);
}
