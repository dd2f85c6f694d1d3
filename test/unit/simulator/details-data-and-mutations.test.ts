import { describe, expect, it } from 'vitest';
import {
  addDays,
  amountsFor,
  countProducts,
  generateCatalog,
  type SimCatalog,
  type SimOffer,
  TERRITORY_COUNT,
} from '../../../src/simulator/index.ts';
import { get, keyWithToken, mintToken, type Relationship, useSimulator } from './helpers.ts';

/* Generated details, detail mutations (in code and over /_simulator), the per-key budget, accounting. */

interface Resource {
  type: string;
  id: string;
  attributes?: Record<string, unknown>;
  relationships?: Record<string, Relationship>;
}
interface Doc {
  data: Resource[];
  included?: Resource[];
  links: { next?: string };
  meta: { paging: { total: number } };
}

const TODAY = new Date().toISOString().slice(0, 10);

const withoutDetails = (catalog: SimCatalog) =>
  JSON.parse(
    JSON.stringify(catalog, (key, value) =>
      key === 'details' || key === 'localizations' || key === 'versions' ? undefined : value,
    ),
  ) as SimCatalog;

describe('generated details', () => {
  const options = {
    seed: 5,
    apps: [{ iaps: 12, groups: 2, subscriptionsPerGroup: [4, 3] }],
    details: { today: '2026-03-01', scheduledShare: 0.5 },
  };

  it('are deterministic, and leave the structure exactly as without details', () => {
    const a = generateCatalog(options);
    expect(generateCatalog(options)).toEqual(a);
    expect(withoutDetails(a)).toEqual(generateCatalog({ ...options, details: false }));
  });

  it('cover every offer kind, manual and scheduled prices, localizations and availability', () => {
    const catalog = generateCatalog(options);
    const subscriptions = catalog.apps[0]!.groups.flatMap((g) => g.subscriptions);
    const offers = subscriptions.flatMap((sub) => sub.details!.offers);
    expect(new Set(offers.map((o) => o.kind))).toEqual(
      new Set(['introductory', 'promotional', 'offerCode', 'winBack']),
    );
    expect(new Set(offers.filter((o) => o.kind === 'introductory').map((o) => o.offerMode))).toEqual(
      new Set(['FREE_TRIAL', 'PAY_AS_YOU_GO', 'PAY_UP_FRONT']),
    );
    const products = [...subscriptions, ...catalog.apps[0]!.iaps];
    const scheduled = products.filter((p) =>
      p.details!.prices.some((price) => (price.startDate ?? '') > '2026-03-01'),
    );
    expect(scheduled.length).toBeGreaterThan(0);
    expect(products.some((p) => p.details!.prices.some((price) => price.territories))).toBe(true);
    for (const product of products) {
      expect(product.details!.availability!.territories).toHaveLength(TERRITORY_COUNT);
      expect(product.details!.localizations.map((l) => l.locale)).toEqual([
        'en-US',
        'de-DE',
        'fr-FR',
        'ja',
        'es-ES',
      ]);
    }
    expect(catalog.apps[0]!.iaps.some((iap) => iap.details!.offers.length > 0)).toBe(true);
    expect(catalog.apps[0]!.groups[0]!.localizations).toHaveLength(5);
  });

  it('are cheap for 20 apps × 500 products', () => {
    const started = performance.now();
    const catalog = generateCatalog({
      seed: 9,
      apps: Array.from({ length: 20 }, () => ({ iaps: 300, groups: 4, subscriptionsPerGroup: 50 })),
      details: { today: '2026-03-01' },
    });
    const ms = performance.now() - started;
    expect(countProducts(catalog)).toBe(10_000);
    expect(ms).toBeLessThan(15_000);
  });
});

describe('detail mutations', async () => {
  const catalog = generateCatalog({
    seed: 31,
    apps: [{ id: '1800000001', iaps: 3, groups: 1, subscriptionsPerGroup: 2 }],
    details: { scheduledShare: 0, manualShare: 0 },
  });
  const sim = await useSimulator({ catalog, controlToken: 'details-control' });
  const { token } = await keyWithToken(sim);
  const app = sim.catalog.apps[0]!;
  const sub = app.groups[0]!.subscriptions[0]!;
  const iap = app.iaps[0]!;
  const list = async (path: string) => (await get(sim, path, token)).body as Doc;
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${sim.baseUrl}/_simulator${path}`, {
      method,
      headers: { 'x-simulator-token': 'details-control', 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('a scheduled price change appears next to the price in force, with its amounts', async () => {
    const startDate = addDays(TODAY, 30);
    sim.mutate.schedulePrice(sub.id, { startDate, tier: 40, preserved: true });
    const doc = await list(
      `/v1/subscriptions/${sub.id}/prices?filter[territory]=GBR&include=subscriptionPricePoint`,
    );
    expect(doc.data).toHaveLength(2);
    const scheduled = doc.data.find((p) => p.attributes!['startDate'] === startDate)!;
    expect(scheduled.attributes!['preserved']).toBe(true);
    const pointId = (scheduled.relationships!['subscriptionPricePoint']!.data as { id: string }).id;
    expect(doc.included!.find((r) => r.id === pointId)!.attributes).toEqual(amountsFor(40, 'GBR'));
  });

  it('stepping the served day past a scheduled change drops the old price (tokens unaffected)', async () => {
    const startDate = addDays(TODAY, 30);
    const path = `/v1/subscriptions/${sub.id}/prices?filter[territory]=GBR`;
    const before = await list(path);
    expect(before.data.map((p) => p.attributes!['startDate'])).toContain(startDate);
    const stepped = await control('PUT', '/settings', { today: addDays(TODAY, 31) });
    expect(stepped.body['today']).toBe(addDays(TODAY, 31));
    const after = await list(path);
    expect(after.data.map((p) => p.attributes!['startDate'])).toEqual([startDate]);
    sim.setToday(null);
    expect(sim.today()).toBe(TODAY);
    expect((await list(path)).data).toHaveLength(2);
    expect(() => sim.setToday('tomorrow')).toThrow(/YYYY-MM-DD/);
  });

  it('a manual price for one territory of an IAP, over the control endpoint', async () => {
    const startDate = addDays(TODAY, 10);
    const reply = await control('POST', '/mutate', {
      op: 'schedulePrice',
      args: [iap.id, { startDate, tier: 12, territories: ['JPN'] }],
    });
    expect(reply.status).toBe(200);
    const manual = await list(`/v1/inAppPurchasePriceSchedules/${iap.id}/manualPrices?filter[territory]=JPN`);
    expect(manual.data.map((p) => p.attributes!['startDate'])).toEqual([startDate]);
    const automatic = await list(
      `/v1/inAppPurchasePriceSchedules/${iap.id}/automaticPrices?filter[territory]=JPN`,
    );
    expect(automatic.data).toHaveLength(1);
    expect(automatic.data[0]!.attributes!['endDate']).toBe(startDate);
    expect(
      (
        await control('POST', '/mutate', {
          op: 'schedulePrice',
          args: [iap.id, { startDate, tier: 1, territories: ['XXX'] }],
        })
      ).status,
    ).toBe(400);
  });

  it('offers are added and ended, each kind as Apple does', async () => {
    const added: Record<string, SimOffer> = {};
    for (const kind of ['introductory', 'promotional', 'offerCode', 'winBack'] as const) {
      added[kind] = sim.mutate.addOffer(sub.id, {
        kind,
        tier: kind === 'introductory' ? null : 3,
        territories: ['USA'],
      });
    }
    const winBacks = await list(`/v1/subscriptions/${sub.id}/winBackOffers`);
    expect(winBacks.data.map((o) => o.id)).toContain(added['winBack']!.id);
    const promoPrices = await list(`/v1/subscriptionPromotionalOffers/${added['promotional']!.id}/prices`);
    expect(promoPrices.meta.paging.total).toBe(1);

    expect(sim.mutate.endOffer(added['winBack']!.id)!.endDate).toBe(TODAY);
    expect(sim.mutate.endOffer(added['offerCode']!.id)!.active).toBe(false);
    expect(sim.mutate.endOffer(added['introductory']!.id, { endDate: addDays(TODAY, 2) })!.endDate).toBe(
      addDays(TODAY, 2),
    );
    expect(sim.mutate.endOffer(added['promotional']!.id)).toBeNull();
    const promos = await list(`/v1/subscriptions/${sub.id}/promotionalOffers`);
    expect(promos.data.map((o) => o.id)).not.toContain(added['promotional']!.id);
    expect(
      (await get(sim, `/v1/subscriptionPromotionalOffers/${added['promotional']!.id}/prices`, token)).status,
    ).toBe(404);
    const codes = await list(`/v1/subscriptions/${sub.id}/offerCodes`);
    expect(codes.data.find((o) => o.id === added['offerCode']!.id)!.attributes!['active']).toBe(false);
    expect(() => sim.mutate.addOffer(iap.id, { kind: 'winBack' })).toThrow(/offer codes only/);
  });

  it('locales are added to products and groups; a duplicate locale is refused', async () => {
    const entry = sim.mutate.addLocalization(sub.id, { locale: 'sv', name: 'Premium (sv)' });
    const doc = await list(`/v1/subscriptions/${sub.id}/subscriptionLocalizations`);
    expect(doc.data.find((l) => l.id === entry.id)!.attributes).toMatchObject({
      locale: 'sv',
      state: 'PREPARE_FOR_SUBMISSION',
    });
    sim.mutate.addLocalization(app.groups[0]!.id, { locale: 'sv' });
    const groupDoc = await list(`/v1/subscriptionGroups/${app.groups[0]!.id}/subscriptionGroupLocalizations`);
    expect(groupDoc.data.map((l) => l.attributes!['locale'])).toContain('sv');
    expect(() => sim.mutate.addLocalization(sub.id, { locale: 'sv' })).toThrow(/already has/);
    sim.mutate.updateLocalization(entry.id, { state: 'REJECTED' });
    const after = await list(`/v1/subscriptions/${sub.id}/subscriptionLocalizations`);
    expect(after.data.find((l) => l.id === entry.id)!.attributes!['state']).toBe('REJECTED');
  });

  it('availability changes what is sold and priced', async () => {
    const other = app.iaps[1]!;
    sim.mutate.setAvailability(other.id, { territories: ['USA', 'GBR'], availableInNewTerritories: false });
    const availability = (
      await get(
        sim,
        `/v2/inAppPurchases/${other.id}/inAppPurchaseAvailability?include=availableTerritories`,
        token,
      )
    ).body as { data: Resource };
    expect(availability.data.attributes).toEqual({ availableInNewTerritories: false });
    expect(
      (availability.data.relationships!['availableTerritories']!.data as { id: string }[]).map((t) => t.id),
    ).toEqual(['GBR', 'USA']);
    const automatic = await list(`/v1/inAppPurchasePriceSchedules/${other.id}/automaticPrices`);
    expect(automatic.data.map((p) => (p.relationships!['territory']!.data as { id: string }).id)).toEqual([
      'GBR',
    ]);
  });
});

describe('budget per key, shared by every app of the key; accounting per product', async () => {
  let clock = Date.now();
  const catalog = generateCatalog({
    seed: 41,
    apps: [
      { id: '1900000001', iaps: 2, groups: 1, subscriptionsPerGroup: 1 },
      { id: '1900000002', iaps: 2, groups: 1, subscriptionsPerGroup: 1 },
    ],
    details: true,
  });
  const sim = await useSimulator({ catalog, rateLimit: { perHour: 6, windowMs: 2_000 }, now: () => clock });
  const [first, second] = sim.catalog.apps.map((app) => app.groups[0]!.subscriptions[0]!);

  it('one budget across the key’s apps; another key has its own; the scaled window rolls', async () => {
    const a = await sim.createKey();
    const b = await sim.createKey();
    const tokenA = await mintToken(a, { nowMs: clock });
    const remaining: string[] = [];
    for (let i = 0; i < 6; i++) {
      const sub = i % 2 === 0 ? first! : second!;
      const reply = await get(sim, `/v1/subscriptions/${sub.id}/prices?limit=1`, tokenA);
      expect(reply.status).toBe(200);
      remaining.push(reply.headers.get('x-rate-limit')!);
    }
    expect(remaining.at(-1)).toBe('user-hour-lim:6;user-hour-rem:0;');
    const refused = await get(sim, `/v1/subscriptions/${second!.id}/winBackOffers`, tokenA);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-rate-limit')).toBe('user-hour-lim:6;user-hour-rem:0;');
    const other = await get(
      sim,
      `/v1/subscriptions/${first!.id}/prices?limit=1`,
      await mintToken(b, { nowMs: clock }),
    );
    expect(other.headers.get('x-rate-limit')).toBe('user-hour-lim:6;user-hour-rem:5;');
    expect(sim.budget(a.keyId)).toEqual({ limit: 6, remaining: 0, windowMs: 2_000 });
    expect(sim.statusCounts({ keyId: a.keyId })).toEqual({ 200: 6, 429: 1 });
    const budget = await fetch(`${sim.baseUrl}/_simulator/budget/${a.keyId}`);
    expect(await budget.json()).toEqual({ limit: 6, remaining: 0, windowMs: 2_000 });
    const statuses = await fetch(`${sim.baseUrl}/_simulator/statuses?keyId=${a.keyId}`);
    expect(await statuses.json()).toEqual({ statuses: { 200: 6, 429: 1 } });
    clock += 2_001;
    const rolled = await get(sim, `/v1/subscriptions/${second!.id}/prices?limit=1`, tokenA);
    expect(rolled.status).toBe(200);
    expect(rolled.headers.get('x-rate-limit')).toBe('user-hour-lim:6;user-hour-rem:5;');
    sim.setRateLimit({ perHour: 1000, windowMs: 3_600_000 });
    expect(sim.settings.windowMs).toBe(3_600_000);
  });

  it('counts detail requests per product and endpoint (offers and schedules count for their product)', async () => {
    sim.resetRequests();
    sim.resetRateLimits();
    const { key, token } = await keyWithToken(sim);
    clock = Date.now();
    const sub = first!;
    const iap = sim.catalog.apps[0]!.iaps[0]!;
    const promo = sub.details!.offers.find((o) => o.kind === 'promotional')!;
    await get(sim, `/v1/subscriptions/${sub.id}/prices`, token);
    await get(sim, `/v1/subscriptions/${sub.id}/prices?limit=200`, token);
    await get(sim, `/v1/subscriptionPromotionalOffers/${promo.id}/prices`, token);
    await get(sim, `/v1/inAppPurchasePriceSchedules/${iap.id}/manualPrices`, token);
    await get(sim, `/v1/subscriptionGroups/${sim.catalog.apps[0]!.groups[0]!.id}/subscriptions`, token);
    await get(sim, '/v1/territories', token);
    const expected = {
      [sub.id]: {
        'GET /v1/subscriptions/{id}/prices': 2,
        'GET /v1/subscriptionPromotionalOffers/{id}/prices': 1,
      },
      [iap.id]: { 'GET /v1/inAppPurchasePriceSchedules/{id}/manualPrices': 1 },
    };
    expect(sim.detailRequestCounts()).toEqual(expected);
    expect(sim.detailRequestCounts({ keyId: key.keyId })).toEqual(expected);
    expect(sim.requestCounts({ productId: sub.id })).toEqual(expected[sub.id]);
    expect(sim.requestCounts({ keyId: key.keyId })['GET /v1/territories']).toBe(1);
    const byProduct = await fetch(`${sim.baseUrl}/_simulator/counts?byProduct=1&keyId=${key.keyId}`);
    expect(((await byProduct.json()) as { products: unknown }).products).toEqual(expected);
    expect(sim.requests.find((r) => r.endpoint === 'GET /v1/territories')!.productId).toBeNull();
  });
});
