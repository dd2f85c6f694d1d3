import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { enqueueSync } from '../../../src/queue/producer.ts';
import { openQueue, type QueueHandle } from '../../../src/queue/queue.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { createProject, type TestContext, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import {
  type Services,
  serviceEnv,
  spawnWorker,
  started,
  until,
  type WorkerProcess,
} from '../jobs/support.ts';
import { type OwnRedis, startOwnRedis } from './support.ts';

/*
 * Redis restarted without persistence while syncs wait: the jobs are gone, but every request was
 * recorded in Postgres, so the worker re-enqueues them when its connection is ready again.
 */

const SLOW = '4000000001';
const WAITING = ['4000000002', '4000000003', '4000000004'];
const getDb = useTestDatabase();
let ownRedis: OwnRedis;
let sim: Simulator;
let services: Services;
let ctx: TestContext;
let handle: QueueHandle;
let worker: WorkerProcess;

beforeAll(async () => {
  ownRedis = await startOwnRedis();
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 9,
      apps: [SLOW, ...WAITING].map((id) => ({ id, iaps: 3, groups: 1, subscriptionsPerGroup: 2 })),
    }),
  });
  services = {
    databaseUrl: getDb().url,
    redisUrl: ownRedis.url,
    prefix: 'restart',
    simulatorUrl: sim.baseUrl,
  };
  ctx = testContext(getDb().db, { ...serviceEnv(services), LOG_LEVEL: 'silent' });
  for (const app of [SLOW, ...WAITING]) await createProject(ctx, sim, `p-${app}`, app);
  worker = spawnWorker(
    serviceEnv(services, { WORKER_CONCURRENCY: '1', SCHEDULE_RECONCILE_INTERVAL_MS: '0' }),
  );
  await worker.waitForLog(started, 30_000);
  handle = await openQueue(ctx.config, 'client');
}, 60_000);

afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
  await handle?.close().catch(() => {});
  await sim?.close();
  await ownRedis?.kill();
});

async function succeeded(projectId: string): Promise<number> {
  const [row] = rowsOf<{ n: number }>(
    await getDb().db.execute(
      sql`select count(*)::int as n from sync_runs where project_id = ${projectId} and status = 'succeeded'`,
    ),
  );
  return row?.n ?? 0;
}

describe('Redis restarted empty with syncs waiting', () => {
  it('each requested sync runs after Redis comes back', async () => {
    // The one worker slot is held by a slow sync, so the others wait in Redis.
    sim.faults.add({ path: new RegExp(`^/v1/apps/${SLOW}`), times: 'always', latencyMs: 1_500 });
    await enqueueSync(handle.queue, `p-${SLOW}`, 'manual', { db: ctx.db });
    await until(
      async () =>
        rowsOf(
          await getDb().db.execute(
            sql`select 1 from sync_runs where project_id = ${`p-${SLOW}`} and status = 'running'`,
          ),
        ).length > 0,
      'the slow sync to start',
    );
    for (const app of WAITING) await enqueueSync(handle.queue, `p-${app}`, 'manual', { db: ctx.db });
    expect(await handle.queue.getWaitingCount()).toBe(WAITING.length);
    await handle.close();

    await ownRedis.kill();
    await ownRedis.start();
    // Nothing survived in Redis; only Postgres remembers the requests.
    await until(
      async () => {
        for (const app of [SLOW, ...WAITING]) if ((await succeeded(`p-${app}`)) < 1) return false;
        return true;
      },
      'every requested sync to succeed after the restart',
      60_000,
      200,
    );
    await worker.waitForLog(
      (l) => l.msg === 'pending sync requests re-enqueued from Postgres (Redis had lost them)',
    );
    await until(
      async () =>
        rowsOf(await getDb().db.execute(sql`select 1 from projects where sync_requested_at is not null`))
          .length === 0,
      'no request left pending',
      20_000,
    );
    sim.faults.clear();
  }, 120_000);
});
