import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AppStoreClient, createAppStoreClient, type Query } from '../../../src/appstore/index.ts';
import { parseBody } from '../../../src/appstore/parse.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { fetchCatalog, requestLowerBound, SUBSCRIPTION_FIELDS } from '../../../src/sync/fetch.ts';

/*
 * The one-group shortcut against the strict simulator: the group's subscriptions are read
 * directly, with parameters the endpoint accepts, and the catalog is the same as the one the
 * groups listing gives (which is what a server that drops the included group falls back to).
 */

const ONE_BIG = '3000000001';
const ONE_EMPTY = '3000000002';
const MANY_IAPS = '3000000003';

let sim: Simulator;
let client: AppStoreClient & { close(): void };

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 11,
      apps: [
        { id: ONE_BIG, iaps: 3, groups: 1, subscriptionsPerGroup: 120, grace: {} },
        { id: ONE_EMPTY, iaps: 0, groups: 1, subscriptionsPerGroup: 0, grace: null },
        { id: MANY_IAPS, iaps: 60, groups: 0, subscriptionsPerGroup: 0, grace: null },
      ],
    }),
  });
  const key = await sim.createKey({ role: 'APP_MANAGER', appIds: 'all' });
  client = createAppStoreClient({
    baseUrl: sim.baseUrl,
    keyId: key.keyId,
    issuerId: key.issuerId,
    loadPrivateKey: async () => key.privateKeyPem,
    maxRetries: 0,
  });
});
afterEach(() => sim.resetRequests());
afterAll(async () => {
  client?.close();
  await sim?.close();
});

/** The real client, with the app request's included groups altered as a server might send them. */
function alteringIncludedGroups(alter: (group: Record<string, unknown>) => Record<string, unknown> | null) {
  const getDocument = (async (path, query, schema, callSite) => {
    const document = (await client.getDocument(path, query, schema, callSite)) as Record<string, unknown>;
    const included = document.included as Record<string, unknown>[] | undefined;
    if (!included) return document;
    return {
      ...document,
      included: included.flatMap((resource) => {
        if (resource.type !== 'subscriptionGroups') return [resource];
        const altered = alter(resource);
        return altered ? [altered] : [];
      }),
    };
  }) as AppStoreClient['getDocument'];
  return { getDocument, paginate: client.paginate };
}

const app = (id: string) => sim.catalog.apps.find((a) => a.id === id)!;

describe('an app with exactly one subscription group', () => {
  it('reads the group’s 120 subscriptions directly: app request + one page', async () => {
    const { catalog, shape } = await fetchCatalog(client, ONE_BIG);

    expect(shape).toEqual({ iaps: 3, groups: 1, subscriptionsPerGroup: [120] });
    expect(sim.requestCounts()).toEqual({
      'GET /v1/apps/{id}': 1,
      'GET /v1/subscriptionGroups/{id}/subscriptions': 1,
    });
    expect(requestLowerBound(shape)).toBe(2);
    const [direct] = sim.requests.filter((r) => r.path.endsWith('/subscriptions'));
    expect(direct?.status).toBe(200);
    expect(direct?.query).toMatchObject({ limit: '200', 'fields[subscriptions]': SUBSCRIPTION_FIELDS });

    const group = app(ONE_BIG).groups[0]!;
    expect(catalog.groups).toEqual([
      { appleId: group.id, referenceName: group.referenceName, raw: { referenceName: group.referenceName } },
    ]);
    const subscriptions = catalog.products.filter((p) => p.kind === 'auto_renewable_subscription');
    expect(subscriptions.map((p) => p.appleId).sort()).toEqual(group.subscriptions.map((s) => s.id).sort());
    expect(new Set(subscriptions.map((p) => p.groupAppleId))).toEqual(new Set([group.id]));
  });

  it('pairs subscriptions with the group although their documents carry no group linkage', async () => {
    const linkages: unknown[] = [];
    const recording = {
      getDocument: client.getDocument,
      paginate: (async (path: string, query: Query | undefined, schema: z.ZodType, callSite?: string) => {
        const result = await client.paginate(path, query, schema, callSite);
        for (const item of result.data as { relationships?: { group?: { data?: unknown } } }[]) {
          linkages.push(item.relationships?.group?.data);
        }
        return result;
      }) as AppStoreClient['paginate'],
    };
    const { catalog } = await fetchCatalog(recording, ONE_BIG);
    expect(linkages).toHaveLength(120);
    expect(linkages.every((linkage) => linkage === undefined)).toBe(true);
    const groupId = app(ONE_BIG).groups[0]!.id;
    expect(catalog.products.filter((p) => p.groupAppleId === groupId)).toHaveLength(120);
  });

  it('reads an empty group’s collection (one empty page) instead of the listing', async () => {
    const { catalog, shape } = await fetchCatalog(client, ONE_EMPTY);
    expect(shape).toEqual({ iaps: 0, groups: 1, subscriptionsPerGroup: [0] });
    expect(sim.requestCounts()).toEqual({
      'GET /v1/apps/{id}': 1,
      'GET /v1/subscriptionGroups/{id}/subscriptions': 1,
    });
    expect(catalog.groups.map((g) => g.appleId)).toEqual([app(ONE_EMPTY).groups[0]!.id]);
  });

  it.each([
    ['not included', () => null],
    ['included without attributes', ({ attributes: _a, ...rest }: Record<string, unknown>) => rest],
  ])('falls back to the groups listing when the group is %s, with the same catalog', async (_name, alter) => {
    const { catalog: direct } = await fetchCatalog(client, ONE_BIG);
    sim.resetRequests();

    const { catalog: viaListing } = await fetchCatalog(alteringIncludedGroups(alter), ONE_BIG);

    expect(sim.requestCounts()).toEqual({
      'GET /v1/apps/{id}': 1,
      'GET /v1/apps/{id}/subscriptionGroups': 1,
      'GET /v1/subscriptionGroups/{id}/subscriptions': 1,
    });
    expect(viaListing).toEqual(direct);
  });
});

/**
 * The real client and schema, with the app request's body broken before its schema sees it: the
 * first included IAP's productId becomes a number.
 */
function breakingFirstIncludedIap() {
  const getDocument = (async (path, query, schema, callSite) => {
    if (!path.startsWith('/v1/apps/') || path.split('/').length !== 4) {
      return client.getDocument(path, query, schema, callSite);
    }
    const body = (await client.getDocument(path, query, z.unknown(), callSite)) as {
      included: Array<{ type: string; attributes: Record<string, unknown> }>;
    };
    const iap = body.included.find((resource) => resource.type === 'inAppPurchases')!;
    iap.attributes.productId = 5;
    return parseBody(schema, body, `GET ${path}`).value;
  }) as AppStoreClient['getDocument'];
  return { getDocument, paginate: client.paginate };
}

describe('included resources of the app request: validated where used', () => {
  it('a broken included IAP fails the fetch when the include holds every IAP', async () => {
    const error = await fetchCatalog(breakingFirstIncludedIap(), ONE_BIG).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'schema' });
    expect((error as Error).message).toMatch(
      /included\[\d+\]\.attributes\.productId: expected string, got integer/,
    );
  });

  it('the included IAPs of an app with more than the include holds are not used, so not validated', async () => {
    const { catalog, shape } = await fetchCatalog(breakingFirstIncludedIap(), MANY_IAPS);
    expect(shape).toMatchObject({ iaps: 60 });
    expect(sim.requestCounts()).toMatchObject({ 'GET /v1/apps/{id}/inAppPurchasesV2': 1 });
    // Every IAP as the collection has it: the broken included copy was never read.
    expect(catalog.products.map((p) => p.productId).sort()).toEqual(
      app(MANY_IAPS)
        .iaps.map((iap) => iap.productId)
        .sort(),
    );
  });
});
