import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AppStoreClientOptions, createAppStoreClient } from '../../../src/appstore/client.ts';
import { AppStoreError } from '../../../src/appstore/errors.ts';
import {
  inAppPurchaseSchema,
  subscriptionGroupSchema,
  subscriptionGroupsDocumentSchema,
} from '../../../src/appstore/resources.ts';
import {
  type CreatedKey,
  generateCatalog,
  type Simulator,
  startSimulator,
  UNKNOWN_IAP_STATE,
} from '../../../src/simulator/index.ts';
import { fetchCatalog } from '../../../src/sync/fetch.ts';
import { captureLogger } from './support/local-server.ts';

/*
 * The client against the App Store Connect simulator (Apple's shapes, strict params, real
 * ES256 verification). Simulator and client share one movable clock.
 */

const APP = '1000000001';
const BIG_GROUP_SUBSCRIPTIONS = 73;
const clock = { offset: 0, simAhead: 0, now: () => Date.now() + clock.offset };

let sim: Simulator;
let key: CreatedKey;
const clients: { close(): void }[] = [];

beforeAll(async () => {
  sim = await startSimulator({
    now: () => clock.now() + clock.simAhead,
    catalog: generateCatalog({
      seed: 7,
      apps: [
        { id: APP, iaps: 450, groups: 2, subscriptionsPerGroup: [BIG_GROUP_SUBSCRIPTIONS, 4] },
        { id: '1000000002', iaps: 1, groups: 0, subscriptionsPerGroup: 0, grace: null },
      ],
    }),
  });
  key = await sim.createKey({ role: 'APP_MANAGER', appIds: 'all' });
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  sim.faults.clear();
  sim.resetRequests();
  sim.resetRateLimits();
  clock.offset = 0;
  clock.simAhead = 0;
});

afterAll(async () => {
  await sim.close();
});

function client(extra: Partial<AppStoreClientOptions> = {}, credentials: CreatedKey = key) {
  const created = createAppStoreClient({
    baseUrl: sim.baseUrl,
    keyId: credentials.keyId,
    issuerId: credentials.issuerId,
    loadPrivateKey: async () => credentials.privateKeyPem,
    backoffBaseMs: 1,
    retryCapMs: 50,
    maxRetries: 3,
    now: () => clock.now(),
    logger: captureLogger('silent').logger,
    ...extra,
  });
  clients.push(created);
  return created;
}

function sleeps() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe('tokens', () => {
  it('are accepted by Apple’s rules and refreshed before they expire (shared clock)', async () => {
    const c = client();
    expect((await c.listApps()).map((a) => a.id).sort()).toEqual([APP, '1000000002']);
    clock.offset = 10 * 60_000;
    await c.listApps();
    // Apple's clock a minute ahead of ours: at 14:01 the first token (exp 15:00) has expired
    // for Apple. Only a refresh at least a minute before expiry avoids a 401 here.
    clock.simAhead = 60_000;
    clock.offset = 14 * 60_000 + 1_000;
    await c.listApps();
    expect(c.stats().byStatus).toEqual({ '200': 3 });
  });

  it('a 401 (expired token) is retried once with a freshly minted token', async () => {
    // The client's clock starts 30 minutes slow, so its first token is already expired for Apple.
    let skew = -30 * 60_000;
    const c = client({
      now: () => clock.now() + skew,
      onResponse: (event) => {
        if (event.status === 401) skew = 0;
      },
    });
    const apps = await c.listApps();
    expect(apps).toHaveLength(2);
    expect(c.stats().byStatus).toEqual({ '401': 1, '200': 1 });
    expect(sim.requests.map((r) => r.status)).toEqual([401, 200]);
  });

  it('a 401 on the fresh token too is an auth failure with the checks to make', async () => {
    const wrongIssuer = { ...key, issuerId: '00000000-0000-4000-8000-000000000000' };
    const c = client({}, wrongIssuer);
    const error = await c.listApps().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppStoreError);
    expect((error as AppStoreError).kind).toBe('auth');
    expect((error as AppStoreError).status).toBe(401);
    expect((error as AppStoreError).apple?.code).toBe('NOT_AUTHORIZED');
    expect((error as AppStoreError).message).toMatch(/^Failed to verify credentials/);
    expect(sim.requests).toHaveLength(2);
  });
});

describe('403s', () => {
  it('tells a role below App Manager apart from a missing agreement', async () => {
    const finance = await sim.createKey({ role: 'FINANCE' });
    const roleError = await fetchCatalog(client({}, finance), APP).catch((e: unknown) => e);
    expect(roleError).toMatchObject({ kind: 'forbidden', forbiddenReason: 'role', status: 403 });
    expect((roleError as Error).message).toContain('Admin or App Manager');

    const unsigned = await sim.createKey({ role: 'ADMIN', agreementsMissing: true });
    const agreementError = await client({}, unsigned)
      .listApps()
      .catch((e: unknown) => e);
    expect(agreementError).toMatchObject({ kind: 'forbidden', forbiddenReason: 'agreements' });
    expect((agreementError as AppStoreError).apple?.code).toMatch(/^FORBIDDEN\.REQUIRED_AGREEMENTS/);
    expect((agreementError as Error).message).toContain('Account Holder');
  });

  it('a key linked to no app sees an empty list, not an error', async () => {
    const lonely = await sim.createKey({ role: 'APP_MANAGER', appIds: [] });
    expect(await client({}, lonely).listApps()).toEqual([]);
  });
});

describe('retries', () => {
  it('429 without Retry-After: jittered exponential backoff, then success', async () => {
    sim.faults.add({ path: '/v1/apps', status: 429, times: 2 });
    const { waits, sleep } = sleeps();
    const c = client({ sleep, random: () => 0.5, backoffBaseMs: 10, retryCapMs: 1_000 });
    expect(await c.listApps()).toHaveLength(2);
    expect(waits).toEqual([5, 10]);
    expect(c.stats().byStatus).toEqual({ '429': 2, '200': 1 });
  });

  it('429 with Retry-After: waits what the server says, capped', async () => {
    sim.faults.add({ path: '/v1/apps', status: 429, times: 1, retryAfterSeconds: 2 });
    sim.faults.add({ path: '/v1/apps', status: 429, nth: 2, times: 1, retryAfterSeconds: 600 });
    const { waits, sleep } = sleeps();
    const c = client({ sleep, retryCapMs: 30_000 });
    expect(await c.listApps()).toHaveLength(2);
    expect(waits).toEqual([2_000, 30_000]);
  });

  it('429 that persists: rate_limited with when to retry', async () => {
    sim.faults.add({ path: '/v1/apps', status: 429, times: 'always', retryAfterSeconds: 90 });
    const { sleep } = sleeps();
    const error = await client({ sleep, maxRetries: 2 })
      .listApps()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 90_000, retryable: true });
    expect((error as AppStoreError).apple?.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(sim.requests).toHaveLength(3);
  });

  it('a 503 then success', async () => {
    sim.faults.add({ path: '/v1/apps/{id}/inAppPurchasesV2', status: 503, times: 1 });
    const c = client();
    const { catalog } = await fetchCatalog(c, APP);
    expect(catalog.products.filter((p) => p.kind !== 'auto_renewable_subscription')).toHaveLength(450);
    expect(c.stats().byStatus['503']).toBe(1);
  });

  it('a connection reset and a truncated body are retried', async () => {
    sim.faults.add({ path: '/v1/apps', reset: true, times: 1 });
    sim.faults.add({ path: '/v1/apps', body: 'truncated', nth: 2, times: 1 });
    sim.faults.add({ path: '/v1/apps', body: 'malformed', nth: 3, times: 1 });
    const c = client();
    expect(await c.listApps()).toHaveLength(2);
    expect(c.stats().requests).toBe(4);
  });

  it('a page that fails persistently makes the whole call throw (no partial list)', async () => {
    // Page 2 of 3 of the IAP list.
    sim.faults.add({ path: /inAppPurchasesV2\?.*cursor=/, status: 500, times: 'always' });
    const c = client({ maxRetries: 2 });
    const error = await fetchCatalog(c, APP).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppStoreError);
    expect(error).toMatchObject({ kind: 'transient', status: 500, retryable: true });
    expect((error as Error).message).toContain('after 3 attempts');
    expect(c.stats().byStatus['500']).toBe(3);
  });
});

describe('catalog reads', () => {
  it('pages through 450 IAPs with limit=200 after the first 50 included with the app', async () => {
    const c = client();
    const { catalog } = await fetchCatalog(c, APP);
    const iaps = catalog.products.filter((p) => p.kind !== 'auto_renewable_subscription');
    expect(new Set(iaps.map((i) => i.appleId)).size).toBe(450);
    expect(sim.requestCounts()['GET /v1/apps/{id}/inAppPurchasesV2']).toBe(3);
    const pages = sim.requests.filter((r) => r.path.includes('inAppPurchasesV2'));
    expect(pages.map((r) => r.query['limit'])).toEqual(['200', '200', '200']);
  });

  it('paginate takes an item schema, a document schema or none, and collects included', async () => {
    const c = client();
    const path = `/v1/apps/${APP}/subscriptionGroups`;
    const query = { include: 'subscriptions', 'limit[subscriptions]': 50 };
    const withDoc = await c.paginate(path, query, subscriptionGroupsDocumentSchema, 'groups');
    const withItem = await c.paginate(path, query, subscriptionGroupSchema, 'groups');
    const generic = await c.paginate(path, query, undefined, 'groups');
    expect(withDoc.data.map((g) => g.attributes.referenceName)).toEqual(
      withItem.data.map((g) => g.attributes.referenceName),
    );
    expect(generic.data.map((g) => g.id)).toEqual(withItem.data.map((g) => g.id));
    // 50 (capped) + 4 included subscriptions.
    expect(withDoc.included).toHaveLength(54);
    expect(withDoc.included.every((r) => (r as { type: string }).type === 'subscriptions')).toBe(true);
  });

  it('fetches a group with more than 50 subscriptions fully via the relationship endpoint', async () => {
    const c = client();
    const { catalog } = await fetchCatalog(c, APP);
    const expected = sim.catalog.apps.find((a) => a.id === APP)!.groups;
    const subscriptions = catalog.products.filter((p) => p.kind === 'auto_renewable_subscription');
    for (const group of expected) {
      expect(
        subscriptions
          .filter((p) => p.groupAppleId === group.id)
          .map((p) => p.appleId)
          .sort(),
      ).toEqual(group.subscriptions.map((s) => s.id).sort());
    }
    // Only the capped group needed its own endpoint.
    expect(sim.requestCounts()['GET /v1/subscriptionGroups/{id}/subscriptions']).toBe(1);
    expect(BIG_GROUP_SUBSCRIPTIONS).toBeGreaterThan(50);
  });

  it('reads the grace period, and none when the app has none', async () => {
    const c = client();
    const { catalog } = await fetchCatalog(c, APP);
    const expected = sim.catalog.apps.find((a) => a.id === APP)!.grace!;
    expect(catalog.grace?.appleId).toBe(expected.id);
    expect(catalog.grace).toMatchObject({ optIn: expected.optIn, duration: expected.duration });
    expect((await fetchCatalog(c, '1000000002')).catalog.grace).toBeNull();
  });

  it('keeps unknown attributes and enum values, warning once per value', async () => {
    const iaps = sim.catalog.apps.find((a) => a.id === APP)!.iaps;
    sim.mutate.updateProduct(iaps[0]!.id, {
      state: UNKNOWN_IAP_STATE,
      extraAttributes: { futureFlag: true },
    });
    sim.mutate.updateProduct(iaps[1]!.id, { state: UNKNOWN_IAP_STATE });
    sim.mutate.updateProduct(iaps[2]!.id, { inAppPurchaseType: 'SUPER_CONSUMABLE' });
    try {
      const { logger, entries } = captureLogger('warn');
      const c = client({ logger });
      const path = `/v1/apps/${APP}/inAppPurchasesV2`;
      const { data: first } = await c.paginate(path, undefined, inAppPurchaseSchema, 'iaps');
      await c.paginate(path, undefined, inAppPurchaseSchema, 'again');
      const byId = new Map(first.map((i) => [i.id, i]));
      expect(byId.get(iaps[0]!.id)!.attributes).toMatchObject({ state: UNKNOWN_IAP_STATE, futureFlag: true });
      expect(byId.get(iaps[2]!.id)!.attributes.inAppPurchaseType).toBe('SUPER_CONSUMABLE');
      const warnings = entries().filter((e) => String(e['msg']).includes('enum value'));
      expect(warnings.map((w) => [w['field'], w['value']]).sort()).toEqual([
        ['inAppPurchases.inAppPurchaseType', 'SUPER_CONSUMABLE'],
        ['inAppPurchases.state', UNKNOWN_IAP_STATE],
      ]);
    } finally {
      sim.mutate.updateProduct(iaps[0]!.id, { state: 'APPROVED', extraAttributes: {} });
      sim.mutate.updateProduct(iaps[1]!.id, { state: 'APPROVED' });
      sim.mutate.updateProduct(iaps[2]!.id, { inAppPurchaseType: 'CONSUMABLE' });
    }
  });

  it('a strict 400 from Apple is invalid_request with Apple’s code', async () => {
    const error = await client()
      .paginate('/v1/apps', { limit: 500 }, undefined, 'bad')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'invalid_request', status: 400 });
    expect((error as AppStoreError).apple?.code).toMatch(/^PARAMETER_ERROR/);
  });
});
