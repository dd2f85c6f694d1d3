import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projects } from '../../../db/schema.ts';
import { catalogHealth } from '../../../src/app/details.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { saveCredentials } from '../../../src/credentials/index.ts';
import { createDetailsBudget } from '../../../src/details/budget.ts';
import { refreshDetails } from '../../../src/details/refresh.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { useTestRedis } from '../../support/redis.ts';
import { until } from '../../support/wait.ts';
import { syncEnv } from '../sync/support.ts';

/*
 * Three projects share one key whose budget binds (the simulator's hour scaled to a minute).
 * Two budget instances on separate Redis connections stand for two worker processes. Details
 * spend at most their share, Apple never answers 429, the structure syncs that follow still
 * have their reserve, and what was left over is reported as stale.
 * (The full scenario — 20 projects × 500 products, two worker processes — is not here.)
 */

const getDb = useTestDatabase();
const redis = useTestRedis();
let sim: Simulator;
let ctx: ServiceContext;
const APPS = ['1000000001', '1000000002', '1000000003'];
const PER_HOUR = 400;
const SHARE = 0.5;

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 5,
      apps: APPS.map((id) => ({ id, iaps: 10, groups: 1, subscriptionsPerGroup: 10, grace: {} })),
      details: true,
    }),
    rateLimit: { perHour: PER_HOUR, windowMs: 120_000 },
  });
  ctx = testContext(getDb().db, syncEnv(sim));
  const key = await sim.createKey();
  for (const [i, appId] of APPS.entries()) {
    await saveCredentials(ctx, `p${i}`, {
      keyId: key.keyId,
      issuerId: key.issuerId,
      privateKey: key.privateKeyPem,
    });
    await ctx.db
      .update(projects)
      .set({ appStoreId: appId })
      .where(eq(projects.id, `p${i}`));
  }
});

afterAll(async () => {
  await sim?.close();
});

describe('the details budget of a shared key', () => {
  it('spends at most its share across processes, never meets a 429, and leaves the structure its reserve', async () => {
    const runs = await Promise.all(APPS.map((_, i) => syncProject(ctx, `p${i}`, { trigger: 'manual' })));
    const connections = [new Redis(redis.url), new Redis(redis.url)];
    try {
      const settings = { hourlyLimit: PER_HOUR, share: SHARE, windowSeconds: 120, prefix: redis.prefix };
      const budgets = connections.map((c) => createDetailsBudget(c, settings));
      const summaries = await Promise.all(
        runs.map((run, i) =>
          refreshDetails(ctx, { projectId: run.projectId, runId: run.runId, budget: budgets[i % 2]! }),
        ),
      );
      const spent = summaries.reduce((n, s) => n + s.requests, 0);
      const largest = Math.max(...summaries.flatMap((s) => s.refreshed.map((p) => p.requests)));
      expect(spent).toBeLessThanOrEqual(PER_HOUR * SHARE + largest);
      expect(summaries.some((s) => s.stoppedBy === 'budget')).toBe(true);
      expect(summaries.reduce((n, s) => n + s.deferred, 0)).toBeGreaterThan(0);
      expect(summaries.every((s) => s.failed.length === 0)).toBe(true);

      // The structure still has its reserve: every project syncs again.
      for (const [i] of APPS.entries()) await syncProject(ctx, `p${i}`, { trigger: 'manual' });
      expect(sim.requests.filter((r) => r.status === 429)).toEqual([]);

      // What was left is reported as stale.
      const stale = await Promise.all(APPS.map((_, i) => catalogHealth(ctx, { projectId: `p${i}` })));
      expect(stale.reduce((n, h) => n + h.staleProducts, 0)).toBe(
        summaries.reduce((n, s) => n + s.deferred, 0),
      );

      // The budget is shared: both instances see the same state.
      const [a, b] = await Promise.all(budgets.map((budget) => budget.state(sim.keys.list()[0]!.keyId)));
      expect(a!.used).toBe(b!.used);
      expect(a!.left).toBeLessThan(largest);
    } finally {
      for (const c of connections) c.disconnect();
    }
  });

  it("gives the details their share back as Apple's rolling hour frees up, not a window later", async () => {
    // Apple's hour rolls; the limiter's window is fixed. A burst at the start of one window is
    // still in Apple's hour when the next window opens, so the first answers then say the key
    // has no room for details — and an hour later (minutes later here) they say it has. The
    // details must follow Apple's word both ways, or every other window goes idle.
    const connection = new Redis(redis.url);
    try {
      const keyId = 'ROLLING-KEY';
      const settings = {
        hourlyLimit: PER_HOUR,
        share: SHARE,
        windowSeconds: 1,
        prefix: `${redis.prefix}:rolling`,
      };
      const budget = createDetailsBudget(connection, settings);
      const reserve = Math.ceil(PER_HOUR * (1 - SHARE));
      expect((await budget.reserve(keyId, budget.points)).granted).toBe(true);
      await until(async () => (await budget.state(keyId)).used === 0, "the limiter's next window");
      // The burst is still in Apple's rolling hour: no room.
      await budget.correct(keyId, { 'user-hour-lim': PER_HOUR, 'user-hour-rem': reserve });
      expect((await budget.reserve(keyId, 1)).granted).toBe(false);
      // It has left Apple's hour (the structure's requests stay counted): room again, at once.
      await budget.correct(keyId, { 'user-hour-lim': PER_HOUR, 'user-hour-rem': PER_HOUR - 10 });
      const again = await budget.reserve(keyId, 5);
      expect(again.granted).toBe(true);
      expect((await budget.state(keyId)).left).toBe(PER_HOUR - 10 - reserve - 5);
    } finally {
      connection.disconnect();
    }
  });
});
