import { describe, expect, it } from 'vitest';
import { AppStoreError } from '../../../src/appstore/errors.ts';
import { catalogDigest } from '../../../src/catalog/digest.ts';
import { AppError } from '../../../src/errors.ts';
import {
  type AppleResource,
  normaliseCatalog,
  normaliseGrace,
  normaliseIap,
  normaliseSubscription,
  UNKNOWN_IAP_KIND,
} from '../../../src/sync/normalise.ts';

const iap = (id: string, attributes: Record<string, unknown>): AppleResource => ({
  type: 'inAppPurchases',
  id,
  attributes: {
    name: `IAP ${id}`,
    productId: `com.example.iap.${id}`,
    inAppPurchaseType: 'CONSUMABLE',
    state: 'APPROVED',
    familySharable: false,
    contentHosting: false,
    ...attributes,
  },
});

const sub = (id: string, attributes: Record<string, unknown> = {}): AppleResource => ({
  type: 'subscriptions',
  id,
  attributes: {
    name: `Sub ${id}`,
    productId: `com.example.sub.${id}`,
    familySharable: true,
    state: 'READY_TO_SUBMIT',
    subscriptionPeriod: 'ONE_MONTH',
    groupLevel: 2,
    ...attributes,
  },
});

const group = (id: string, referenceName = `Group ${id}`): AppleResource => ({
  type: 'subscriptionGroups',
  id,
  attributes: { referenceName },
});

const grace = (attributes: Record<string, unknown>): AppleResource => ({
  type: 'subscriptionGracePeriods',
  id: 'g1',
  attributes: {
    optIn: true,
    sandboxOptIn: false,
    duration: 'SIXTEEN_DAYS',
    renewalType: 'ALL_RENEWALS',
    ...attributes,
  },
});

describe('normaliseIap', () => {
  it.each([
    ['CONSUMABLE', 'consumable'],
    ['NON_CONSUMABLE', 'non_consumable'],
    ['NON_RENEWING_SUBSCRIPTION', 'non_renewing_subscription'],
  ])('maps %s to %s with every modelled field', (type, kind) => {
    const product = normaliseIap(
      iap('1', { inAppPurchaseType: type, familySharable: true, contentHosting: true }),
    );
    expect(product).toEqual({
      appleId: '1',
      productId: 'com.example.iap.1',
      kind,
      referenceName: 'IAP 1',
      state: 'APPROVED',
      familySharable: true,
      contentHosting: true,
      subscriptionPeriod: null,
      groupAppleId: null,
      groupLevel: null,
      raw: {
        name: 'IAP 1',
        productId: 'com.example.iap.1',
        inAppPurchaseType: type,
        state: 'APPROVED',
        familySharable: true,
        contentHosting: true,
      },
    });
  });

  it('stores an unknown type as non_consumable, keeps it raw and warns', () => {
    const warnings: string[] = [];
    const product = normaliseIap(iap('9', { inAppPurchaseType: 'FUTURE_KIND', brandNew: 1 }), warnings);
    expect(product.kind).toBe(UNKNOWN_IAP_KIND);
    expect(UNKNOWN_IAP_KIND).toBe('non_consumable');
    expect(product.raw).toMatchObject({ inAppPurchaseType: 'FUTURE_KIND', brandNew: 1 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('FUTURE_KIND');
  });

  it('reads absent optional attributes as null', () => {
    const product = normaliseIap({
      type: 'inAppPurchases',
      id: '2',
      attributes: { productId: 'p', inAppPurchaseType: 'CONSUMABLE' },
    });
    expect(product).toMatchObject({
      referenceName: '',
      state: '',
      familySharable: null,
      contentHosting: null,
    });
  });

  it('refuses a product without a productId', () => {
    expect(() => normaliseIap(iap('3', { productId: undefined }))).toThrow(AppStoreError);
  });
});

describe('normaliseSubscription', () => {
  it('is an auto-renewable subscription of its group, with level and period', () => {
    expect(normaliseSubscription(sub('s1'), 'g7')).toMatchObject({
      appleId: 's1',
      productId: 'com.example.sub.s1',
      kind: 'auto_renewable_subscription',
      referenceName: 'Sub s1',
      state: 'READY_TO_SUBMIT',
      familySharable: true,
      contentHosting: null,
      subscriptionPeriod: 'ONE_MONTH',
      groupAppleId: 'g7',
      groupLevel: 2,
    });
  });
});

describe('normaliseGrace', () => {
  it.each([
    ['THREE_DAYS', 3],
    ['SIXTEEN_DAYS', 16],
    ['TWENTY_EIGHT_DAYS', 28],
    ['SEVEN_DAYS', 7],
  ])('%s is %i days', (duration, days) => {
    expect(normaliseGrace(grace({ duration }))).toEqual({
      appleId: 'g1',
      optIn: true,
      sandboxOptIn: false,
      duration,
      durationDays: days,
      renewalType: 'ALL_RENEWALS',
      raw: { optIn: true, sandboxOptIn: false, duration, renewalType: 'ALL_RENEWALS' },
    });
  });

  it('refuses a duration of unknown length while grace is on', () => {
    expect(() => normaliseGrace(grace({ duration: 'A_WHILE' }))).toThrow(/does not know/);
    expect(() => normaliseGrace(grace({ optIn: false, sandboxOptIn: true, duration: 'A_WHILE' }))).toThrow(
      AppStoreError,
    );
  });

  it('accepts it as 0 days while grace is off everywhere', () => {
    expect(
      normaliseGrace(grace({ optIn: false, sandboxOptIn: false, duration: 'A_WHILE' })).durationDays,
    ).toBe(0);
  });
});

describe('normaliseCatalog', () => {
  it('joins IAPs and grouped subscriptions, sorted by Apple id', () => {
    const { catalog, warnings } = normaliseCatalog({
      iaps: [iap('30', {}), iap('10', { inAppPurchaseType: 'NON_CONSUMABLE' })],
      groups: [
        { group: group('g2'), subscriptions: [sub('25'), sub('05')] },
        { group: group('g1'), subscriptions: [] },
      ],
      grace: grace({}),
    });
    expect(warnings).toEqual([]);
    expect(catalog.products.map((p) => [p.appleId, p.kind, p.groupAppleId])).toEqual([
      ['05', 'auto_renewable_subscription', 'g2'],
      ['10', 'non_consumable', null],
      ['25', 'auto_renewable_subscription', 'g2'],
      ['30', 'consumable', null],
    ]);
    expect(catalog.groups).toEqual([
      { appleId: 'g1', referenceName: 'Group g1', raw: { referenceName: 'Group g1' } },
      { appleId: 'g2', referenceName: 'Group g2', raw: { referenceName: 'Group g2' } },
    ]);
    expect(catalog.grace?.durationDays).toBe(16);
  });

  it('digests what it returns, cleaned records included, with the texts its size check made', () => {
    const { catalog, digest, warnings } = normaliseCatalog({
      iaps: [iap('30', {}), iap('10', { name: 'Gold\u0000 coins' })],
      groups: [{ group: group('g2'), subscriptions: [sub('25')] }],
      grace: grace({}),
    });
    expect(warnings).toHaveLength(1);
    expect(catalog.products.find((p) => p.appleId === '10')?.raw.name).toBe('Gold coins');
    expect(digest).toBe(catalogDigest(catalog));
  });

  it('is a normal catalog without subscriptions or grace settings', () => {
    const { catalog } = normaliseCatalog({ iaps: [iap('1', {})], groups: [], grace: null });
    expect(catalog).toMatchObject({ groups: [], grace: null });
    expect(catalog.products).toHaveLength(1);
  });

  it('keeps one copy of a resource listed twice (a shifted page)', () => {
    const { catalog } = normaliseCatalog({ iaps: [iap('1', {}), iap('1', {})], groups: [], grace: null });
    expect(catalog.products).toHaveLength(1);
  });

  it('refuses a subscription seen in two groups, as retryable', () => {
    const attempt = () =>
      normaliseCatalog({
        iaps: [],
        groups: [
          { group: group('g1'), subscriptions: [sub('s')] },
          { group: group('g2'), subscriptions: [sub('s')] },
        ],
        grace: null,
      });
    expect(attempt).toThrow(AppError);
    expect(attempt).toThrow(expect.objectContaining({ kind: 'inconsistent_catalog', retryable: true }));
  });

  it('refuses two products sharing a product id', () => {
    expect(() =>
      normaliseCatalog({
        iaps: [iap('1', { productId: 'same' }), iap('2', { productId: 'same' })],
        groups: [],
        grace: null,
      }),
    ).toThrow(/share the product id/);
  });
});
