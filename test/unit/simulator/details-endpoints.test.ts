import { describe, expect, it } from 'vitest';
import { generateCatalog, type SimOffer, TERRITORY_COUNT } from '../../../src/simulator/index.ts';
import { detailSchemaErrors, responseSchemaOf } from './details-schemas.ts';
import { firstError, get, keyWithToken, type Relationship, useSimulator } from './helpers.ts';

/*
 * The catalog-details endpoints: Apple's documents (ajv against the 4.4.1 details excerpt),
 * strict parameters, include caps with the full count, keyset paging, sparse fieldsets,
 * visibility and roles.
 */

const catalog = generateCatalog({
  seed: 21,
  apps: [
    { id: '1700000001', iaps: 8, groups: 2, subscriptionsPerGroup: [3, 2] },
    { id: '1700000002', iaps: 1, groups: 1, subscriptionsPerGroup: 1 },
  ],
  details: {
    scheduledShare: 1,
    manualShare: 1,
    introductoryOffers: 2,
    promotionalOffers: 2,
    iapOfferCodes: 1,
  },
});
const sim = await useSimulator({ catalog });
const { token } = await keyWithToken(sim);
const app = catalog.apps[0]!;
const group = app.groups[0]!;
const subscription = group.subscriptions[0]!;
const iap = app.iaps[0]!;
const offer = (kind: SimOffer['kind'], of: { details?: { offers: SimOffer[] } } = subscription) =>
  of.details!.offers.find((candidate) => candidate.kind === kind)!;

interface Resource {
  type: string;
  id: string;
  attributes?: Record<string, unknown>;
  relationships?: Record<string, Relationship>;
}
interface Doc {
  data: Resource[];
  included?: Resource[];
  links: { self: string; next?: string };
  meta: { paging: { total: number; limit: number } };
}

const s = subscription.id;
const cases: [string, string][] = [
  ['/v1/territories', '/v1/territories?limit=200'],
  ['/v1/subscriptions/{id}', `/v1/subscriptions/${s}`],
  [
    '/v1/subscriptions/{id}',
    `/v1/subscriptions/${s}?include=prices,introductoryOffers,promotionalOffers,offerCodes,winBackOffers,subscriptionLocalizations,subscriptionAvailability,group,images`,
  ],
  [
    '/v1/subscriptions/{id}',
    `/v1/subscriptions/${s}?include=subscriptionLocalizations,introductoryOffers,promotionalOffers,offerCodes,winBackOffers,subscriptionAvailability,prices,planAvailabilities&fields[subscriptions]=subscriptionLocalizations,introductoryOffers,promotionalOffers,offerCodes,winBackOffers,subscriptionAvailability,prices,planAvailabilities&limit[prices]=1&limit[introductoryOffers]=50`,
  ],
  [
    '/v1/subscriptions/{id}/prices',
    `/v1/subscriptions/${s}/prices?include=territory,subscriptionPricePoint&limit=200`,
  ],
  [
    '/v1/subscriptions/{id}/prices',
    `/v1/subscriptions/${s}/prices?filter[territory]=USA,JPN&filter[planType]=MONTHLY`,
  ],
  [
    '/v1/subscriptions/{id}/pricePoints',
    `/v1/subscriptions/${s}/pricePoints?filter[territory]=GBR&include=territory&limit=8000`,
  ],
  [
    '/v1/subscriptions/{id}/pricePoints',
    `/v1/subscriptions/${s}/pricePoints?filter[planType]=MONTHLY&filter[territory]=USA&limit=200`,
  ],
  [
    '/v1/subscriptions/{id}/pricePoints',
    `/v1/subscriptions/${s}/pricePoints?filter[upfrontPricePointId]=x&filter[planType]=UPFRONT`,
  ],
  [
    '/v1/subscriptions/{id}',
    `/v1/subscriptions/${s}?include=appStoreReviewScreenshot,promotedPurchase,images,versions,planAvailabilities&limit[versions]=50&limit[images]=50&limit[planAvailabilities]=50`,
  ],
  [
    '/v1/subscriptionGroups/{id}/subscriptions',
    `/v1/subscriptionGroups/${group.id}/subscriptions?sort=-name&include=appStoreReviewScreenshot,versions,promotedPurchase&limit=1`,
  ],
  [
    '/v1/apps/{id}/inAppPurchasesV2',
    `/v1/apps/${app.id}/inAppPurchasesV2?sort=inAppPurchaseType,-name&include=appStoreReviewScreenshot,images,versions,promotedPurchase`,
  ],
  [
    '/v1/subscriptions/{id}/introductoryOffers',
    `/v1/subscriptions/${s}/introductoryOffers?include=subscription,territory,subscriptionPricePoint&limit=200`,
  ],
  [
    '/v1/subscriptions/{id}/promotionalOffers',
    `/v1/subscriptions/${s}/promotionalOffers?include=subscription,prices`,
  ],
  [
    '/v1/subscriptions/{id}/offerCodes',
    `/v1/subscriptions/${s}/offerCodes?include=subscription,prices,oneTimeUseCodes,customCodes&limit[prices]=50`,
  ],
  [
    '/v1/subscriptions/{id}/winBackOffers',
    `/v1/subscriptions/${s}/winBackOffers?include=prices&limit[prices]=3`,
  ],
  [
    '/v1/subscriptions/{id}/subscriptionLocalizations',
    `/v1/subscriptions/${s}/subscriptionLocalizations?include=subscription`,
  ],
  [
    '/v1/subscriptions/{id}/subscriptionAvailability',
    `/v1/subscriptions/${s}/subscriptionAvailability?include=availableTerritories&limit[availableTerritories]=50`,
  ],
  [
    '/v1/subscriptionAvailabilities/{id}/availableTerritories',
    `/v1/subscriptionAvailabilities/${s}/availableTerritories?limit=200`,
  ],
  [
    '/v1/subscriptionGroups/{id}/subscriptionGroupLocalizations',
    `/v1/subscriptionGroups/${group.id}/subscriptionGroupLocalizations?include=subscriptionGroup`,
  ],
  [
    '/v1/subscriptionPromotionalOffers/{id}/prices',
    `/v1/subscriptionPromotionalOffers/${offer('promotional').id}/prices?include=territory,subscriptionPricePoint`,
  ],
  [
    '/v1/winBackOffers/{id}/prices',
    `/v1/winBackOffers/${offer('winBack').id}/prices?include=territory,subscriptionPricePoint`,
  ],
  [
    '/v1/subscriptionOfferCodes/{id}/prices',
    `/v1/subscriptionOfferCodes/${offer('offerCode').id}/prices?include=territory,subscriptionPricePoint&filter[territory]=FRA`,
  ],
  ['/v2/inAppPurchases/{id}', `/v2/inAppPurchases/${iap.id}`],
  [
    '/v2/inAppPurchases/{id}',
    `/v2/inAppPurchases/${iap.id}?include=appStoreReviewScreenshot,promotedPurchase,images,versions&limit[versions]=50`,
  ],
  [
    '/v2/inAppPurchases/{id}',
    `/v2/inAppPurchases/${iap.id}?include=inAppPurchaseLocalizations,iapPriceSchedule,inAppPurchaseAvailability,offerCodes,pricePoints,content&limit[pricePoints]=10`,
  ],
  [
    '/v2/inAppPurchases/{id}/inAppPurchaseLocalizations',
    `/v2/inAppPurchases/${iap.id}/inAppPurchaseLocalizations?include=inAppPurchaseV2`,
  ],
  [
    '/v2/inAppPurchases/{id}/inAppPurchaseAvailability',
    `/v2/inAppPurchases/${iap.id}/inAppPurchaseAvailability?include=availableTerritories`,
  ],
  [
    '/v1/inAppPurchaseAvailabilities/{id}/availableTerritories',
    `/v1/inAppPurchaseAvailabilities/${iap.id}/availableTerritories`,
  ],
  [
    '/v2/inAppPurchases/{id}/iapPriceSchedule',
    `/v2/inAppPurchases/${iap.id}/iapPriceSchedule?include=baseTerritory,manualPrices,automaticPrices&limit[manualPrices]=50&limit[automaticPrices]=50`,
  ],
  [
    '/v1/inAppPurchasePriceSchedules/{id}/manualPrices',
    `/v1/inAppPurchasePriceSchedules/${iap.id}/manualPrices?include=inAppPurchasePricePoint,territory`,
  ],
  [
    '/v1/inAppPurchasePriceSchedules/{id}/automaticPrices',
    `/v1/inAppPurchasePriceSchedules/${iap.id}/automaticPrices?include=inAppPurchasePricePoint,territory&limit=200`,
  ],
  [
    '/v1/inAppPurchasePriceSchedules/{id}/baseTerritory',
    `/v1/inAppPurchasePriceSchedules/${iap.id}/baseTerritory`,
  ],
  [
    '/v2/inAppPurchases/{id}/pricePoints',
    `/v2/inAppPurchases/${iap.id}/pricePoints?include=territory&limit=300`,
  ],
  [
    '/v2/inAppPurchases/{id}/offerCodes',
    `/v2/inAppPurchases/${iap.id}/offerCodes?include=prices,oneTimeUseCodes,customCodes`,
  ],
  [
    '/v1/inAppPurchaseOfferCodes/{id}/prices',
    `/v1/inAppPurchaseOfferCodes/${offer('offerCode', iap).id}/prices?include=territory,pricePoint`,
  ],
  [
    '/v1/subscriptionGroups/{id}/subscriptions',
    `/v1/subscriptionGroups/${group.id}/subscriptions?include=prices,introductoryOffers,promotionalOffers,offerCodes,winBackOffers,subscriptionLocalizations,subscriptionAvailability,group`,
  ],
  [
    '/v1/apps/{id}/inAppPurchasesV2',
    `/v1/apps/${app.id}/inAppPurchasesV2?include=inAppPurchaseLocalizations,iapPriceSchedule,inAppPurchaseAvailability,offerCodes&limit=200`,
  ],
];

describe('documents validate against Apple’s 4.4.1 schemas', () => {
  it.each(cases)('GET %s (%s)', async (template, path) => {
    const reply = await get(sim, path, token);
    expect(reply.status, reply.text).toBe(200);
    expect(reply.headers.get('x-rate-limit')).toMatch(/^user-hour-lim:\d+;user-hour-rem:\d+;$/);
    expect(detailSchemaErrors(responseSchemaOf(template), reply.body)).toEqual([]);
  });
});

describe('contents', () => {
  it('175 territories with ISO codes and currencies, paged', async () => {
    const first = (await get(sim, '/v1/territories?limit=200', token)).body as Doc;
    expect(first.data).toHaveLength(TERRITORY_COUNT);
    expect(TERRITORY_COUNT).toBe(175);
    const currency = Object.fromEntries(first.data.map((t) => [t.id, t.attributes!['currency']]));
    expect(currency).toMatchObject({
      USA: 'USD',
      GBR: 'GBP',
      DEU: 'EUR',
      FRA: 'EUR',
      JPN: 'JPY',
      CHE: 'CHF',
    });
    for (const t of first.data) expect(t.id).toMatch(/^[A-Z]{3}$/);
    const ids: string[] = [];
    let next: string | undefined = '/v1/territories?limit=60';
    while (next) {
      const page = (await get(sim, next, token)).body as Doc;
      ids.push(...page.data.map((t) => t.id));
      next = page.links.next;
    }
    expect(ids).toEqual(first.data.map((t) => t.id));
  });

  it('subscription prices: one record per territory and start date, with price points when included', async () => {
    const doc = (
      await get(
        sim,
        `/v1/subscriptions/${s}/prices?filter[territory]=JPN&include=subscriptionPricePoint`,
        token,
      )
    ).body as Doc;
    // scheduledShare 1: the price in force and the scheduled one.
    expect(doc.data).toHaveLength(2);
    const dates = doc.data.map((p) => p.attributes!['startDate'] as string).sort();
    expect(dates[1]! > new Date().toISOString().slice(0, 10)).toBe(true);
    for (const price of doc.data) {
      expect(price.relationships!['territory']!.data).toEqual({ type: 'territories', id: 'JPN' });
      const point = price.relationships!['subscriptionPricePoint']!.data as { id: string };
      const included = doc.included!.find((r) => r.id === point.id)!;
      expect(included.attributes).toEqual({
        customerPrice: expect.stringMatching(/^\d+$/), // yen: no decimals
        proceeds: expect.stringMatching(/^\d+$/),
        proceedsYear2: expect.stringMatching(/^\d+$/),
      });
    }
  });

  it('paging walks every price exactly once; the total is the full count', async () => {
    const seen = new Set<string>();
    let next: string | undefined = `/v1/subscriptions/${s}/prices?limit=200`;
    let total = 0;
    while (next) {
      const page = (await get(sim, next, token)).body as Doc;
      total = page.meta.paging.total;
      for (const price of page.data) {
        expect(seen.has(price.id)).toBe(false);
        seen.add(price.id);
      }
      next = page.links.next;
    }
    expect(seen.size).toBe(total);
    expect(total).toBeGreaterThanOrEqual(2 * TERRITORY_COUNT);
  });

  it('includes on the subscriptions listing are capped at 50 (or limit[…]) with the full total', async () => {
    const doc = (
      await get(
        sim,
        `/v1/subscriptionGroups/${group.id}/subscriptions?include=prices,introductoryOffers,subscriptionLocalizations&limit[introductoryOffers]=7`,
        token,
      )
    ).body as Doc;
    for (const item of doc.data) {
      const prices = item.relationships!['prices']!;
      expect((prices.data as unknown[]).length).toBe(50);
      expect(prices.meta!.paging).toEqual({ total: expect.any(Number), limit: 50 });
      expect(prices.meta!.paging.total).toBeGreaterThan(TERRITORY_COUNT);
      const intro = item.relationships!['introductoryOffers']!;
      expect((intro.data as unknown[]).length).toBe(7);
      expect(intro.meta!.paging.total).toBe(2 * TERRITORY_COUNT); // two offers, one record per territory
      expect(item.relationships!['subscriptionLocalizations']!.meta!.paging.total).toBe(5);
    }
    const types = new Set(doc.included!.map((r) => r.type));
    expect(types).toEqual(
      new Set(['subscriptionPrices', 'subscriptionIntroductoryOffers', 'subscriptionLocalizations']),
    );
  });

  it('IAP schedule: manual prices in the base territory, automatic elsewhere, end dates chained', async () => {
    const manual = (await get(sim, `/v1/inAppPurchasePriceSchedules/${iap.id}/manualPrices?limit=200`, token))
      .body as Doc;
    const automatic = (
      await get(sim, `/v1/inAppPurchasePriceSchedules/${iap.id}/automaticPrices?filter[territory]=AGO`, token)
    ).body as Doc;
    expect(manual.data.every((p) => p.attributes!['manual'] === true)).toBe(true);
    const manualTerritories = new Set(
      manual.data.map((p) => (p.relationships!['territory']!.data as { id: string }).id),
    );
    expect(manualTerritories.has('USA')).toBe(true);
    expect(manualTerritories.size).toBeGreaterThan(1); // manualShare 1: a few territories have their own price
    expect(automatic.data.every((p) => p.attributes!['manual'] === false)).toBe(true);
    const [current, scheduled] = [...automatic.data].sort((a, b) =>
      String(a.attributes!['startDate'] ?? '') < String(b.attributes!['startDate'] ?? '') ? -1 : 1,
    );
    expect(current!.attributes!['endDate']).toBe(scheduled!.attributes!['startDate']);
    expect(scheduled!.attributes!['endDate']).toBeUndefined();
  });

  it('introductory offers are per territory; a free trial has no price point', async () => {
    const doc = (await get(sim, `/v1/subscriptions/${s}/introductoryOffers?filter[territory]=USA`, token))
      .body as Doc;
    expect(doc.data).toHaveLength(2);
    for (const record of doc.data) {
      const free = record.attributes!['offerMode'] === 'FREE_TRIAL';
      expect('subscriptionPricePoint' in record.relationships!).toBe(!free);
    }
  });

  it('one product request carries every include, capped, with totals (the details worker’s first request)', async () => {
    const names =
      'subscriptionLocalizations,introductoryOffers,promotionalOffers,offerCodes,winBackOffers,subscriptionAvailability,prices,planAvailabilities';
    const reply = await get(
      sim,
      `/v1/subscriptions/${s}?include=${names}&fields[subscriptions]=${names}&limit[prices]=1`,
      token,
    );
    const doc = reply.body as { data: Resource; included: Resource[] };
    expect(doc.data.attributes).toBeUndefined();
    const rel = doc.data.relationships!;
    expect(rel['prices']!.meta!.paging.total).toBeGreaterThanOrEqual(2 * TERRITORY_COUNT);
    expect(rel['prices']!.data).toHaveLength(1);
    expect(rel['promotionalOffers']!.meta!.paging.total).toBe(2);
    expect(rel['planAvailabilities']).toMatchObject({
      data: [{ type: 'subscriptionPlanAvailabilities', id: `${s}-monthly` }],
      meta: { paging: { total: 1 } },
    });
    expect(rel['subscriptionAvailability']!.data).toEqual({ type: 'subscriptionAvailabilities', id: s });
    const availability = doc.included.find((r) => r.type === 'subscriptionAvailabilities')!;
    expect(availability.attributes).toHaveProperty('availableInNewTerritories');
  });

  it('sparse fieldsets select attributes and relationships', async () => {
    const doc = (
      await get(
        sim,
        `/v1/subscriptions/${s}/prices?fields[subscriptionPrices]=startDate,territory&limit=1`,
        token,
      )
    ).body as Doc;
    expect(Object.keys(doc.data[0]!.attributes ?? {})).toEqual(
      doc.data[0]!.attributes?.['startDate'] === undefined ? [] : ['startDate'],
    );
    expect(Object.keys(doc.data[0]!.relationships!)).toEqual(['territory']);
  });
});

describe('strict parameters and errors', () => {
  it.each([
    [`/v1/subscriptions/${s}/prices?limit=201`, 'PARAMETER_ERROR.INVALID', 'limit'],
    [`/v1/subscriptions/${s}/pricePoints?limit=8001`, 'PARAMETER_ERROR.INVALID', 'limit'],
    [`/v1/subscriptions/${s}/promotionalOffers?limit[prices]=51`, 'PARAMETER_ERROR.INVALID', 'limit[prices]'],
    [
      `/v1/subscriptions/${s}/prices?include=prices.subscriptionPricePoint`,
      'PARAMETER_ERROR.INVALID',
      'include',
    ],
    [`/v1/subscriptions/${s}/prices?filter[planType]=YEARLY`, 'PARAMETER_ERROR.INVALID', 'filter[planType]'],
    [`/v1/subscriptions/${s}/prices?sort=startDate`, 'PARAMETER_ERROR.ILLEGAL', 'sort'],
    [
      `/v1/subscriptions/${s}/winBackOffers?filter[territory]=USA`,
      'PARAMETER_ERROR.ILLEGAL',
      'filter[territory]',
    ],
    [`/v1/territories?include=currency`, 'PARAMETER_ERROR.ILLEGAL', 'include'],
    [`/v2/inAppPurchases/${iap.id}/iapPriceSchedule?limit=5`, 'PARAMETER_ERROR.ILLEGAL', 'limit'],
    [
      `/v1/subscriptionGroups/${group.id}/subscriptions?limit[prices]=51`,
      'PARAMETER_ERROR.INVALID',
      'limit[prices]',
    ],
  ])('GET %s → 400 %s', async (path, code, parameter) => {
    const reply = await get(sim, path, token);
    expect(reply.status, reply.text).toBe(400);
    expect(firstError(reply)).toMatchObject({ code, source: { parameter } });
    expect(detailSchemaErrors('ErrorResponse', reply.body)).toEqual([]);
  });

  it('404 for unknown ids, wrong kinds, products without details and apps the key cannot see', async () => {
    const bare = await useSimulator({
      catalog: generateCatalog({ seed: 2, apps: [{ iaps: 1, groups: 1, subscriptionsPerGroup: 1 }] }),
    });
    const bareToken = (await keyWithToken(bare)).token;
    const bareApp = bare.catalog.apps[0]!;
    const hidden = await keyWithToken(sim, { appIds: [catalog.apps[1]!.id] });
    const statuses = [
      (await get(sim, '/v1/subscriptions/999/prices', token)).status,
      (await get(sim, `/v1/subscriptions/${iap.id}/prices`, token)).status,
      (await get(sim, `/v1/winBackOffers/${offer('promotional').id}/prices`, token)).status,
      (await get(sim, `/v1/subscriptions/${s}/prices`, hidden.token)).status,
      (await get(bare, `/v2/inAppPurchases/${bareApp.iaps[0]!.id}/iapPriceSchedule`, bareToken)).status,
      (
        await get(
          bare,
          `/v1/subscriptions/${bareApp.groups[0]!.subscriptions[0]!.id}/subscriptionAvailability`,
          bareToken,
        )
      ).status,
    ];
    expect(statuses).toEqual([404, 404, 404, 404, 404, 404]);
    const empty = (
      await get(bare, `/v1/subscriptions/${bareApp.groups[0]!.subscriptions[0]!.id}/prices`, bareToken)
    ).body as Doc;
    expect(empty.meta.paging.total).toBe(0);
  });

  it('roles without catalog access may read territories but not details', async () => {
    const sales = await keyWithToken(sim, { role: 'SALES' });
    expect((await get(sim, '/v1/territories', sales.token)).status).toBe(200);
    expect((await get(sim, `/v1/subscriptions/${s}/prices`, sales.token)).status).toBe(403);
  });
});

describe('the validator itself', () => {
  it('rejects documents that break Apple’s schemas', async () => {
    const reply = await get(sim, `/v1/subscriptions/${s}/prices?limit=1`, token);
    const broken = structuredClone(reply.body) as Doc;
    broken.data[0]!.attributes!['preserved'] = 'yes';
    expect(detailSchemaErrors('SubscriptionPricesResponse', broken)).not.toEqual([]);
    const wrongType = structuredClone(reply.body) as Doc;
    wrongType.data[0]!.type = 'inAppPurchasePrices';
    expect(detailSchemaErrors('SubscriptionPricesResponse', wrongType)).not.toEqual([]);
    expect(detailSchemaErrors('SubscriptionPricesResponse', { data: [] })).not.toEqual([]);
  });
});
