import { describe, expect, it } from 'vitest';
import { countDetailChanges, diffDetails, isEmptyDetailsDiff } from '../../../src/details/diff.ts';
import type {
  DetailMetadata,
  DetailOffer,
  DetailPrice,
  ProductDetails,
  StoredDetails,
} from '../../../src/details/model.ts';

const price = (territory: string, startDate: string | null, customerPrice: string): DetailPrice => ({
  appleId: `${territory}-${startDate}`,
  territory,
  startDate,
  endDate: null,
  preserved: false,
  source: 'manual',
  planType: null,
  pricePointId: `pp-${customerPrice}`,
  currency: 'USD',
  customerPrice,
  proceeds: '1.00',
  proceedsYear2: '1.20',
});

const offer = (appleId: string, patch: Partial<DetailOffer> = {}): DetailOffer => ({
  appleId,
  kind: 'promotional',
  territory: null,
  name: 'Spring',
  offerMode: 'PAY_AS_YOU_GO',
  duration: 'ONE_MONTH',
  numberOfPeriods: 3,
  startDate: null,
  endDate: null,
  active: null,
  eligibility: {},
  raw: { name: 'Spring' },
  prices: [
    {
      territory: 'USA',
      pricePointId: 'p',
      currency: 'USD',
      customerPrice: '0.99',
      proceeds: '0.70',
      proceedsYear2: '0.84',
    },
  ],
  ...patch,
});

const fetched = (patch: Partial<ProductDetails> = {}): ProductDetails => ({
  productAppleId: 'sub1',
  prices: [],
  offers: [],
  localizations: [],
  availability: null,
  territories: [],
  metadata: [],
  partialKinds: [],
  ...patch,
});

const stored = (details: ProductDetails, removedAt: Date | null = null): StoredDetails => ({
  productAppleId: details.productAppleId,
  prices: details.prices.map((p) => ({ ...p, removedAt })),
  offers: details.offers.map((o) => ({ ...o, removedAt })),
  localizations: details.localizations.map((l) => ({ ...l, removedAt })),
  availability: details.availability ? { ...details.availability, removedAt } : null,
  metadata: details.metadata.map((m) => ({ ...m, removedAt })),
});

const EMPTY: StoredDetails = {
  productAppleId: 'sub1',
  prices: [],
  offers: [],
  localizations: [],
  availability: null,
  metadata: [],
};
const TODAY = '2026-06-01';

describe('diffDetails', () => {
  it('adds everything on a first read, keyed by territory and start date', () => {
    const details = fetched({
      prices: [price('USA', null, '4.99'), price('USA', '2026-07-01', '5.99')],
      offers: [offer('o1')],
      localizations: [
        { appleId: 'l1', locale: 'en-US', name: 'Pro', description: null, state: 'APPROVED', raw: {} },
      ],
      availability: { appleId: 'sub1', availableInNewTerritories: true, territories: ['USA'] },
    });
    const diff = diffDetails(EMPTY, details, TODAY);
    expect(diff.prices.map((c) => [c.entityId, c.action])).toEqual([
      ['sub1/USA/2026-07-01', 'added'],
      ['sub1/USA/initial', 'added'],
    ]);
    expect(countDetailChanges(diff)).toEqual({
      'price.added': 2,
      'offer.added': 1,
      'localization.added': 1,
      'availability.added': 1,
    });
  });

  it('is empty when nothing changed (jsonb key order does not count)', () => {
    const details = fetched({
      prices: [price('USA', null, '4.99')],
      offers: [offer('o1', { raw: { b: 1, a: 2 } })],
    });
    const again = fetched({
      prices: [price('USA', null, '4.99')],
      offers: [offer('o1', { raw: { a: 2, b: 1 } })],
    });
    expect(isEmptyDetailsDiff(diffDetails(stored(details), again, TODAY))).toBe(true);
  });

  it('keeps a price that was superseded by time as history, with no change', () => {
    const before = fetched({ prices: [price('USA', null, '4.99'), price('USA', '2026-05-15', '5.99')] });
    const now = fetched({ prices: [price('USA', '2026-05-15', '5.99')] });
    expect(isEmptyDetailsDiff(diffDetails(stored(before), now, TODAY))).toBe(true);
  });

  it('removes a scheduled price that was cancelled, and a territory no longer priced', () => {
    const before = fetched({
      prices: [price('USA', null, '4.99'), price('USA', '2026-09-01', '5.99'), price('FRA', null, '4.99')],
    });
    const now = fetched({ prices: [price('USA', null, '4.99')] });
    const diff = diffDetails(stored(before), now, TODAY);
    expect(diff.prices.map((c) => [c.entityId, c.action])).toEqual([
      ['sub1/FRA/initial', 'removed'],
      ['sub1/USA/2026-09-01', 'removed'],
    ]);
  });

  it('reports an updated amount with its field, and restores a removed offer', () => {
    const before = fetched({ prices: [price('USA', null, '4.99')], offers: [offer('o1')] });
    const now = fetched({
      prices: [{ ...price('USA', null, '4.99'), proceeds: '3.10' }],
      offers: [offer('o1', { name: 'Summer' })],
    });
    const diff = diffDetails({ ...stored(before), offers: stored(before, new Date()).offers }, now, TODAY);
    expect(diff.prices[0]).toMatchObject({ action: 'updated', changedFields: ['proceeds'] });
    expect(diff.offers[0]).toMatchObject({ action: 'restored', changedFields: ['name'] });
  });

  it('removes the availability when Apple has none any more', () => {
    const before = fetched({
      availability: { appleId: 'sub1', availableInNewTerritories: false, territories: ['USA'] },
    });
    const diff = diffDetails(stored(before), fetched(), TODAY);
    expect(diff.availability).toMatchObject({ entity: 'availability', entityId: 'sub1', action: 'removed' });
  });
});

const record = (
  kind: DetailMetadata['kind'],
  appleId: string,
  patch: Partial<DetailMetadata> = {},
): DetailMetadata => ({
  kind,
  appleId,
  state: 'APPROVED',
  version: kind === 'version' ? 1 : null,
  label: null,
  attributes: {},
  ...patch,
});

describe('diffDetails: metadata', () => {
  const base = fetched({
    metadata: [
      record('version', 'v1'),
      record('plan_availability', 'p1', { label: 'MONTHLY', state: null }),
      record('review_screenshot', 's1', { state: 'COMPLETE' }),
    ],
  });

  it('each metadata kind is its own change entity; an unchanged read changes nothing', () => {
    const first = diffDetails(EMPTY, base, TODAY);
    expect(countDetailChanges(first)).toEqual({
      'version.added': 1,
      'plan_availability.added': 1,
      'review_screenshot.added': 1,
    });
    expect(isEmptyDetailsDiff(diffDetails(stored(base), base, TODAY))).toBe(true);
  });

  it('a submitted version, a new version and a missing screenshot', () => {
    const next = fetched({
      metadata: [
        record('version', 'v1', { state: 'REPLACED_WITH_NEW_VERSION' }),
        record('version', 'v2', { version: 2, state: 'WAITING_FOR_REVIEW' }),
        record('plan_availability', 'p1', { label: 'MONTHLY', state: null }),
      ],
    });
    const diff = diffDetails(stored(base), next, TODAY);
    expect(countDetailChanges(diff)).toEqual({
      'version.updated': 1,
      'version.added': 1,
      'review_screenshot.removed': 1,
    });
    expect(diff.metadata.find((c) => c.entityId === 'v1')!.changedFields).toEqual(['state']);
  });

  it('a kind Apple capped keeps what it did not list', () => {
    const capped = fetched({
      metadata: [record('plan_availability', 'p1', { label: 'MONTHLY', state: null })],
    });
    const diff = diffDetails(stored(base), { ...capped, partialKinds: ['version'] }, TODAY);
    expect(countDetailChanges(diff)).toEqual({ 'review_screenshot.removed': 1 });
  });
});
