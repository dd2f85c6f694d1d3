import { describe, expect, it } from 'vitest';
import { generateCatalog } from '../../../src/simulator/index.ts';
import { detailSchemaErrors, responseSchemaOf } from './details-schemas.ts';
import { firstError, get, keyWithToken, type Relationship, useSimulator } from './helpers.ts';

/*
 * Apple's 4.x metadata in the simulator: the review screenshot, images, promoted purchase,
 * versions and plan availabilities as includes of the product, the group's localizations and
 * versions, `sort` on the two product listings (with paging that follows the order), the plan
 * filters on price points, and the mutations that change each.
 */

const catalog = generateCatalog({
  seed: 31,
  apps: [{ id: '1800000001', iaps: 7, groups: 1, subscriptionsPerGroup: 6 }],
  details: { territories: 3 },
});
const sim = await useSimulator({ catalog });
const { token } = await keyWithToken(sim);
const app = catalog.apps[0]!;
const group = app.groups[0]!;
const subscription = group.subscriptions[1]!;
const iap = app.iaps[0]!;

interface Resource {
  type: string;
  id: string;
  attributes?: Record<string, unknown>;
  relationships?: Record<string, Relationship>;
}
interface Doc<T> {
  data: T;
  included?: Resource[];
  links: { self: string; next?: string };
  meta?: { paging: { total: number } };
}

const METADATA = 'appStoreReviewScreenshot,promotedPurchase,images,versions,planAvailabilities';

async function subscriptionDoc(id = subscription.id) {
  const reply = await get(sim, `/v1/subscriptions/${id}?include=${METADATA}`, token);
  expect(reply.status, reply.text).toBe(200);
  expect(detailSchemaErrors(responseSchemaOf('/v1/subscriptions/{id}'), reply.body)).toEqual([]);
  return reply.body as Doc<Resource>;
}

describe('metadata includes', () => {
  it('a subscription request includes its screenshot, versions and plan availability at no extra cost', async () => {
    const doc = await subscriptionDoc();
    const rel = doc.data.relationships!;
    expect(rel['appStoreReviewScreenshot']!.data).toEqual({
      type: 'subscriptionAppStoreReviewScreenshots',
      id: `${subscription.id}-review-screenshot`,
    });
    expect(rel['versions']!.meta!.paging.total).toBe(1);
    expect(rel['planAvailabilities']!.data).toEqual([
      { type: 'subscriptionPlanAvailabilities', id: `${subscription.id}-monthly` },
    ]);
    const version = doc.included!.find((r) => r.type === 'subscriptionVersions')!;
    expect(version.attributes).toMatchObject({ version: 1 });
    const plan = doc.included!.find((r) => r.type === 'subscriptionPlanAvailabilities')!;
    expect(plan.attributes).toEqual({ availableInNewTerritories: true, planType: 'MONTHLY' });
  });

  it('an IAP request includes the same, typed for in-app purchases', async () => {
    const reply = await get(
      sim,
      `/v2/inAppPurchases/${iap.id}?include=appStoreReviewScreenshot,promotedPurchase,images,versions`,
      token,
    );
    expect(reply.status, reply.text).toBe(200);
    expect(detailSchemaErrors(responseSchemaOf('/v2/inAppPurchases/{id}'), reply.body)).toEqual([]);
    const doc = reply.body as Doc<Resource>;
    const types = new Set(doc.included!.map((r) => r.type));
    // The first IAP (index 0) has an image and a promoted purchase in generated catalogs.
    expect(types).toEqual(
      new Set([
        'inAppPurchaseAppStoreReviewScreenshots',
        'promotedPurchases',
        'inAppPurchaseImages',
        'inAppPurchaseVersions',
      ]),
    );
  });

  it('the group request includes its localizations and versions', async () => {
    const reply = await get(
      sim,
      `/v1/subscriptionGroups/${group.id}?include=subscriptionGroupLocalizations,versions`,
      token,
    );
    expect(reply.status, reply.text).toBe(200);
    const doc = reply.body as Doc<Resource>;
    expect(doc.data.relationships!['subscriptionGroupLocalizations']!.meta!.paging.total).toBe(
      group.localizations!.length,
    );
    expect(doc.included!.filter((r) => r.type === 'subscriptionGroupVersions')).toHaveLength(1);
    const missing = await get(sim, '/v1/subscriptionGroups/999?include=versions', token);
    expect(missing.status).toBe(404);
  });

  it('versions of a product have no path of their own in the spec the simulator follows', async () => {
    const reply = await get(sim, `/v1/subscriptions/${subscription.id}/versions`, token);
    expect(reply.status).toBe(404);
  });
});

describe('sort and plan filters', () => {
  it('sorts the subscriptions listing by name both ways, and pages in that order', async () => {
    const names = group.subscriptions.map((s) => s.name);
    const ascending = [...names].sort();
    const seen: string[] = [];
    let next: string | undefined = `/v1/subscriptionGroups/${group.id}/subscriptions?sort=name&limit=2`;
    while (next) {
      const reply = await get(sim, next, token);
      expect(reply.status, reply.text).toBe(200);
      const doc = reply.body as Doc<Resource[]>;
      seen.push(...doc.data.map((r) => r.attributes!['name'] as string));
      next = doc.links.next;
    }
    expect(seen).toEqual(ascending);
    const descending = await get(sim, `/v1/subscriptionGroups/${group.id}/subscriptions?sort=-name`, token);
    expect((descending.body as Doc<Resource[]>).data.map((r) => r.attributes!['name'])).toEqual(
      [...ascending].reverse(),
    );
  });

  it('sorts IAPs by type then name, and refuses a field the spec does not allow', async () => {
    const reply = await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2?sort=inAppPurchaseType,-name`, token);
    const data = (reply.body as Doc<Resource[]>).data;
    const keys = data.map((r) => [
      r.attributes!['inAppPurchaseType'] as string,
      r.attributes!['name'] as string,
    ]);
    const expected = [...keys].sort(([t1, n1], [t2, n2]) =>
      t1 !== t2 ? (t1! < t2! ? -1 : 1) : n1 === n2 ? 0 : n1! < n2! ? 1 : -1,
    );
    expect(keys).toEqual(expected);
    const bad = await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2?sort=productId`, token);
    expect(bad.status).toBe(400);
    expect(firstError(bad)).toMatchObject({ code: 'PARAMETER_ERROR.INVALID', source: { parameter: 'sort' } });
  });

  it('price points answer filter[planType] per plan and filter[upfrontPricePointId] with none', async () => {
    const path = `/v1/subscriptions/${subscription.id}/pricePoints?filter[territory]=USA&limit=8000`;
    const monthly = (await get(sim, `${path}&filter[planType]=MONTHLY`, token)).body as Doc<Resource[]>;
    const all = (await get(sim, path, token)).body as Doc<Resource[]>;
    expect(monthly.data.length).toBe(all.data.length);
    expect((await get(sim, `${path}&filter[planType]=UPFRONT`, token)).body).toMatchObject({ data: [] });
    sim.mutate.setPlanAvailability(subscription.id, {
      planType: 'UPFRONT',
      availableInNewTerritories: false,
    });
    const upfront = (await get(sim, `${path}&filter[planType]=UPFRONT`, token)).body as Doc<Resource[]>;
    expect(upfront.data.length).toBe(monthly.data.length);
    expect(upfront.data.every((p) => p.id.endsWith('-upfront'))).toBe(true);
    const commitment = await get(sim, `${path}&filter[upfrontPricePointId]=${upfront.data[0]!.id}`, token);
    expect(commitment.status).toBe(200);
    expect(commitment.body).toMatchObject({ data: [] });
  });
});

describe('mutations', () => {
  it('a submitted version, a removed group localization, a missing screenshot show in the responses', async () => {
    const target = group.subscriptions[2]!;
    const submitted = sim.mutate.submitVersion(target.id);
    expect(submitted).toMatchObject({ version: 2, state: 'WAITING_FOR_REVIEW' });
    sim.mutate.setReviewScreenshot(target.id, null);
    const doc = await subscriptionDoc(target.id);
    expect(doc.data.relationships!['appStoreReviewScreenshot']!.data).toBeUndefined();
    const states = doc
      .included!.filter((r) => r.type === 'subscriptionVersions')
      .map((r) => r.attributes!['state']);
    expect(states).toContain('WAITING_FOR_REVIEW');
    // Submitting again while waiting moves the same version.
    expect(sim.mutate.submitVersion(target.id, { state: 'IN_REVIEW' })).toMatchObject({ version: 2 });

    const localization = group.localizations![0]!;
    sim.mutate.removeLocalization(localization.id);
    const listing = await get(
      sim,
      `/v1/subscriptionGroups/${group.id}/subscriptionGroupLocalizations`,
      token,
    );
    expect((listing.body as Doc<Resource[]>).data.map((r) => r.id)).not.toContain(localization.id);
    expect(() => sim.mutate.removeLocalization(localization.id)).toThrow(/no localization/);

    sim.mutate.setPromotedPurchase(target.id, { enabled: false });
    const promoted = await subscriptionDoc(target.id);
    expect(promoted.included!.find((r) => r.type === 'promotedPurchases')!.attributes).toMatchObject({
      enabled: false,
    });
    expect(() =>
      sim.mutate.setPlanAvailability(iap.id, { planType: 'MONTHLY', availableInNewTerritories: true }),
    ).toThrow(/only subscriptions/);
  });
});
