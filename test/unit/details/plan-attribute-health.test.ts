import { describe, expect, it } from 'vitest';
import { offersInForceAt, priceInForceAt } from '../../../src/details/attribute.ts';
import { detailsHeadroom, keyLabel } from '../../../src/details/budget.ts';
import { catalogHealthIssues } from '../../../src/details/health.ts';
import { type DetailShape, detailRequestLowerBound } from '../../../src/details/plan.ts';
import { refreshOrder } from '../../../src/details/refresh.ts';
import { untilNextSyncMs } from '../../../src/queue/schedules.ts';

const shape = (patch: Partial<DetailShape>): DetailShape => ({
  kind: 'subscription',
  priceRecords: 0,
  automaticPrices: 0,
  hasPriceSchedule: false,
  introductoryRecords: 0,
  introductoryPaid: false,
  promotionalOffers: 0,
  offerCodes: 0,
  winBackOffers: 0,
  offerTerritories: [],
  locales: 0,
  availabilityTerritories: null,
  ...patch,
});

describe('detailRequestLowerBound', () => {
  it('is one request for a product without details', () => {
    expect(detailRequestLowerBound(shape({}))).toBe(1);
    expect(detailRequestLowerBound(shape({ kind: 'iap' }))).toBe(1);
  });
  it('counts pages of prices, paid introductory records, each offer, overflowing locales and availability', () => {
    // 175 territories + 44 scheduled = 219 records: 2 pages; paid intro over 175: 1; 3 offers: 3;
    // 60 locales: 1; availability of 175: 1.
    const full = shape({
      priceRecords: 219,
      introductoryRecords: 175,
      introductoryPaid: true,
      promotionalOffers: 1,
      offerCodes: 1,
      winBackOffers: 1,
      offerTerritories: [175, 175, 10],
      locales: 60,
      availabilityTerritories: 175,
    });
    expect(detailRequestLowerBound(full)).toBe(1 + 2 + 1 + 3 + 1 + 1);
    // A free trial of ≤ 50 records rides on the product request.
    expect(detailRequestLowerBound(shape({ introductoryRecords: 10 }))).toBe(1);
    expect(detailRequestLowerBound(shape({ introductoryRecords: 51 }))).toBe(2);
  });
  it('reads an IAP schedule as its manual and automatic listings', () => {
    expect(
      detailRequestLowerBound(
        shape({
          kind: 'iap',
          hasPriceSchedule: true,
          priceRecords: 2,
          automaticPrices: 173,
          availabilityTerritories: 175,
        }),
      ),
    ).toBe(1 + 1 + 1 + 1);
  });
});

const version = (startDate: string | null, removedAt: Date | null = null) => ({
  territory: 'USA',
  startDate,
  endDate: null,
  removedAt,
});

describe('priceInForceAt', () => {
  const versions = [
    version(null),
    version('2026-07-01'),
    version('2026-09-01', new Date('2026-06-15T00:00:00Z')),
  ];
  it('answers on either side of a change; a cancelled change never is in force', () => {
    expect(priceInForceAt(versions, new Date('2026-06-30T23:59:59Z'))?.version.startDate).toBe(null);
    expect(priceInForceAt(versions, new Date('2026-07-01T00:00:00Z'))?.version.startDate).toBe('2026-07-01');
    expect(priceInForceAt(versions, new Date('2026-10-01T00:00:00Z'))?.version.startDate).toBe('2026-07-01');
    expect(priceInForceAt(versions, new Date('2026-06-01T00:00:00Z'))?.until).toBe('2026-07-01');
  });
  it('ends a price removed after it started at its removal', () => {
    const ended = [version(null, new Date('2026-05-01T10:00:00Z'))];
    expect(priceInForceAt(ended, new Date('2026-04-30T00:00:00Z'))).not.toBeNull();
    expect(priceInForceAt(ended, new Date('2026-05-02T00:00:00Z'))).toBeNull();
  });
});

describe('offersInForceAt', () => {
  const base = { active: null, removedAt: null, firstSeenAt: new Date(0), territories: ['USA'] };
  it('keeps offers within their dates, in the territory, introductory first', () => {
    const offers = [
      { ...base, appleId: 'p', kind: 'promotional', territory: null, startDate: null, endDate: null },
      {
        ...base,
        appleId: 'i',
        kind: 'introductory',
        territory: 'USA',
        startDate: '2026-01-01',
        endDate: '2026-02-01',
      },
      { ...base, appleId: 'j', kind: 'introductory', territory: 'FRA', startDate: null, endDate: null },
      {
        ...base,
        appleId: 'c',
        kind: 'offer_code',
        territory: null,
        startDate: null,
        endDate: null,
        active: false,
      },
    ];
    expect(offersInForceAt(offers, 'USA', new Date('2026-01-15T00:00:00Z')).map((o) => o.appleId)).toEqual([
      'i',
      'p',
    ]);
    expect(offersInForceAt(offers, 'USA', new Date('2026-02-01T00:00:00Z')).map((o) => o.appleId)).toEqual([
      'p',
    ]);
  });
});

describe('detailsHeadroom', () => {
  it("is what Apple says the key has left beyond the structure's reserve", () => {
    // lim 3600, share 0.5: reserve 1800. Apple: 2000 left → details may spend 200.
    expect(detailsHeadroom({ appleRemaining: 2000, appleLimit: 3600, share: 0.5 })).toBe(200);
    // The reserve is rounded up: never less than lim × (1 − share) for the structure.
    expect(detailsHeadroom({ appleRemaining: 1000, appleLimit: 1001, share: 0.5 })).toBe(499);
    // Apple already below the reserve (the structure spent more): nothing, never negative.
    expect(detailsHeadroom({ appleRemaining: 1000, appleLimit: 3600, share: 0.5 })).toBe(0);
    // Apple's own limit wins over the configured one when it says otherwise.
    expect(detailsHeadroom({ appleRemaining: 3000, appleLimit: 3000, share: 1 })).toBe(3000);
  });
  it('labels keys by a hash, never the id', () => {
    expect(keyLabel('2X9R4HXF34')).toMatch(/^[0-9a-f]{8}$/);
    expect(keyLabel('2X9R4HXF34')).not.toContain('2X9R');
  });
});

describe('refreshOrder', () => {
  it('reads new products first, then changed ones, then the stalest past the maximum age', () => {
    const now = new Date('2026-06-01T12:00:00Z');
    const h = (n: number) => new Date(now.getTime() - n * 3_600_000);
    const order = refreshOrder(
      [
        { appleId: 'fresh', kind: 'consumable', updatedAt: h(50), detailsReadAt: h(1), detailsRequests: 3 },
        {
          appleId: 'stale-30',
          kind: 'consumable',
          updatedAt: h(50),
          detailsReadAt: h(30),
          detailsRequests: 3,
        },
        {
          appleId: 'stale-40',
          kind: 'consumable',
          updatedAt: h(50),
          detailsReadAt: h(40),
          detailsRequests: 3,
        },
        { appleId: 'changed', kind: 'consumable', updatedAt: h(1), detailsReadAt: h(2), detailsRequests: 3 },
        { appleId: 'new', kind: 'consumable', updatedAt: h(1), detailsReadAt: null, detailsRequests: null },
      ],
      now,
      24 * 3_600_000,
    );
    expect(order.map((p) => [p.appleId, p.reason])).toEqual([
      ['new', 'new'],
      ['changed', 'changed'],
      ['stale-40', 'stale'],
      ['stale-30', 'stale'],
    ]);
  });
});

describe('catalogHealthIssues', () => {
  it('lists bad states, unpriced territories, ended offers still listed, missing locales and stale details', () => {
    const now = new Date('2026-06-01T12:00:00Z');
    const read = new Date('2026-06-01T11:00:00Z');
    const issues = catalogHealthIssues({
      now,
      maxAgeMs: 86_400_000,
      products: [
        {
          appleId: 's1',
          productId: 'sub.one',
          kind: 'auto_renewable_subscription',
          state: 'REJECTED',
          detailsReadAt: read,
        },
        {
          appleId: 's2',
          productId: 'sub.two',
          kind: 'auto_renewable_subscription',
          state: 'APPROVED',
          detailsReadAt: read,
        },
        { appleId: 'i1', productId: 'iap.one', kind: 'consumable', state: 'APPROVED', detailsReadAt: null },
      ],
      prices: new Map([
        ['s1', [{ territory: 'USA', startDate: null, endDate: null, removedAt: null }]],
        ['s2', [{ territory: 'USA', startDate: null, endDate: null, removedAt: null }]],
      ]),
      availability: new Map([
        ['s1', ['USA']],
        ['s2', ['FRA', 'USA']],
      ]),
      locales: new Map([
        ['s1', ['en-US', 'de-DE']],
        ['s2', ['en-US']],
      ]),
      offers: [
        {
          appleId: 'o1',
          productAppleId: 's2',
          kind: 'win_back',
          territory: null,
          endDate: '2026-05-01',
          active: null,
        },
      ],
    });
    expect(issues.map((i) => [i.kind, i.productId, i.items])).toEqual([
      ['product_state', 'sub.one', ['REJECTED']],
      ['unpriced_territories', 'sub.two', ['FRA']],
      ['ended_offer_listed', 'sub.two', ['o1']],
      ['missing_locales', 'sub.two', ['de-DE']],
      ['stale_details', 'iap.one', []],
    ]);
  });
});

describe('refreshOrder reads ahead of the next scheduled sync', () => {
  const now = new Date('2026-06-01T12:00:00Z');
  const h = (n: number) => new Date(now.getTime() - n * 3_600_000);
  const product = (appleId: string, readHoursAgo: number) => ({
    appleId,
    kind: 'consumable',
    updatedAt: h(50),
    detailsReadAt: h(readHoursAgo),
    detailsRequests: 3,
  });
  const day = 24 * 3_600_000;

  it('takes a product that would pass the maximum age before the next sync, and no younger one', () => {
    const candidates = [product('20h', 20), product('17h', 17), product('19h', 19)];
    // A sync every 6 h: a product read 19 h ago would be 25 h old at the next one.
    expect(refreshOrder(candidates, now, day, 6 * 3_600_000).map((p) => p.appleId)).toEqual(['20h', '19h']);
    // Without a schedule nothing is read ahead.
    expect(refreshOrder(candidates, now, day)).toEqual([]);
  });

  it('reads every product at each sync when the schedule is longer than the maximum age', () => {
    const candidates = [product('1h', 1), product('2h', 2)];
    expect(refreshOrder(candidates, now, day, 48 * 3_600_000)).toHaveLength(2);
  });
});

describe('untilNextSyncMs', () => {
  const now = new Date('2026-06-01T12:10:00Z');
  it('is the interval of an `every` schedule, the next occurrence of a cron, null without one', () => {
    expect(untilNextSyncMs({ scheduleEverySeconds: 21_600, scheduleCron: null }, now)).toBe(21_600_000);
    expect(untilNextSyncMs({ scheduleEverySeconds: null, scheduleCron: '0 * * * *' }, now)).toBe(50 * 60_000);
    expect(untilNextSyncMs({ scheduleEverySeconds: null, scheduleCron: null }, now)).toBeNull();
  });
});

describe('catalog health names why a product is MISSING_METADATA', () => {
  const now = new Date('2026-06-01T12:00:00Z');
  const read = new Date('2026-06-01T11:00:00Z');
  const price = (territory: string) => ({ territory, startDate: null, endDate: null, removedAt: null });
  const missing = (appleId: string, kind = 'auto_renewable_subscription') => ({
    appleId,
    productId: `p.${appleId}`,
    kind,
    state: 'MISSING_METADATA',
    detailsReadAt: read,
  });
  const complete = { locales: ['en-US'], prices: [price('USA')], availability: ['USA'] };
  const shots = (state = 'COMPLETE') => [{ kind: 'review_screenshot', state }];

  const reasons = (overrides: {
    locales?: string[];
    prices?: ReturnType<typeof price>[];
    availability?: string[] | null;
    metadata?: Array<{ kind: string; state: string | null }>;
    group?: Array<{ kind: string; state: string | null }>;
    kind?: string;
    read?: boolean;
  }) => {
    const o = {
      ...complete,
      metadata: shots(),
      group: [{ kind: 'group_localization', state: null }],
      ...overrides,
    };
    const issues = catalogHealthIssues({
      now,
      maxAgeMs: 86_400_000,
      products: [missing('x', o.kind)],
      prices: new Map([['x', o.prices]]),
      availability: o.availability ? new Map([['x', o.availability]]) : new Map(),
      locales: new Map([['x', o.locales]]),
      offers: [],
      metadata: new Map([
        ['x', o.metadata],
        ['g', o.group],
      ]),
      groups: new Map([['x', 'g']]),
      metadataRead: o.read === false ? new Set() : new Set(['x', 'g']),
    });
    return issues
      .filter((i) => i.kind === 'missing_metadata')
      .map((i) => ({ reason: i.reason, items: i.items, fix: i.fix }));
  };

  const cases: Array<[string, Parameters<typeof reasons>[0], string]> = [
    ['no_localization', { locales: [] }, 'Add Localization; enter a Display Name and Description'],
    ['no_group_localization', { group: [] }, 'Subscription Group Display Name'],
    ['no_review_screenshot', { metadata: [] }, 'under Review Information upload a Screenshot'],
    [
      'review_screenshot_incomplete',
      { metadata: shots('FAILED') },
      'delete the Screenshot and upload it again',
    ],
    ['no_price', { prices: [] }, 'under Subscription Prices click Add Subscription Price'],
    ['no_availability', { availability: null }, 'under Availability click Set Up Availability'],
    ['unpriced_territories', { availability: ['FRA', 'USA'] }, 'View all Subscription Pricing'],
  ];
  it.each(cases)('%s', (reason, overrides, words) => {
    const found = reasons(overrides);
    expect(found.map((r) => r.reason)).toEqual([reason]);
    expect(found[0]!.fix).toContain(words);
  });

  it('IAPs get the in-app purchase wording; several reasons are each named', () => {
    const found = reasons({ kind: 'consumable', prices: [], metadata: [], group: [] });
    expect(found.map((r) => r.reason)).toEqual(['no_group_localization', 'no_review_screenshot', 'no_price']);
    expect(found[2]!.fix).toContain('under Price Schedule click Add Pricing');
  });

  it('with nothing missing in what was read, the reason is unknown; unread metadata names nothing from it', () => {
    expect(reasons({}).map((r) => r.reason)).toEqual(['unknown']);
    expect(reasons({ metadata: [], group: [], read: false }).map((r) => r.reason)).toEqual(['unknown']);
  });

  it('a product of any kind available where it has no price cannot be bought there', () => {
    const issues = catalogHealthIssues({
      now,
      maxAgeMs: 86_400_000,
      products: [{ ...missing('i'), kind: 'non_consumable', state: 'APPROVED' }],
      prices: new Map([['i', [price('USA')]]]),
      availability: new Map([['i', ['JPN', 'USA']]]),
      locales: new Map([['i', ['en-US']]]),
      offers: [],
    });
    expect(issues.map((i) => [i.kind, i.reason, i.items])).toEqual([
      ['unpriced_territories', 'unpriced_territories', ['JPN']],
    ]);
    expect(issues[0]!.message).toContain('cannot be bought there');
    expect(issues[0]!.fix).toContain('under Price Schedule click Edit');
  });
});

describe('refreshOrder: scheduled prices and recent changes', () => {
  const now = new Date('2026-06-10T12:00:00Z');
  const h = (n: number) => new Date(now.getTime() - n * 3_600_000);
  const product = (appleId: string, readHoursAgo: number, extra: object = {}) => ({
    appleId,
    kind: 'consumable',
    updatedAt: h(500),
    detailsReadAt: h(readHoursAgo),
    detailsRequests: 4,
    ...extra,
  });
  const DAY = 86_400_000;

  it('re-reads a product once its scheduled price takes effect, before the stale ones', () => {
    const order = refreshOrder(
      [
        product('stale', 30),
        product('price-today', 2, { nextChangeOn: '2026-06-10' }),
        product('price-later', 2, { nextChangeOn: '2026-06-11' }),
      ],
      now,
      DAY,
    );
    expect(order.map((p) => [p.appleId, p.reason])).toEqual([
      ['price-today', 'scheduled'],
      ['stale', 'stale'],
    ]);
  });

  it('re-reads recently changed products at a quarter of the maximum age, long-unchanged ones at the maximum', () => {
    const order = refreshOrder(
      [
        product('changed-yesterday', 7, { changedAt: h(24) }),
        product('changed-months-ago', 7, { changedAt: h(24 * 90) }),
        product('never-changed', 7),
        product('changed-yesterday-fresh', 5, { changedAt: h(24) }),
      ],
      now,
      DAY,
    );
    expect(order.map((p) => [p.appleId, p.reason])).toEqual([['changed-yesterday', 'recent']]);
  });
});
