import { describe, expect, it } from 'vitest';
import { type AppleSchemaName, schemaErrors } from './apple-schemas.ts';
import { get, keyWithToken, smallCatalog, useSimulator } from './helpers.ts';

/* Every document the simulator sends for the seven endpoints satisfies Apple's schemas. */

const sim = await useSimulator({ catalog: smallCatalog() });
const { token } = await keyWithToken(sim);
const app = sim.catalog.apps[0]!;
const group = app.groups[0]!;
const graceId = app.grace!.id;

const ok: [string, AppleSchemaName][] = [
  ['/v1/apps', 'AppsResponse'],
  ['/v1/apps?filter[bundleId]=com.example.app&fields[apps]=name,bundleId,sku,primaryLocale', 'AppsResponse'],
  [
    '/v1/apps?include=inAppPurchasesV2,subscriptionGroups,subscriptionGracePeriod&limit[inAppPurchasesV2]=3',
    'AppsResponse',
  ],
  ['/v1/apps?limit=1', 'AppsResponse'],
  [`/v1/apps/${app.id}`, 'AppResponse'],
  [
    `/v1/apps/${app.id}?include=inAppPurchasesV2,subscriptionGroups,subscriptionGracePeriod&limit[inAppPurchasesV2]=50&limit[subscriptionGroups]=1`,
    'AppResponse',
  ],
  [
    `/v1/apps/${app.id}?include=appStoreVersions,appStoreIcon&fields[apps]=name,appStoreVersions`,
    'AppResponse',
  ],
  [`/v1/apps/${app.id}/inAppPurchasesV2`, 'InAppPurchasesV2Response'],
  [`/v1/apps/${app.id}/inAppPurchasesV2?limit=2`, 'InAppPurchasesV2Response'],
  [
    `/v1/apps/${app.id}/inAppPurchasesV2?limit=200&fields[inAppPurchases]=name,productId,inAppPurchaseType,state,reviewNote,familySharable,contentHosting`,
    'InAppPurchasesV2Response',
  ],
  [
    `/v1/apps/${app.id}/inAppPurchasesV2?include=inAppPurchaseLocalizations,content`,
    'InAppPurchasesV2Response',
  ],
  [`/v1/apps/${app.id}/subscriptionGroups`, 'SubscriptionGroupsResponse'],
  [
    `/v1/apps/${app.id}/subscriptionGroups?include=subscriptions&limit[subscriptions]=2`,
    'SubscriptionGroupsResponse',
  ],
  [
    `/v1/apps/${app.id}/subscriptionGroups?include=subscriptions&limit=200&limit[subscriptions]=50&fields[subscriptions]=name,productId,familySharable,state,subscriptionPeriod,reviewNote,groupLevel,group`,
    'SubscriptionGroupsResponse',
  ],
  [`/v1/subscriptionGroups/${group.id}/subscriptions`, 'SubscriptionsResponse'],
  [`/v1/subscriptionGroups/${group.id}/subscriptions?sort=-name&limit=1`, 'SubscriptionsResponse'],
  [
    `/v1/subscriptionGroups/${group.id}?include=subscriptionGroupLocalizations,versions,subscriptions&limit[versions]=50`,
    'SubscriptionGroupResponse',
  ],
  [
    `/v1/apps/${app.id}/subscriptionGroups?include=subscriptionGroupLocalizations,versions`,
    'SubscriptionGroupsResponse',
  ],
  [`/v1/apps/${app.id}/inAppPurchasesV2?sort=-inAppPurchaseType,name`, 'InAppPurchasesV2Response'],
  [`/v1/subscriptionGroups/${group.id}/subscriptions?include=group&limit=1`, 'SubscriptionsResponse'],
  [`/v1/apps/${app.id}/subscriptionGracePeriod`, 'SubscriptionGracePeriodResponse'],
  [
    `/v1/apps/${app.id}/subscriptionGracePeriod?fields[subscriptionGracePeriods]=optIn,duration`,
    'SubscriptionGracePeriodResponse',
  ],
  [`/v1/subscriptionGracePeriods/${graceId}`, 'SubscriptionGracePeriodResponse'],
];

describe('documents validate against Apple’s schemas', () => {
  it.each(ok)('GET %s → %s', async (path, schema) => {
    const reply = await get(sim, path, token);
    expect(reply.status, reply.text).toBe(200);
    expect(schemaErrors(schema, reply.body)).toEqual([]);
  });

  it('error documents validate as ErrorResponse (400, 401, 403, 404, 429)', async () => {
    const finance = await keyWithToken(sim, { role: 'FINANCE' });
    const agreements = await keyWithToken(sim, { agreementsMissing: true });
    const replies = [
      await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2?limit=201`, token),
      await get(sim, `/v1/apps/${app.id}/subscriptionGroups?sort=referenceName`, token),
      await get(sim, '/v1/apps'),
      await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2`, finance.token),
      await get(sim, '/v1/apps', agreements.token),
      await get(sim, '/v1/apps/999', token),
      await get(sim, '/v1/nothing', token),
    ];
    const limited = await keyWithToken(sim, { rateLimitPerHour: 1 });
    await get(sim, '/v1/apps', limited.token);
    replies.push(await get(sim, '/v1/apps', limited.token));
    expect(replies.map((r) => r.status)).toEqual([400, 400, 401, 403, 403, 404, 404, 429]);
    for (const reply of replies) expect(schemaErrors('ErrorResponse', reply.body)).toEqual([]);
  });

  it('the validator rejects documents that break Apple’s schemas', async () => {
    const reply = await get(sim, `/v1/apps/${app.id}/inAppPurchasesV2`, token);
    const broken = structuredClone(reply.body) as { data: { attributes: Record<string, unknown> }[] };
    broken.data[0]!.attributes['inAppPurchaseType'] = 'AUTOMATICALLY_RENEWABLE_SUBSCRIPTION';
    expect(schemaErrors('InAppPurchasesV2Response', broken)).not.toEqual([]);
    expect(schemaErrors('InAppPurchasesV2Response', { data: [] })).not.toEqual([]); // links is required
    expect(schemaErrors('ErrorResponse', { errors: [{ status: '400', code: 'X', title: 'T' }] })).not.toEqual(
      [],
    );
  });
});
