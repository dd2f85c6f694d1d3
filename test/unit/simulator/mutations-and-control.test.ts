import { describe, expect, it } from 'vitest';
import {
  type CreatedKey,
  generateKeyPair,
  randomIssuerId,
  randomKeyId,
} from '../../../src/simulator/index.ts';
import { get, keyWithToken, mintToken, type Relationship, smallCatalog, useSimulator } from './helpers.ts';

interface Resource {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  relationships?: Record<string, Relationship>;
}
const dataOf = (reply: { body: unknown }) => (reply.body as { data: Resource[] }).data;
const idsOf = (reply: { body: unknown }) => dataOf(reply).map((item) => item.id);

describe('mutation API from code', async () => {
  const sim = await useSimulator({ catalog: smallCatalog() });
  const { token } = await keyWithToken(sim);
  const app = sim.catalog.apps[0]!;
  const iapPath = `/v1/apps/${app.id}/inAppPurchasesV2?limit=200`;

  it('adds, changes and removes in-app purchases', async () => {
    const added = sim.mutate.addProduct(app.id, {
      productId: 'com.example.app.coins999',
      name: '999 Coins',
      inAppPurchaseType: 'CONSUMABLE',
      state: 'READY_TO_SUBMIT',
    });
    expect(idsOf(await get(sim, iapPath, token))).toContain(added.id);
    sim.mutate.updateProduct(added.id, { name: '1,000 Coins', state: 'APPROVED' });
    const changed = dataOf(await get(sim, iapPath, token)).find((item) => item.id === added.id)!;
    expect(changed.attributes).toMatchObject({
      name: '1,000 Coins',
      state: 'APPROVED',
      productId: 'com.example.app.coins999',
    });
    expect(() => sim.mutate.addProduct(app.id, { productId: 'com.example.app.coins999' })).toThrow(
      /already used/,
    );
    sim.mutate.removeProduct(added.id);
    expect(idsOf(await get(sim, iapPath, token))).not.toContain(added.id);

    // As in App Store Connect, a deleted product's id is never given to another product…
    expect(() => sim.mutate.addProduct(app.id, { productId: 'com.example.app.coins999' })).toThrow(
      /never reuses a product id/,
    );
    expect(sim.mutate.addProduct(app.id).productId).not.toBe('com.example.app.coins999');
    // …but the same product (same Apple id) may reappear with it.
    const back = sim.mutate.addProduct(app.id, { id: added.id, productId: 'com.example.app.coins999' });
    expect(back.id).toBe(added.id);
  });

  it('adds groups with subscriptions, moves a subscription, removes a group', async () => {
    const group = sim.mutate.addGroup(app.id, {
      referenceName: 'Gold',
      subscriptions: [{ productId: 'com.example.app.gold.monthly', subscriptionPeriod: 'ONE_MONTH' }, {}],
    });
    const groups = await get(sim, `/v1/apps/${app.id}/subscriptionGroups?include=subscriptions`, token);
    const gold = dataOf(groups).find((item) => item.id === group.id)!;
    expect(gold.attributes).toEqual({ referenceName: 'Gold' });
    expect(gold.relationships!['subscriptions']?.meta?.paging.total).toBe(2);

    const moving = app.groups[0]!.subscriptions[0]!;
    sim.mutate.moveSubscription(moving.id, group.id);
    const moved = await get(sim, `/v1/subscriptionGroups/${group.id}/subscriptions`, token);
    const entry = dataOf(moved).find((item) => item.id === moving.id)!;
    expect(entry.relationships!['group']).toEqual({ data: { type: 'subscriptionGroups', id: group.id } });
    expect(entry.attributes['groupLevel']).toBe(3);
    expect(
      idsOf(await get(sim, `/v1/subscriptionGroups/${app.groups[0]!.id}/subscriptions`, token)),
    ).not.toContain(moving.id);

    sim.mutate.updateGroup(group.id, { referenceName: 'Gold Plus' });
    expect(
      dataOf(await get(sim, `/v1/apps/${app.id}/subscriptionGroups`, token)).map(
        (g) => g.attributes['referenceName'],
      ),
    ).toContain('Gold Plus');
    sim.mutate.removeGroup(group.id);
    expect((await get(sim, `/v1/subscriptionGroups/${group.id}/subscriptions`, token)).status).toBe(404);
  });

  it('changes and removes grace settings', async () => {
    const graceId = app.grace!.id;
    sim.mutate.setGrace(app.id, {
      duration: 'TWENTY_EIGHT_DAYS',
      renewalType: 'PAID_TO_PAID_ONLY',
      optIn: false,
    });
    const reply = await get(sim, `/v1/apps/${app.id}/subscriptionGracePeriod`, token);
    expect((reply.body as { data: Resource }).data).toMatchObject({
      id: graceId,
      attributes: { duration: 'TWENTY_EIGHT_DAYS', renewalType: 'PAID_TO_PAID_ONLY', optIn: false },
    });
    sim.mutate.removeGrace(app.id);
    expect((await get(sim, `/v1/apps/${app.id}/subscriptionGracePeriod`, token)).status).toBe(404);
    expect((await get(sim, `/v1/subscriptionGracePeriods/${graceId}`, token)).status).toBe(404);
    const created = sim.mutate.setGrace(app.id, { duration: 'THREE_DAYS' })!;
    expect((await get(sim, `/v1/subscriptionGracePeriods/${created.id}`, token)).status).toBe(200);
  });

  it('sees direct edits of sim.catalog and tolerates unknown values and attributes', async () => {
    const iap = sim.catalog.apps[0]!.iaps[0]!;
    iap.state = 'SOME_FUTURE_STATE';
    iap.extraAttributes = { somethingNew: { nested: true } };
    const item = dataOf(await get(sim, iapPath, token)).find((entry) => entry.id === iap.id)!;
    expect(item.attributes).toMatchObject({ state: 'SOME_FUTURE_STATE', somethingNew: { nested: true } });
  });

  it('reports bad input clearly', () => {
    expect(() => sim.mutate.addProduct('0', {})).toThrow(/no app 0/);
    expect(() => sim.mutate.updateProduct('0', { name: 'x' })).toThrow(/no product/);
    expect(() => sim.mutate.moveSubscription(app.iaps[1]!.id, app.groups[0]!.id)).toThrow(
      /not a subscription/,
    );
  });
});

interface ControlBody {
  ok?: boolean;
  error?: string;
  baseUrl?: string;
  apps?: number;
  keyId?: string;
  issuerId?: string;
  privateKeyPem?: string;
  result?: { id: string };
  counts?: Record<string, number>;
  requests?: unknown[];
  settings?: unknown;
}

describe('control endpoint', async () => {
  const sim = await useSimulator({ catalog: smallCatalog(), controlToken: 'secret-control' });
  const app = sim.catalog.apps[0]!;
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${sim.baseUrl}/_simulator${path}`, {
      method,
      headers: { 'x-simulator-token': 'secret-control', 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as ControlBody };
  };

  it('needs the control token when one is set', async () => {
    expect((await fetch(`${sim.baseUrl}/_simulator/health`)).status).toBe(401);
    expect((await control('GET', '/health')).body).toEqual({ ok: true, baseUrl: sim.baseUrl });
  });

  it('registers a public key, mutates, injects faults, reports and resets', async () => {
    const pair = generateKeyPair();
    const keyId = randomKeyId();
    const issuerId = randomIssuerId();
    const registered = await control('POST', '/keys', {
      keyId,
      issuerId,
      publicKeyPem: pair.publicKeyPem,
      role: 'APP_MANAGER',
    });
    expect(registered).toEqual({ status: 200, body: { keyId, issuerId } });
    const token = await mintToken({ keyId, issuerId, privateKeyPem: pair.privateKeyPem });

    const added = await control('POST', '/mutate', {
      op: 'addProduct',
      args: [app.id, { productId: 'com.example.app.viacontrol' }],
    });
    expect(added.status).toBe(200);
    const list = await get(
      sim,
      `/v1/apps/${app.id}/inAppPurchasesV2?filter[productId]=com.example.app.viacontrol`,
      token,
    );
    expect(idsOf(list)).toEqual([added.body.result?.id]);
    expect((await control('POST', '/mutate', { op: 'nope', args: [] })).status).toBe(400);
    expect((await control('POST', '/mutate', { op: 'removeProduct', args: ['0'] })).status).toBe(404);

    await control('POST', '/faults', { pathPattern: 'subscriptionGroups$', status: 503, times: 'always' });
    expect((await get(sim, `/v1/apps/${app.id}/subscriptionGroups`, token)).status).toBe(503);
    await control('DELETE', '/faults');
    expect((await get(sim, `/v1/apps/${app.id}/subscriptionGroups`, token)).status).toBe(200);

    const counts = await control('GET', `/counts?keyId=${keyId}`);
    expect(counts.body.counts).toEqual({
      'GET /v1/apps/{id}/inAppPurchasesV2': 1,
      'GET /v1/apps/{id}/subscriptionGroups': 2,
    });
    const requests = await control('GET', '/requests');
    expect(requests.body.requests).toHaveLength(3);

    await control('PATCH', `/keys/${keyId}`, { agreementsMissing: true });
    expect((await get(sim, '/v1/apps', token)).status).toBe(403);

    const settings = await control('PUT', '/settings', {
      latencyMs: 5,
      rateLimit: { perHour: 100, retryAfterSeconds: 3 },
    });
    expect(settings.body.settings).toEqual({
      latencyMs: 5,
      perHour: 100,
      retryAfterSeconds: 3,
      windowMs: 3_600_000,
    });
    await control('PUT', '/settings', { latencyMs: 0 });

    await control('POST', '/reset');
    expect(sim.requests).toHaveLength(0);
    expect((await control('DELETE', `/keys/${keyId}`)).status).toBe(200);
    expect((await get(sim, '/v1/apps', token)).status).toBe(401);
  });

  it('creates a key with its private half, and replaces the catalog', async () => {
    const created = await control('POST', '/keys', { role: 'DEVELOPER' });
    expect(created.body.privateKeyPem).toMatch(/BEGIN PRIVATE KEY/);
    const token = await mintToken(created.body as CreatedKey);
    const replaced = await control('PUT', '/catalog', {
      apps: [
        {
          id: '42',
          bundleId: 'com.example.tiny',
          name: 'Tiny',
          sku: 'T',
          primaryLocale: 'en-US',
          iaps: [],
          groups: [],
          grace: null,
        },
      ],
    });
    expect(replaced.body).toEqual({ ok: true, apps: 1 });
    expect(idsOf(await get(sim, '/v1/apps', token))).toEqual(['42']);
    expect((await control('PUT', '/catalog', { apps: [{ id: '' }] })).status).toBe(400);
  });
});
