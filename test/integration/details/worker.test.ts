import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { keyLabel } from '../../../src/details/budget.ts';
import { createProject } from '../../support/context.ts';
import {
  freePort,
  serviceEnv,
  spawnWorker,
  started,
  useJobsHarness,
  type WorkerProcess,
} from '../jobs/support.ts';

/*
 * A real worker process: a sync-catalog job syncs the structure, then refreshes the new
 * products' details in the same job inside the key's budget; the metrics show detail requests
 * by endpoint, the key's budget under a hash of the key id (never the id), ages and health.
 */

const APP = '2000000001';
const harness = useJobsHarness({
  catalog: {
    seed: 11,
    apps: [{ id: APP, iaps: 3, groups: 1, subscriptionsPerGroup: 3, grace: {} }],
    details: true,
  },
  queue: 'plain',
});
const { db: getDb, sim, services, ctx, producer } = harness;
let worker: WorkerProcess;
let metricsPort: number;

beforeAll(async () => {
  metricsPort = await freePort();
  worker = spawnWorker(
    serviceEnv(services(), { METRICS_PORT: String(metricsPort), METRICS_HOST: '127.0.0.1' }),
  );
  await worker.waitForLog(started);
});

afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
});

describe('a worker process', () => {
  it('refreshes details after the structure in the same job, and reports them in its metrics', async () => {
    const { keyId } = await createProject(ctx(), sim(), 'detailed', APP);
    const job = await producer().queue.add('sync-catalog', { projectId: 'detailed', trigger: 'manual' });
    const result = (await job.waitUntilFinished(producer().events, 60_000)) as {
      status: string;
      details: { due: number; refreshed: number; deferred: number; failed: number; requests: number };
    };
    expect(result.status).toBe('succeeded');
    expect(result.details).toMatchObject({ due: 6, refreshed: 6, deferred: 0, failed: 0 });
    const [row] = rowsOf<{ n: number; read: number }>(
      await getDb().db.execute(sql`
        select (select count(distinct product_apple_id)::int from product_prices where project_id = 'detailed') as n,
               (select count(*)::int from products where project_id = 'detailed' and details_read_at is not null) as read`),
    );
    expect(row).toEqual({ n: 6, read: 6 });

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/catalog_sync_detail_requests_total\{endpoint="details\.subscription"\} 3/);
    // Used: the details' own requests, plus what Apple's X-Rate-Limit says the structure took from the key.
    const used = metrics
      .split('\n')
      .find((l) => l.startsWith(`catalog_sync_details_budget_used{key="${keyLabel(keyId)}"}`));
    expect(Number(used?.split(' ')[1])).toBeGreaterThanOrEqual(result.details.requests);
    // Details read a moment ago: a fraction of a second old on a fast machine, never zero.
    const oldest = metrics.split('\n').find((l) => l.startsWith('catalog_sync_details_age_oldest_seconds '));
    expect(Number(oldest?.split(' ')[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/catalog_sync_details_age_seconds_count 6/);
    // Counted into cumulative buckets by Postgres: all six read within the first bucket (5 minutes).
    expect(metrics).toMatch(/catalog_sync_details_age_seconds_bucket\{le="300"\} 6/);
    expect(metrics).toMatch(/catalog_sync_details_age_seconds_bucket\{le="\+Inf"\} 6/);
    expect(metrics).toMatch(/catalog_sync_catalog_health_issues\{kind="stale_details"\} 0/);
    // The details metrics never carry the key id (the older rate-limit gauges are not this issue's).
    expect(metrics.split('\n').filter((l) => l.includes('details') && l.includes(keyId))).toEqual([]);
  });
});
