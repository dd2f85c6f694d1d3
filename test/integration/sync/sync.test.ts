import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { listProducts, requestLowerBound, rulesInForce, syncProject } from '../../../src/sync/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { countRows, createProject, testContext } from './support.ts';

const getDb = useTestDatabase();
let sim: Simulator;
let ctx: ServiceContext;
const APP = '1000000001';

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 5,
      apps: [
        {
          id: APP,
          iaps: 250,
          groups: 2,
          subscriptionsPerGroup: [60, 4],
          grace: { optIn: true, sandboxOptIn: false, duration: 'SIXTEEN_DAYS', renewalType: 'PAID_TO_PAID_ONLY' },
        },
      ],
    }),
  });
  ctx = testContext(getDb().db, sim);
  await createProject(ctx, sim, 'first', APP);
});
afterAll(async () => {
  await sim?.close();
});

describe('first sync', () => {
  it('stores 250 IAPs (pages), a capped group of 60, a small group and the grace settings', async () => {
    sim.resetRequests();
    const summary = await syncProject(ctx, 'first', { trigger: 'manual' });
    expect(summary.changes).toEqual({
      'grace_period.added': 1,
      'product.added': 314,
      'revenue_attribution_rule.opened': 4,
      'subscription_group.added': 2,
    });
    const shape = { iaps: 250, groups: 2, subscriptionsPerGroup: [60, 4] };
    expect(summary.requests).toBe(requestLowerBound(shape));
    expect(sim.requestCounts()).toEqual({
      'GET /v1/apps/{id}': 1,
      'GET /v1/apps/{id}/inAppPurchasesV2': 2,
      'GET /v1/apps/{id}/subscriptionGroups': 1,
      'GET /v1/subscriptionGroups/{id}/subscriptions': 1,
    });
    const products = await listProducts(ctx, 'first');
    expect(products).toHaveLength(314);
    const rules = await rulesInForce(ctx, 'first');
    expect(rules.map((r) => [r.environment, r.renewalKind, r.graceDays])).toEqual([
      ['production', 'paid_to_paid', 16],
      ['production', 'offer_to_paid', 0],
      ['sandbox', 'paid_to_paid', 0],
      ['sandbox', 'offer_to_paid', 0],
    ]);
    const counts = await countRows(getDb().db, 'first');
    expect(counts).toEqual({
      products: 314,
      subscription_groups: 2,
      grace_period_settings: 1,
      catalog_changes: 317,
      revenue_attribution_rules: 4,
      sync_runs: 1,
    });
    const second = await syncProject(ctx, 'first', { trigger: 'manual' });
    expect(second.unchanged).toBe(true);
    expect(await countRows(getDb().db, 'first')).toEqual({ ...counts, sync_runs: 2 });
    const runs = rowsOf<{ status: string }>(await getDb().db.execute(sql`select status from sync_runs`));
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  });
});
