import { describe, expect, it } from 'vitest';
import { generateCatalog } from '../../../src/simulator/index.ts';
import { firstError, get, keyWithToken, type Linkage, type Relationship, useSimulator } from './helpers.ts';

const catalog = generateCatalog({
  seed: 3,
  apps: [{ id: '1600000001', iaps: 450, groups: 3, subscriptionsPerGroup: [60, 4, 1] }],
});
const sim = await useSimulator({ catalog });
const { token } = await keyWithToken(sim);
const app = catalog.apps[0]!;
const bigGroup = app.groups[0]!;

interface Doc {
  data: {
    id: string;
    type: string;
    attributes?: Record<string, unknown>;
    relationships?: Record<string, Relationship>;
  }[];
  included?: { id: string; type: string; relationships?: Record<string, Relationship> }[];
  links: { self: string; next?: string };
  meta: { paging: { total: number; limit: number; nextCursor?: string } };
}

describe('strict parameters', () => {
  it.each([
    ['limit=201', 'PARAMETER_ERROR.INVALID', 'limit'],
    ['limit=0', 'PARAMETER_ERROR.INVALID', 'limit'],
    ['limit=ten', 'PARAMETER_ERROR.INVALID', 'limit'],
    ['include=subscriptions', 'PARAMETER_ERROR.INVALID', 'include'],
    ['fields[inAppPurchases]=name,colour', 'PARAMETER_ERROR.INVALID', 'fields[inAppPurchases]'],
    ['limit[inAppPurchaseLocalizations]=51', 'PARAMETER_ERROR.INVALID', 'limit[inAppPurchaseLocalizations]'],
    ['filter[state]=SOLD', 'PARAMETER_ERROR.INVALID', 'filter[state]'],
    ['page=2', 'PARAMETER_ERROR.ILLEGAL', 'page'],
    ['fields[apps]=name', 'PARAMETER_ERROR.ILLEGAL', 'fields[apps]'],
    ['limit[subscriptions]=5', 'PARAMETER_ERROR.ILLEGAL', 'limit[subscriptions]'],
    ['cursor=abc', 'PARAMETER_ERROR.INVALID', 'cursor'],
    ['limit=5&limit=6', 'PARAMETER_ERROR.INVALID', 'limit'],
  ])('GET …/inAppPurchasesV2?%s → 400 %s', async (query, code, parameter) => {
    const reply = await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2?${query}`, token);
    expect(reply.status).toBe(400);
    expect(firstError(reply)).toMatchObject({ status: '400', code, source: { parameter } });
  });

  it('limit=201 names the maximum; an unknown parameter uses Apple’s wording', async () => {
    const tooMany = await get(sim, `/v1/apps/${app.id}/subscriptionGroups?limit=201`, token);
    expect(firstError(tooMany).detail).toMatch(/200/);
    const unknown = await get(sim, '/v1/apps?sort=-name&page=1', token);
    expect(firstError(unknown).code).toMatch(/^PARAMETER_ERROR\./);
    const illegal = await get(sim, `/v1/apps/${app.id}/subscriptionGracePeriod?limit=5`, token);
    expect(firstError(illegal)).toMatchObject({
      code: 'PARAMETER_ERROR.ILLEGAL',
      detail: "The parameter 'limit' can not be used with this request",
    });
  });

  it('include limits above 50 are refused on /v1/apps/{id}', async () => {
    for (const query of ['limit[inAppPurchasesV2]=51', 'limit[subscriptionGroups]=51', 'include=nope']) {
      const reply = await get(sim, `/v1/apps/${app.id}?${query}`, token);
      expect(reply.status, query).toBe(400);
      expect(firstError(reply).code).toBe('PARAMETER_ERROR.INVALID');
    }
  });

  it('unknown ids and paths are 404s; other methods 405', async () => {
    expect(firstError(await get(sim, '/v1/apps/1234', token)).code).toBe('NOT_FOUND');
    expect(firstError(await get(sim, '/v1/subscriptionGroups/1234/subscriptions', token)).code).toBe(
      'NOT_FOUND',
    );
    expect(firstError(await get(sim, '/v1/subscriptionGracePeriods/1234', token)).code).toBe('NOT_FOUND');
    expect(firstError(await get(sim, '/v1/appz', token)).code).toBe('PATH_ERROR');
    const patch = await fetch(`${sim.baseUrl}/v1/subscriptionGracePeriods/${app.grace!.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(patch.status).toBe(405);
  });

  it('an app without grace settings answers 404 NOT_FOUND on …/subscriptionGracePeriod', async () => {
    const noGrace = sim.mutate.addApp({ bundleId: 'com.example.nograce' });
    const reply = await get(sim, `/v1/apps/${noGrace.id}/subscriptionGracePeriod`, token);
    expect(reply.status).toBe(404);
    expect(firstError(reply).code).toBe('NOT_FOUND');
    const withInclude = await get(sim, `/v1/apps/${noGrace.id}?include=subscriptionGracePeriod`, token);
    const doc = withInclude.body as {
      data: { relationships: Record<string, Relationship> };
      included: unknown[];
    };
    expect(doc.data.relationships['subscriptionGracePeriod']?.data).toBeUndefined();
    expect(doc.included).toEqual([]);
    sim.mutate.removeApp(noGrace.id);
  });

  it('filters select and count; fields select attributes and relationships', async () => {
    const product = app.iaps[5]!;
    const reply = await get(
      sim,
      `/v1/apps/${app.id}/inAppPurchasesV2?filter[productId]=${product.productId}&fields[inAppPurchases]=productId,state`,
      token,
    );
    const doc = reply.body as Doc;
    expect(doc.meta.paging.total).toBe(1);
    expect(doc.data[0]).toEqual({
      type: 'inAppPurchases',
      id: product.id,
      attributes: { productId: product.productId, state: product.state },
      links: { self: `${sim.baseUrl}/v2/inAppPurchases/${product.id}` },
    });
    const apps = (await get(sim, '/v1/apps?filter[bundleId]=com.example.app&fields[apps]=bundleId', token))
      .body as Doc;
    expect(apps.data).toHaveLength(1);
    expect(apps.data[0]!.attributes).toEqual({ bundleId: 'com.example.app' });
    expect(apps.data[0]!.relationships).toBeUndefined();
  });
});

async function collect(first: string): Promise<{ ids: string[]; pages: Doc[] }> {
  const pages: Doc[] = [];
  let next: string | undefined = first;
  while (next) {
    const reply = await get(sim, next, token);
    expect(reply.status, reply.text).toBe(200);
    const doc = reply.body as Doc;
    pages.push(doc);
    next = doc.links.next;
  }
  return { ids: pages.flatMap((page) => page.data.map((item) => item.id)), pages };
}

describe('pagination', () => {
  it('follows absolute next links across 3 pages, complete and without repeats', async () => {
    const { ids, pages } = await collect(`/v1/apps/${app.id}/inAppPurchasesV2?limit=200`);
    expect(pages.map((page) => page.data.length)).toEqual([200, 200, 50]);
    expect(pages.every((page) => page.meta.paging.total === 450 && page.meta.paging.limit === 200)).toBe(
      true,
    );
    expect(new Set(ids).size).toBe(450);
    expect(new Set(ids)).toEqual(new Set(app.iaps.map((iap) => iap.id)));
    expect(pages[0]!.links.next).toMatch(
      new RegExp(`^${sim.baseUrl}/v1/apps/${app.id}/inAppPurchasesV2\\?cursor=`),
    );
    expect(pages[0]!.meta.paging.nextCursor).toBe(new URL(pages[0]!.links.next!).searchParams.get('cursor'));
    expect(pages[2]!.links.next).toBeUndefined();
    // Asking again gives the same pages.
    expect((await collect(`/v1/apps/${app.id}/inAppPurchasesV2?limit=200`)).ids).toEqual(ids);
  });

  it('stays complete when the catalog changes between pages', async () => {
    const before = app.iaps.map((iap) => iap.id);
    const first = (await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2?limit=150`, token)).body as Doc;
    const seen = first.data.map((item) => item.id);
    // Between pages: one already-served product disappears, one is added, one later product changes.
    sim.mutate.removeProduct(seen[3]!);
    const added = sim.mutate.addProduct(app.id, { productId: 'com.example.app.latecomer' });
    const later = app.iaps
      .map((iap) => iap.id)
      .sort()
      .at(-1)!;
    sim.mutate.updateProduct(later, { state: 'REMOVED_FROM_SALE' });
    const rest = await collect(first.links.next!);
    const all = [...seen, ...rest.ids];
    expect(new Set(all).size).toBe(all.length);
    // Everything present throughout is served exactly once (the removed one was served before it went).
    for (const id of before) expect(all).toContain(id);
    expect(rest.pages.length).toBeGreaterThanOrEqual(2);
    sim.mutate.removeProduct(added.id);
    sim.mutate.addProduct(app.id, { id: seen[3]!, productId: 'com.example.app.restored' });
  });

  it('refuses cursors it did not make or made for another path', async () => {
    const first = (await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2?limit=10`, token)).body as Doc;
    const cursor = first.meta.paging.nextCursor!;
    const forged = `${Buffer.from('{"a":"1"}').toString('base64url')}.${cursor.split('.')[1]}`;
    for (const path of [
      `/v1/apps/${app.id}/inAppPurchasesV2?cursor=${forged}`,
      `/v1/apps/${app.id}/subscriptionGroups?cursor=${cursor}`,
      `/v1/apps?cursor=${cursor}`,
    ]) {
      const reply = await get(sim, path, token);
      expect(reply.status, path).toBe(400);
      expect(firstError(reply)).toMatchObject({
        code: 'PARAMETER_ERROR.INVALID',
        source: { parameter: 'cursor' },
      });
    }
    expect((await get(sim, `/v1/apps/${app.id}?cursor=${cursor}`, token)).status).toBe(400);
  });

  it('included subscriptions are capped per group, with the full total', async () => {
    const doc = (
      await get(
        sim,
        `/v1/apps/${app.id}/subscriptionGroups?include=subscriptions&limit[subscriptions]=50`,
        token,
      )
    ).body as Doc;
    const big = doc.data.find((group) => group.id === bigGroup.id)!;
    const relationship = big.relationships!['subscriptions']!;
    expect(relationship.meta?.paging).toEqual({ total: 60, limit: 50 });
    expect(relationship.data).toHaveLength(50);
    const includedIds = new Set(doc.included!.map((item) => item.id));
    expect((relationship.data as Linkage[]).every((link) => includedIds.has(link.id))).toBe(true);
    expect(doc.included).toHaveLength(50 + 4 + 1);
    for (const item of doc.included!) {
      expect(item.type).toBe('subscriptions');
      const owner = app.groups.find((group) => group.subscriptions.some((s) => s.id === item.id))!;
      expect(item.relationships!['group']).toEqual({ data: { type: 'subscriptionGroups', id: owner.id } });
    }
    const small = (
      await get(
        sim,
        `/v1/apps/${app.id}/subscriptionGroups?include=subscriptions&limit[subscriptions]=3`,
        token,
      )
    ).body as Doc;
    const capped = small.data.find((group) => group.id === bigGroup.id)!.relationships!['subscriptions']!;
    expect(capped.meta?.paging).toEqual({ total: 60, limit: 3 });
    expect(capped.data).toHaveLength(3);
    // The rest comes from the group's own collection.
    const { ids } = await collect(`/v1/subscriptionGroups/${bigGroup.id}/subscriptions?limit=25`);
    expect(new Set(ids)).toEqual(new Set(bigGroup.subscriptions.map((s) => s.id)));
  });

  it('GET /v1/apps/{id} with includes reports full totals, so counts need no extra request', async () => {
    const doc = (
      await get(
        sim,
        `/v1/apps/${app.id}?include=inAppPurchasesV2,subscriptionGroups,subscriptionGracePeriod&limit[inAppPurchasesV2]=50&limit[subscriptionGroups]=50`,
        token,
      )
    ).body as { data: Doc['data'][0]; included: { type: string; id: string }[] };
    const relationships = doc.data.relationships!;
    expect(relationships['inAppPurchasesV2']?.meta?.paging).toEqual({ total: 450, limit: 50 });
    expect(relationships['inAppPurchasesV2']?.data).toHaveLength(50);
    expect(relationships['subscriptionGroups']?.meta?.paging).toEqual({ total: 3, limit: 50 });
    expect(relationships['subscriptionGracePeriod']?.data).toEqual({
      type: 'subscriptionGracePeriods',
      id: app.grace!.id,
    });
    const types = doc.included.map((item) => item.type);
    expect(types.filter((t) => t === 'inAppPurchases')).toHaveLength(50);
    expect(types.filter((t) => t === 'subscriptionGroups')).toHaveLength(3);
    expect(types.filter((t) => t === 'subscriptionGracePeriods')).toHaveLength(1);
    // Without include there is no linkage and no paging, only links.
    const plain = (await get(sim, `/v1/apps/${app.id}`, token)).body as { data: Doc['data'][0] };
    expect(Object.keys(plain.data.relationships!['inAppPurchasesV2']!)).toEqual(['links']);
  });
});
