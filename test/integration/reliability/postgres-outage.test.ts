import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase, rowsOf } from '../../../db/client.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { createProject, type TestContext, testContext } from '../../support/context.ts';
import { useTestRedis } from '../../support/redis.ts';
import {
  freePort,
  type PlainQueue,
  plainQueue,
  type Services,
  serviceEnv,
  spawnWorker,
  started,
  until,
  type WorkerProcess,
} from '../jobs/support.ts';
import { httpGet, type OwnPostgres, startOwnPostgres } from './support.ts';

/*
 * Postgres goes away for longer than every attempt's backoff together, then comes back: every
 * queued sync still completes, because an unreachable database delays a job without using an
 * attempt. Attempts are 2 (old behaviour: two tries ~5 s apart, then failed for good); the outage
 * lasts OUTAGE_MS and until every job has waited for the database several times.
 */

const OUTAGE_MS = 25_000;
const APPS = ['3000000001', '3000000002', '3000000003', '3000000004'];
const redis = useTestRedis();
let pg: OwnPostgres;
let database: Database;
let sim: Simulator;
let services: Services;
let ctx: TestContext;
let producer: PlainQueue;
let worker: WorkerProcess;
let metricsPort: number;

beforeAll(async () => {
  pg = await startOwnPostgres();
  database = await openDatabase({ databaseUrl: pg.url });
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 5,
      apps: APPS.map((id) => ({ id, iaps: 3, groups: 1, subscriptionsPerGroup: 2 })),
    }),
  });
  services = { databaseUrl: pg.url, redisUrl: redis.url, prefix: redis.prefix, simulatorUrl: sim.baseUrl };
  ctx = testContext(database.db, { ...serviceEnv(services), LOG_LEVEL: 'silent' });
  for (const app of APPS) await createProject(ctx, sim, `p-${app}`, app);
  producer = plainQueue(services);
  metricsPort = await freePort();
  worker = spawnWorker(
    serviceEnv(services, {
      SYNC_ATTEMPTS: '2',
      DATABASE_RETRY_DELAY_MS: '500',
      DATABASE_RETRY_MAX_DELAY_MS: '2000',
      METRICS_PORT: String(metricsPort),
      METRICS_HOST: '127.0.0.1',
      SCHEDULE_RECONCILE_INTERVAL_MS: '0',
    }),
  );
  await worker.waitForLog(started, 30_000);
}, 120_000);

afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
  await producer?.close();
  await sim?.close();
  await database?.close().catch(() => {});
  await pg?.remove();
});

const waits = () =>
  worker.logs.filter((l) => l.msg === 'database unreachable: job waits for it (no attempt used)');

describe('Postgres down for longer than all the backoff, then up', () => {
  it('every queued sync completes; the outage shows in /readyz and /metrics; no attempt is burned', async () => {
    await pg.stop();
    const outageStarted = Date.now();
    const jobs = await Promise.all(
      APPS.map((app) => producer.queue.add('sync-catalog', { projectId: `p-${app}`, trigger: 'manual' })),
    );
    // Every job has met the outage several times (state, not time) ...
    await until(
      async () => jobs.every((job) => waits().filter((l) => l.jobId === job.id).length >= 3),
      'every job to wait for the database three times',
      60_000,
      200,
    );
    const ready = await httpGet(metricsPort, '/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).checks.postgres.ok).toBe(false);
    expect((await httpGet(metricsPort, '/metrics')).body).toMatch(/^catalog_sync_database_up 0$/m);
    // ... and the outage outlasts the old backoff (two attempts, 5 s apart) several times over.
    const left = OUTAGE_MS - (Date.now() - outageStarted);
    if (left > 0) await sleep(left);
    for (const job of jobs) expect(await job.getState()).not.toBe('failed');

    await pg.start();
    const results = await Promise.all(jobs.map((job) => job.waitUntilFinished(producer.events, 60_000)));
    expect(results.map((r) => (r as { status: string }).status)).toEqual(APPS.map(() => 'succeeded'));
    for (const job of jobs) {
      const fresh = await producer.queue.getJob(String(job.id));
      // One counted attempt each: every wait for the database was free.
      expect(fresh?.attemptsMade).toBe(1);
    }
    const rows = rowsOf<{ project_id: string; status: string }>(
      await database.db.execute(sql`select project_id, status from sync_runs order by started_at`),
    );
    expect(
      rows
        .filter((r) => r.status === 'succeeded')
        .map((r) => r.project_id)
        .sort(),
    ).toEqual(APPS.map((app) => `p-${app}`).sort());
    expect(rows.filter((r) => r.status === 'running')).toEqual([]);
    await until(
      async () => (await httpGet(metricsPort, '/readyz')).status === 200,
      '/readyz to recover',
      20_000,
    );
    expect((await httpGet(metricsPort, '/metrics')).body).toMatch(/^catalog_sync_database_up 1$/m);
  }, 150_000);
});
