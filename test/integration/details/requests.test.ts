import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceContext } from '../../../src/context.ts';
import { type DetailShape, detailRequestLowerBound } from '../../../src/details/plan.ts';
import { refreshDetails } from '../../../src/details/refresh.ts';
import {
  generateCatalog,
  type SimApp,
  type SimDetails,
  type Simulator,
  startSimulator,
  TERRITORIES,
} from '../../../src/simulator/index.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { syncEnv } from '../sync/support.ts';

/*
 * Detail requests per product equal the lower bound of plan.ts for the product's shape, counted
 * by the simulator per product and key, for several shapes: the generated defaults (prices in
 * 175 territories with scheduled changes, paid introductory offers, one offer of each kind),
 * more locales than an include holds, prices scheduled in every territory (two pages), a free
 * trial in a few territories without availability, and products without any details.
 */

const getDb = useTestDatabase();
let sim: Simulator;
let ctx: ServiceContext;
let keyId: string;
const APP = '1000000001';
const PROJECT = 'counted';

const app = (): SimApp => sim.catalog.apps.find((a) => a.id === APP)!;

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 21,
      apps: [{ id: APP, iaps: 3, groups: 2, subscriptionsPerGroup: 3, grace: {} }],
      details: { scheduledShare: 0.5, manualShare: 0.5, iapOfferCodes: 1 },
    }),
  });
  ctx = testContext(getDb().db, syncEnv(sim));
  ({ keyId } = await createProject(ctx, sim, PROJECT, APP));

  const subs = app().groups.flatMap((g) => g.subscriptions);
  const detailsOf = (id: string): SimDetails =>
    structuredClone([...subs, ...app().iaps].find((p) => p.id === id)!.details!);
  // More locales than the include's cap of 50.
  const many = detailsOf(subs[1]!.id);
  many.localizations = Array.from({ length: 60 }, (_, i) => ({
    id: `${subs[1]!.id}-loc-${i}`,
    locale: `x${String(i).padStart(2, '0')}-ZZ`,
    name: `Name ${i}`,
    description: null,
    state: 'APPROVED',
  }));
  sim.mutate.setDetails(subs[1]!.id, many);
  // A scheduled change in every territory: 350 price records, two pages.
  const everywhere = detailsOf(subs[2]!.id);
  everywhere.prices = [
    { startDate: null, tier: 5 },
    { startDate: '2099-01-01', tier: 6 },
  ];
  sim.mutate.setDetails(subs[2]!.id, everywhere);
  // A free trial in 10 territories, no other offer, no availability.
  const trial = detailsOf(subs[3]!.id);
  trial.offers = [
    {
      id: `${subs[3]!.id}-trial`,
      kind: 'introductory',
      duration: 'ONE_WEEK',
      offerMode: 'FREE_TRIAL',
      numberOfPeriods: 1,
      tier: null,
      territories: TERRITORIES.slice(0, 10).map((t) => t.id),
    },
  ];
  trial.availability = null;
  sim.mutate.setDetails(subs[3]!.id, trial);
  // No details at all.
  sim.mutate.setDetails(subs[4]!.id, null);
  sim.mutate.setDetails(app().iaps[1]!.id, null);
});

afterAll(async () => {
  await sim?.close();
});

describe('detail requests', () => {
  it('equal the lower bound for every product shape', async () => {
    const summary = await syncProject(ctx, PROJECT, { trigger: 'manual' });
    sim.resetRequests();
    const details = await refreshDetails(ctx, { projectId: PROJECT, runId: summary.runId, budget: null });
    expect(details.failed).toEqual([]);
    const counted = sim.detailRequestCounts({ keyId });
    const shapes = new Map<string, DetailShape>();
    for (const product of details.refreshed) {
      const total = Object.values(counted[product.appleId] ?? {}).reduce((a, b) => a + b, 0);
      expect({ product: product.appleId, requests: total }).toEqual({
        product: product.appleId,
        requests: detailRequestLowerBound(product.shape),
      });
      expect(product.requests).toBe(total);
      shapes.set(product.appleId, product.shape);
    }
    expect(details.refreshed).toHaveLength(9);
    const subs = app().groups.flatMap((g) => g.subscriptions);
    expect(shapes.get(subs[1]!.id)!.locales).toBe(60);
    expect(shapes.get(subs[2]!.id)!.priceRecords).toBe(2 * TERRITORIES.length);
    expect(shapes.get(subs[3]!.id)).toMatchObject({
      introductoryRecords: 10,
      introductoryPaid: false,
      availabilityTerritories: null,
    });
    expect(detailRequestLowerBound(shapes.get(subs[4]!.id)!)).toBe(1);
    // Each subscription group's metadata (localizations, versions) costs one request per run,
    // however many of its subscriptions are read, and nothing per product.
    expect(details.groups.map((g) => g.groupAppleId).sort()).toEqual(
      app()
        .groups.map((g) => g.id)
        .sort(),
    );
    for (const group of details.groups) expect(group.requests).toBe(group.lowerBound);
    expect(sim.requestCounts({ keyId })['GET /v1/subscriptionGroups/{id}']).toBe(app().groups.length);
    // Every other detail request is attributed to a product: the total is the sum of the bounds.
    const all =
      details.refreshed.reduce((n, p) => n + p.lowerBound, 0) +
      details.groups.reduce((n, g) => n + g.lowerBound, 0);
    expect(details.requests).toBe(all);
  });
});
