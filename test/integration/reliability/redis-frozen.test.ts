import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { enqueueSync } from '../../../src/queue/producer.ts';
import { openQueue } from '../../../src/queue/queue.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { createProject, type TestContext, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { freePort, type Services, serviceEnv, spawnWorker, syncRuns, until } from '../jobs/support.ts';
import { httpGet, type OwnRedis, startOwnRedis } from './support.ts';

/*
 * The record of a job's outcome that never comes back: Redis freezes (SIGSTOP: its connections stay
 * open, nothing is answered) while a sync runs, the sync ends in Postgres, and BullMQ's completion
 * waits for an answer that never comes. The worker lets the job go (its slot freed), and once Redis
 * is back (empty) the one slot serves the next sync.
 */

const APP = '4400000001';
const getDb = useTestDatabase();
let redis: OwnRedis;
let sim: Simulator;
let services: Services;
let ctx: TestContext;

beforeAll(async () => {
  redis = await startOwnRedis();
  sim = await startSimulator({
    catalog: generateCatalog({ seed: 14, apps: [{ id: APP, iaps: 3, groups: 1, subscriptionsPerGroup: 2 }] }),
  });
  services = { databaseUrl: getDb().url, redisUrl: redis.url, prefix: 'frozen', simulatorUrl: sim.baseUrl };
  ctx = testContext(getDb().db, { ...serviceEnv(services), LOG_LEVEL: 'silent' });
}, 60_000);

afterAll(async () => {
  await sim?.close();
  await redis?.kill();
});

async function enqueue(projectId: string) {
  const handle = await openQueue(ctx.config, 'client');
  try {
    await enqueueSync(handle.queue, projectId, 'manual', { db: ctx.db });
  } finally {
    await handle.close();
  }
}

describe('a job whose completion Redis never answers', () => {
  it('is let go: its slot is freed, and the next sync runs once Redis is back', async () => {
    await createProject(ctx, sim, 'frozen-a', APP);
    await createProject(ctx, sim, 'frozen-b', APP);
    const port = await freePort();
    const worker = spawnWorker(
      serviceEnv(services, {
        WORKER_CONCURRENCY: '1',
        WORKER_LOCK_DURATION_MS: '2000',
        // The sync's processor returns without touching Redis (no detail refresh after it).
        DETAILS_BUDGET_SHARE: '0',
        METRICS_PORT: String(port),
        METRICS_HOST: '127.0.0.1',
        SHUTDOWN_TIMEOUT_MS: '5000',
        SCHEDULE_RECONCILE_INTERVAL_MS: '0',
      }),
    );
    try {
      await until(
        async () => (await httpGet(port, '/readyz').catch(() => ({ status: 0 }))).status === 200,
        'ready',
      );
      sim.setLatency(1_000);
      await enqueue('frozen-a');
      const job = await until(
        async () => (await syncRuns(ctx.db, 'frozen-a')).find((r) => r.status === 'running'),
        'the sync to run',
      );
      redis.freeze();
      await until(
        async () => (await syncRuns(ctx.db, 'frozen-a')).some((r) => r.status === 'succeeded'),
        'the sync to end in Postgres while Redis is frozen',
      );
      sim.setLatency(0);
      const letGo = await worker.waitForLog((line) => line.msg?.startsWith('job let go') === true, 30_000);
      expect(letGo.jobId).toBe(job.job_id);
      // Frozen Redis: not ready, and saying which dependency.
      const frozen = await httpGet(port, '/readyz');
      expect(frozen.status).toBe(503);
      expect(JSON.parse(frozen.body).checks.redis.ok).toBe(false);

      await redis.kill();
      await redis.start();
      await enqueue('frozen-b');
      await until(
        async () => (await syncRuns(ctx.db, 'frozen-b')).some((r) => r.status === 'succeeded'),
        'the next sync to run in the freed slot',
        60_000,
      );
      await until(async () => (await httpGet(port, '/readyz')).status === 200, 'ready again', 30_000, 200);
      const pending = rowsOf(
        await getDb().db.execute(sql`select id from projects where sync_requested_at is not null`),
      );
      expect(pending).toEqual([]);
    } finally {
      sim.setLatency(0);
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  }, 180_000);
});
