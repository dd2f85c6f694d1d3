import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { enqueueSync } from '../../../src/queue/producer.ts';
import { openQueue } from '../../../src/queue/queue.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { createProject, type TestContext, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import {
  freePort,
  type Services,
  serviceEnv,
  spawnWorker,
  until,
  type WorkerProcess,
} from '../jobs/support.ts';
import { httpGet, type OwnRedis, startOwnRedis } from './support.ts';

/*
 * Redis SIGKILLed (it comes back empty) while syncs run, and those syncs finish during the outage:
 * BullMQ cannot record their completion. The worker must let those jobs go (free the slot, stop
 * renewing the lock); the requests still pending in Postgres are served again once Redis is back,
 * a later burst runs at full concurrency, and /readyz says what is true throughout.
 */

const APP = '4100000001';
const getDb = useTestDatabase();
let ownRedis: OwnRedis;
let sim: Simulator;
let services: Services;
let ctx: TestContext;

beforeAll(async () => {
  ownRedis = await startOwnRedis();
  sim = await startSimulator({
    catalog: generateCatalog({ seed: 11, apps: [{ id: APP, iaps: 3, groups: 1, subscriptionsPerGroup: 2 }] }),
  });
  services = { databaseUrl: getDb().url, redisUrl: ownRedis.url, prefix: 'slots', simulatorUrl: sim.baseUrl };
  ctx = testContext(getDb().db, { ...serviceEnv(services), LOG_LEVEL: 'silent' });
}, 60_000);

afterAll(async () => {
  await sim?.close();
  await ownRedis?.kill();
});

const count = async (query: ReturnType<typeof sql>) =>
  rowsOf<{ n: number }>(await getDb().db.execute(query))[0]?.n ?? 0;

async function enqueueAll(projectIds: string[]) {
  const handle = await openQueue(ctx.config, 'client');
  try {
    for (const projectId of projectIds) await enqueueSync(handle.queue, projectId, 'manual', { db: ctx.db });
  } finally {
    await handle.close();
  }
}

const running = (ids: string[]) =>
  count(sql`select count(*)::int as n from sync_runs where status = 'running' and project_id in ${ids}`);

async function scenario(concurrency: number, processes: number) {
  const tag = `c${concurrency}p${processes}`;
  const slots = concurrency * processes;
  const first = Array.from({ length: slots }, (_, i) => `${tag}-run-${i}`);
  const waiting = Array.from({ length: 3 }, (_, i) => `${tag}-wait-${i}`);
  const burst = Array.from({ length: slots }, (_, i) => `${tag}-burst-${i}`);
  for (const id of [...first, ...waiting, ...burst]) await createProject(ctx, sim, id, APP);
  const port = await freePort();
  const worker: WorkerProcess = spawnWorker(
    serviceEnv(services, {
      WORKER_CONCURRENCY: String(concurrency),
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      SHUTDOWN_TIMEOUT_MS: '3000',
      SCHEDULE_RECONCILE_INTERVAL_MS: '0',
    }),
    processes > 1 ? ['--processes', String(processes)] : [],
  );
  try {
    await until(
      async () => (await httpGet(port, '/readyz').catch(() => ({ status: 0 }))).status === 200,
      'ready',
      110_000,
      200,
    );
    sim.setLatency(1_500);
    await enqueueAll(first);
    await until(async () => (await running(first)) === slots, 'every slot to run a sync');
    await enqueueAll(waiting);
    await ownRedis.kill();
    // The running syncs finish while Redis is down: their completion cannot be recorded.
    await until(
      async () =>
        (await count(
          sql`select count(*)::int as n from sync_runs where status = 'succeeded' and project_id in ${first}`,
        )) === slots,
      'the running syncs to finish during the outage',
    );
    expect((await httpGet(port, '/readyz')).status).toBe(503);
    sim.setLatency(0);
    await ownRedis.start();
    const back = Date.now();
    await until(
      async () =>
        (await count(
          sql`select count(*)::int as n from projects where sync_requested_at is not null and id like ${`${tag}-%`}`,
        )) === 0 &&
        (await count(
          sql`select count(distinct project_id)::int as n from sync_runs where status = 'succeeded' and project_id in ${waiting}`,
        )) === waiting.length,
      'every requested sync to complete after Redis came back',
      60_000,
      200,
    );
    expect(Date.now() - back).toBeLessThan(60_000);
    await until(async () => (await httpGet(port, '/readyz')).status === 200, 'ready again', 30_000, 200);
    // Every job so far has ended (a sync's detail refresh included), so the burst has every slot.
    const idle = await openQueue(ctx.config, 'client');
    try {
      await until(
        async () => (await idle.queue.getActiveCount()) + (await idle.queue.getWaitingCount()) === 0,
        'the queue to be idle',
      );
    } finally {
      await idle.close();
    }
    // No slot was lost: a burst of syncs long enough to overlap (each request takes 20 s, so a
    // structure sync runs for a minute or more) fills every one at once. On a loaded machine a
    // worker may take seconds to see new jobs, and a process that finds itself wedged is restarted
    // by its supervisor (jobs/slots.ts) within that minute: the burst still fills every slot.
    sim.setLatency(20_000);
    await enqueueAll(burst);
    await until(
      async () => (await running(burst)) === slots,
      'the burst to run at full concurrency',
      120_000,
      200,
    );
    sim.setLatency(0);
  } finally {
    sim.setLatency(0);
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
}

describe('Redis SIGKILLed while syncs finish during the outage', () => {
  it('one process, concurrency 1', () => scenario(1, 1), 240_000);
  it('one process, concurrency 10', () => scenario(10, 1), 240_000);
  it('two processes, concurrency 1', () => scenario(1, 2), 240_000);
  it('two processes, concurrency 10', () => scenario(10, 2), 240_000);
});
