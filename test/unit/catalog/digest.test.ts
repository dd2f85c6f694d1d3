import { describe, expect, it } from 'vitest';
import { catalogDigest } from '../../../src/catalog/digest.ts';
import type { Catalog } from '../../../src/catalog/model.ts';
import { grace, group, iap, sub } from './fixtures.ts';

const catalog = (): Catalog => ({
  products: [iap('100'), sub('200', 'g1')],
  groups: [group('g1')],
  grace: grace(),
});

describe('catalogDigest', () => {
  it('is the same for the same catalog, built twice', () => {
    expect(catalogDigest(catalog())).toBe(catalogDigest(catalog()));
    expect(catalogDigest(catalog())).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('changes with any field of a product, a group or the grace settings, raw attributes included', () => {
    const base = catalogDigest(catalog());
    const edits: Array<(c: Catalog) => void> = [
      (c) => {
        c.products[0]!.referenceName = 'Renamed';
      },
      (c) => {
        c.products[1]!.groupLevel = 9;
      },
      (c) => {
        c.products[0]!.raw = { ...c.products[0]!.raw, reviewNote: 'new' };
      },
      (c) => {
        c.products.pop();
      },
      (c) => {
        c.groups[0]!.referenceName = 'Other group';
      },
      (c) => {
        c.grace = null;
      },
      (c) => {
        c.grace = grace({ duration: 'TWENTY_EIGHT_DAYS', durationDays: 28 });
      },
    ];
    const digests = edits.map((edit) => {
      const changed = catalog();
      edit(changed);
      return catalogDigest(changed);
    });
    for (const digest of digests) expect(digest).not.toBe(base);
    expect(new Set(digests).size).toBe(digests.length);
  });
});
