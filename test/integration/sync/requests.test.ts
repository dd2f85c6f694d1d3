import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../../db/client.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { type CatalogShape, requestLowerBound, syncProject } from '../../../src/sync/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { syncEnv } from './support.ts';

/*
 * The fetch makes exactly the fewest requests the catalog's shape allows (counted by the
 * simulator, per key; one group read directly, two or more through the groups listing), and the apply issues the same number of SQL statements whatever
 * the catalog's size (counted by openDatabase's onQuery hook).
 */

const getDb = useTestDatabase();
let sim: Simulator;

interface Case {
  name: string;
  shape: CatalogShape;
  grace: boolean;
}

const CASES: Case[] = [
  { name: 'empty app, no grace', shape: { iaps: 0, groups: 0, subscriptionsPerGroup: [] }, grace: false },
  {
    name: '50 IAPs (the include holds all)',
    shape: { iaps: 50, groups: 0, subscriptionsPerGroup: [] },
    grace: true,
  },
  {
    name: '51 IAPs, one empty group',
    shape: { iaps: 51, groups: 1, subscriptionsPerGroup: [0] },
    grace: true,
  },
  {
    name: 'one group of 50 (its collection directly, no listing)',
    shape: { iaps: 7, groups: 1, subscriptionsPerGroup: [50] },
    grace: true,
  },
  {
    name: 'one group of 120 (app + one page of its collection: 2 requests)',
    shape: { iaps: 0, groups: 1, subscriptionsPerGroup: [120] },
    grace: true,
  },
  {
    name: 'two groups, one capped (listing, then the capped group)',
    shape: { iaps: 10, groups: 2, subscriptionsPerGroup: [120, 3] },
    grace: false,
  },
  {
    name: '450 IAPs, groups of 50, 51, 200 and 201',
    shape: { iaps: 450, groups: 4, subscriptionsPerGroup: [50, 51, 200, 201] },
    grace: true,
  },
  {
    name: '201 groups of one subscription',
    shape: { iaps: 3, groups: 201, subscriptionsPerGroup: Array.from({ length: 201 }, () => 1) },
    grace: false,
  },
];

const appId = (index: number) => String(2_000_000_000 + index);

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 9,
      apps: [
        ...CASES.map((c, index) => ({
          id: appId(index),
          iaps: c.shape.iaps,
          groups: c.shape.groups,
          subscriptionsPerGroup: c.shape.subscriptionsPerGroup.length > 0 ? c.shape.subscriptionsPerGroup : 0,
          grace: c.grace ? {} : null,
        })),
        { id: appId(100), iaps: 5, groups: 1, subscriptionsPerGroup: 3, grace: {} },
        { id: appId(101), iaps: 400, groups: 3, subscriptionsPerGroup: [60, 10, 0], grace: {} },
      ],
    }),
  });
});
afterAll(async () => {
  await sim?.close();
});

describe('requests per sync', () => {
  it.each(CASES.map((c, index) => [c.name, c, index] as const))(
    '%s: exactly the lower bound',
    async (_name, c, index) => {
      const ctx = testContext(getDb().db, syncEnv(sim));
      const projectId = `shape-${index}`;
      const { keyId } = await createProject(ctx, sim, projectId, appId(index));
      const summary = await syncProject(ctx, projectId, { trigger: 'manual' });
      const counts = sim.requestCounts({ keyId });
      const seen = Object.values(counts).reduce((sum, n) => sum + n, 0);
      const bound = requestLowerBound(c.shape);
      expect(summary.shape).toEqual({
        iaps: c.shape.iaps,
        groups: c.shape.groups,
        subscriptions: c.shape.subscriptionsPerGroup.reduce((sum, n) => sum + n, 0),
      });
      expect(seen).toBe(bound);
      expect(summary.requests).toBe(bound);
      expect(summary.requestLowerBound).toBe(bound);
      // One group is read through its own collection; only two or more need the groups listing.
      expect('GET /v1/apps/{id}/subscriptionGroups' in counts).toBe(c.shape.groups >= 2);
      const products = c.shape.iaps + c.shape.subscriptionsPerGroup.reduce((sum, n) => sum + n, 0);
      expect(summary.changes['product.added'] ?? 0).toBe(products);
    },
  );
});

describe('SQL statements per sync', () => {
  let counted: Database;
  let statements: string[] = [];

  beforeAll(async () => {
    counted = await openDatabase({ databaseUrl: getDb().url, onQuery: (query) => statements.push(query) });
  });
  afterAll(async () => {
    await counted?.close();
  });

  async function measure(ctx: ServiceContext, projectId: string): Promise<number> {
    statements = [];
    await syncProject(ctx, projectId, { trigger: 'manual' });
    return statements.length;
  }

  /** The same kinds of change in either catalog: one of each product action, a group rename, a grace change. */
  function mutate(app: string) {
    const target = sim.catalog.apps.find((a) => a.id === app)!;
    sim.mutate.addProduct(app, {});
    sim.mutate.updateProduct(target.iaps[0]!.id, { name: `renamed ${Date.now()}` });
    sim.mutate.removeProduct(target.iaps[1]!.id);
    sim.mutate.updateGroup(target.groups[0]!.id, { referenceName: `renamed ${Date.now()}` });
    sim.mutate.setGrace(app, {
      duration: target.grace?.duration === 'THREE_DAYS' ? 'SIXTEEN_DAYS' : 'THREE_DAYS',
    });
  }

  it('is the same for 8 products as for 470, on a first, an unchanged and a changing sync', async () => {
    const ctx = testContext(counted.db, syncEnv(sim));
    await createProject(ctx, sim, 'small', appId(100));
    await createProject(ctx, sim, 'large', appId(101));

    const first = [await measure(ctx, 'small'), await measure(ctx, 'large')];
    const unchanged = [await measure(ctx, 'small'), await measure(ctx, 'large')];
    mutate(appId(100));
    mutate(appId(101));
    const changing = [await measure(ctx, 'small'), await measure(ctx, 'large')];

    expect(first[0]).toBe(first[1]);
    expect(unchanged[0]).toBe(unchanged[1]);
    expect(changing[0]).toBe(changing[1]);
    // And small in absolute terms (see apply.ts for the list; the outbox event and the served
    // request added one statement each to the first round's 20).
    expect(Math.max(...first, ...changing)).toBeLessThanOrEqual(22);
    expect(unchanged[0]).toBeLessThan(first[0]!);
    console.info(
      `statements per sync: first ${first[0]}, unchanged ${unchanged[0]}, changing ${changing[0]}`,
    );
  });
});
