import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { productKinds } from '../../../db/schema.ts';
import { applyDiff, diffCatalog, isEmptyDiff } from '../../../src/catalog/diff.ts';
import type {
  Catalog,
  CatalogGroup,
  CatalogProduct,
  GracePeriod,
  StoredCatalog,
} from '../../../src/catalog/model.ts';

/*
 * For random stored catalogs A (with removed rows) and fetched catalogs B built from A by
 * dropping, keeping, tweaking and adding entities: applying diff(A, B) to A gives a catalog
 * whose present part is B, stamps what disappeared, and leaves nothing more to diff.
 */

type Stored<T> = T & { removedAt: Date | null };

const AT = new Date('2030-06-01T00:00:00.000Z');
const NUM_RUNS = 300;

/* Small pools so that independent draws often coincide, giving partial changes and no-ops. */
const rawArb = fc.dictionary(
  fc.constantFrom(
    'name',
    'state',
    'reviewNote',
    'groupLevel',
    'referenceName',
    'duration',
    'extra',
    '__proto__',
  ),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 4 },
);
/* Mostly present rows, so updates and removals are as common as restores. */
const removedAtArb: fc.Arbitrary<Date | null> = fc.oneof(
  { arbitrary: fc.constant(null), weight: 3 },
  {
    arbitrary: fc.date({ min: new Date('2020-01-01'), max: new Date('2029-12-31'), noInvalidDate: true }),
    weight: 1,
  },
);
const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });

const productArb = (appleId: fc.Arbitrary<string>): fc.Arbitrary<CatalogProduct> =>
  fc.record({
    appleId,
    productId: fc.constantFrom('p.a', 'p.b', 'p.c'),
    kind: fc.constantFrom(...productKinds),
    referenceName: fc.constantFrom('Coins', 'Gems', 'Pro'),
    state: fc.constantFrom('APPROVED', 'REJECTED', 'SOMETHING_NEW'),
    familySharable: nullable(fc.boolean()),
    contentHosting: nullable(fc.boolean()),
    subscriptionPeriod: nullable(fc.constantFrom('ONE_MONTH', 'ONE_YEAR')),
    groupAppleId: nullable(fc.constantFrom('g0', 'g1', 'g2')),
    groupLevel: nullable(fc.integer({ min: 1, max: 3 })),
    raw: rawArb,
  });

const groupArb = (appleId: fc.Arbitrary<string>): fc.Arbitrary<CatalogGroup> =>
  fc.record({ appleId, referenceName: fc.constantFrom('Premium', 'Basic'), raw: rawArb });

const graceArb: fc.Arbitrary<GracePeriod> = fc.record({
  appleId: fc.constantFrom('x1', 'x2'),
  optIn: fc.boolean(),
  sandboxOptIn: fc.boolean(),
  duration: fc.constantFrom('THREE_DAYS', 'SIXTEEN_DAYS', 'NEW_DURATION'),
  durationDays: fc.constantFrom(0, 3, 16),
  renewalType: fc.constantFrom('ALL_RENEWALS', 'PAID_TO_PAID_ONLY', 'NEW_TYPE'),
  raw: rawArb,
});

const withRemovedAt = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<Stored<T>> =>
  fc.tuple(arb, removedAtArb).map(([model, removedAt]) => ({ ...model, removedAt }));

/** Stored ids are digits; ids only B has are 'n'-prefixed, so B never repeats an id. */
const storedIds = fc.integer({ min: 0, max: 11 }).map(String);
const freshIds = fc.integer({ min: 0, max: 5 }).map((n) => `n${n}`);

const storedCatalogArb: fc.Arbitrary<StoredCatalog> = fc.record({
  products: fc.uniqueArray(withRemovedAt(productArb(storedIds)), {
    selector: (p) => p.appleId,
    maxLength: 10,
  }),
  groups: fc.uniqueArray(withRemovedAt(groupArb(storedIds)), { selector: (g) => g.appleId, maxLength: 5 }),
  grace: nullable(withRemovedAt(graceArb)),
});

function strip<T>(row: Stored<T>): T {
  const { removedAt: _removedAt, ...model } = row;
  return model as T;
}

/** B's version of one stored entity: gone, the same, or the same with some fields taken from a random one. */
function fateOf<T extends object>(row: Stored<T>, random: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  const model = strip(row);
  const fields = Object.keys(model) as (keyof T)[];
  return fc.oneof(
    { arbitrary: fc.constant(null), weight: 1 },
    { arbitrary: fc.constant(model), weight: 2 },
    {
      arbitrary: fc.tuple(random, fc.subarray(fields)).map(([other, taken]) => {
        const tweaked = { ...model };
        for (const field of taken) tweaked[field] = other[field];
        return tweaked;
      }),
      weight: 2,
    },
  );
}

function fetchedList<T extends { appleId: string }>(
  rows: Stored<T>[],
  random: (id: fc.Arbitrary<string>) => fc.Arbitrary<T>,
  maxAdded: number,
): fc.Arbitrary<T[]> {
  const fates = rows.map((row) => fateOf(row, random(fc.constant(row.appleId))));
  const added = fc.uniqueArray(random(freshIds), { selector: (x) => x.appleId, maxLength: maxAdded });
  return fc
    .tuple(fc.tuple(...fates), added)
    .map(([kept, extra]) => [...kept.filter((x): x is T => x !== null), ...extra])
    .chain((list) => fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }));
}

function fetchedGrace(stored: Stored<GracePeriod> | null): fc.Arbitrary<GracePeriod | null> {
  // The grace setting is one per app, so a tweak may even change its Apple id.
  return stored === null ? nullable(graceArb) : fc.oneof(fateOf(stored, graceArb), graceArb);
}

const pairArb: fc.Arbitrary<{ a: StoredCatalog; b: Catalog }> = storedCatalogArb.chain((a) =>
  fc
    .record({
      products: fetchedList(a.products, productArb, 4),
      groups: fetchedList(a.groups, groupArb, 3),
      grace: fetchedGrace(a.grace),
    })
    .map((b) => ({ a, b })),
);

const byId = <T extends { appleId: string }>(rows: readonly T[]) =>
  [...rows].sort((x, y) => (x.appleId < y.appleId ? -1 : x.appleId > y.appleId ? 1 : 0));
const present = <T>(rows: readonly Stored<T>[]) => rows.filter((r) => r.removedAt === null).map(strip);

function expectRemovalsStamped<T extends { appleId: string }>(
  before: Stored<T>[],
  after: Stored<T>[],
  fetched: T[],
) {
  const afterById = new Map(after.map((row) => [row.appleId, row]));
  const fetchedIds = new Set(fetched.map((row) => row.appleId));
  expect(new Set(afterById.keys())).toEqual(new Set([...before.map((r) => r.appleId), ...fetchedIds]));
  for (const row of before) {
    if (fetchedIds.has(row.appleId)) continue;
    // Present and gone now: same data, stamped. Removed earlier and still gone: untouched.
    expect(afterById.get(row.appleId)).toEqual(row.removedAt === null ? { ...row, removedAt: AT } : row);
  }
}

describe('diffCatalog + applyDiff (property-based)', () => {
  it('apply(A, diff(A, B)) has B as its present part, stamps removals, and leaves an empty diff', () => {
    fc.assert(
      fc.property(pairArb, ({ a, b }) => {
        const diff = diffCatalog(a, b);
        const applied = applyDiff(a, diff, AT);

        expect(byId(present(applied.products))).toEqual(byId(b.products));
        expect(byId(present(applied.groups))).toEqual(byId(b.groups));
        const presentGrace = applied.grace?.removedAt === null ? strip(applied.grace) : null;
        expect(presentGrace).toEqual(b.grace);

        expectRemovalsStamped(a.products, applied.products, b.products);
        expectRemovalsStamped(a.groups, applied.groups, b.groups);
        if (a.grace !== null && b.grace === null) {
          expect(applied.grace).toEqual(a.grace.removedAt === null ? { ...a.grace, removedAt: AT } : a.grace);
        }

        expect(isEmptyDiff(diffCatalog(applied, b))).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('is deterministic: the same input, in any order, gives the same diff, sorted by Apple id', () => {
    const shuffledPair = pairArb.chain(({ a, b }) =>
      fc
        .record({
          ap: fc.shuffledSubarray(a.products, { minLength: a.products.length }),
          ag: fc.shuffledSubarray(a.groups, { minLength: a.groups.length }),
          bp: fc.shuffledSubarray(b.products, { minLength: b.products.length }),
          bg: fc.shuffledSubarray(b.groups, { minLength: b.groups.length }),
        })
        .map((s) => ({
          a,
          b,
          a2: { ...a, products: s.ap, groups: s.ag },
          b2: { ...b, products: s.bp, groups: s.bg },
        })),
    );
    fc.assert(
      fc.property(shuffledPair, ({ a, b, a2, b2 }) => {
        const diff = diffCatalog(a, b);
        expect(diffCatalog(a, b)).toEqual(diff);
        expect(diffCatalog(a2, b2)).toEqual(diff);
        for (const changes of [diff.products, diff.groups]) {
          const ids = changes.map((c) => c.entityId);
          expect(ids).toEqual([...ids].sort());
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('finds nothing to change between a stored catalog and its own present part', () => {
    fc.assert(
      fc.property(storedCatalogArb, (a) => {
        const same: Catalog = {
          products: present(a.products),
          groups: present(a.groups),
          grace: a.grace?.removedAt === null ? strip(a.grace) : null,
        };
        expect(isEmptyDiff(diffCatalog(a, same))).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
