import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { createDetailsBudget } from '../../../src/details/budget.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { jsonOf, runCli } from '../../support/cli.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { useTestRedis } from '../../support/redis.ts';
import { ENCRYPTION_KEY, syncEnv } from '../sync/support.ts';

/*
 * `catalog-sync sync <project> --inline` runs what the worker's job runs: the structure, then the
 * project's due details inside the key's details share — the same budget in Redis the workers
 * spend, so an operator's inline sync never takes more of the key than its share. `--no-details`
 * skips the details. The key's limit is small (LIMIT a window, a window longer than the file)
 * so the share binds after a few products.
 */

const getDb = useTestDatabase();
const redis = useTestRedis();
let sim: Simulator;
let keyId: string;
const APP = '3000000001';
const LIMIT = 60;
const SHARE = 0.5;
const WINDOW_S = 600;

const settings = { hourlyLimit: LIMIT, share: SHARE, windowSeconds: WINDOW_S, prefix: redis.prefix };

const cli = (...args: string[]) =>
  runCli(args, {
    DATABASE_URL: getDb().url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
    CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    DETAILS_BUDGET_SHARE: String(SHARE),
    APP_STORE_CONNECT_HOURLY_LIMIT: String(LIMIT),
    DETAILS_BUDGET_WINDOW_SECONDS: String(WINDOW_S),
  });

async function readCount(): Promise<number> {
  const [row] = rowsOf<{ n: number }>(
    await getDb().db.execute(
      sql`select count(*)::int as n from products where project_id = 'ops' and details_read_at is not null`,
    ),
  );
  return row!.n;
}

let connection: Redis;

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 8,
      apps: [{ id: APP, iaps: 6, groups: 1, subscriptionsPerGroup: 6, grace: {} }],
      details: true,
    }),
    rateLimit: { perHour: LIMIT, windowMs: WINDOW_S * 1000 },
  });
  ({ keyId } = await createProject(testContext(getDb().db, syncEnv(sim)), sim, 'ops', APP));
  connection = new Redis(redis.url);
});
afterAll(async () => {
  connection?.disconnect();
  await sim?.close();
});

describe('sync --inline and the details', () => {
  it('--no-details syncs the structure only', async () => {
    const result = await cli('sync', 'ops', '--inline', '--no-details');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Synced project ops');
    expect(result.stdout).toContain('Details: not refreshed (--no-details).');
    expect(await readCount()).toBe(0);
    expect(Object.keys(sim.detailRequestCounts())).toEqual([]);
    // Without --inline the worker decides: refused as a usage error.
    const queued = await cli('sync', 'ops', '--no-details');
    expect(queued.code).toBe(2);
    expect(queued.stderr).toContain('--no-details');
  });

  it('reads nothing while the workers have spent the key’s details share (the budget is the one in Redis)', async () => {
    const budget = createDetailsBudget(connection, settings);
    // A worker spent the share: the inline sync finds it so in Redis.
    expect((await budget.reserve(keyId, budget.points)).granted).toBe(true);
    const result = await cli('sync', 'ops', '--inline', '--json');
    expect(result.code).toBe(0);
    const details = jsonOf(result).details as Record<string, unknown>;
    expect(details).toMatchObject({ due: 12, refreshed: 0, deferred: 12, stoppedBy: 'budget', stale: 12 });
    expect(await readCount()).toBe(0);
    expect(Object.keys(sim.detailRequestCounts())).toEqual([]);
    await budget.settle(keyId, budget.points, 0);
  });

  it('reads the due details within the share, says what is left stale, and never meets a 429', async () => {
    const result = await cli('sync', 'ops', '--inline', '--json');
    expect(result.code).toBe(0);
    const value = jsonOf(result) as { requests: number; details: Record<string, number | string | null> };
    const details = value.details;
    expect(details.error).toBeNull();
    expect(details.stoppedBy).toBe('budget');
    expect(details.refreshed).toBeGreaterThan(0);
    expect(details.deferred).toBeGreaterThan(0);
    expect(Number(details.refreshed) + Number(details.deferred)).toBe(12);
    expect(details.stale).toBe(details.deferred);
    expect(await readCount()).toBe(details.refreshed);
    // The details left Apple the structure's reserve, less at most what the last product read
    // cost beyond its estimate (a first read reserves its kind's typical cost).
    const largest = Math.max(
      ...Object.values(sim.detailRequestCounts()).map((byEndpoint) =>
        Object.values(byEndpoint).reduce((a, b) => a + b, 0),
      ),
    );
    expect(sim.budget(keyId).remaining).toBeGreaterThanOrEqual(LIMIT * (1 - SHARE) - largest);
    expect(sim.statusCounts()['429'] ?? 0).toBe(0);

    // Run again, readable: the share is spent until the window rolls, and the line says so.
    const again = await cli('sync', 'ops', '--inline');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      new RegExp(
        `Details: refreshed 0 of ${details.deferred} due products in 0 requests; ${details.deferred} left for a later run: the key's details budget is spent for \\d+ s more; ${details.deferred} stale`,
      ),
    );
    expect(sim.statusCounts()['429'] ?? 0).toBe(0);
  });
});
