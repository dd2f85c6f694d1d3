import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../../db/client.ts';
import { enqueueSync } from '../../../src/queue/producer.ts';
import { openQueue } from '../../../src/queue/queue.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { createProject, type TestContext, testContext } from '../../support/context.ts';
import {
  freePort,
  type LogLine,
  type Services,
  serviceEnv,
  spawnWorker,
  syncRuns,
  until,
  type WorkerProcess,
} from '../jobs/support.ts';
import { httpGet, type OwnPostgres, type OwnRedis, startOwnPostgres, startOwnRedis } from './support.ts';

/*
 * A worker group on a bad day, with real processes: its supervisor SIGKILLed while the children
 * drain a job whose completion cannot be recorded, and its Redis and Postgres both gone for a while.
 */

const APP = '4200000001';
let pg: OwnPostgres;
let redis: OwnRedis;
let database: Database;
let sim: Simulator;
let services: Services;
let ctx: TestContext;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startOwnPostgres(), startOwnRedis()]);
  database = await openDatabase({ databaseUrl: pg.url });
  sim = await startSimulator({
    catalog: generateCatalog({ seed: 12, apps: [{ id: APP, iaps: 3, groups: 1, subscriptionsPerGroup: 2 }] }),
  });
  services = { databaseUrl: pg.url, redisUrl: redis.url, prefix: 'group', simulatorUrl: sim.baseUrl };
  ctx = testContext(database.db, { ...serviceEnv(services), LOG_LEVEL: 'silent' });
}, 120_000);

afterAll(async () => {
  await sim?.close();
  await database?.close().catch(() => {});
  await redis?.kill();
  await pg?.remove();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** CPU seconds a process has used, with those of its children it has reaped. */
function cpuSeconds(pid: number, withReaped: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of proc(5) (utime, stime, cutime, cstime), counted from the state (field 3).
    const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number) as [
      number,
      number,
      number,
      number,
    ];
    return (utime + stime + (withReaped ? cutime + cstime : 0)) / 100;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** The group's CPU seconds: the supervisor, its live children, and the children it has reaped. */
const groupCpu = (pid: number) =>
  cpuSeconds(pid, true) + childrenOf(pid).reduce((sum, child) => sum + cpuSeconds(child, false), 0);

async function startGroup(
  extra: Record<string, string>,
): Promise<{ group: WorkerProcess; port: number; pids: number[] }> {
  const port = await freePort();
  const group = spawnWorker(
    serviceEnv(services, {
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      SCHEDULE_RECONCILE_INTERVAL_MS: '0',
      ...extra,
    }),
    ['--processes', '2'],
  );
  await group.waitForLog((line: LogLine) => line.msg === 'worker group started', 110_000);
  const pids = await until(async () => {
    const found = childrenOf(group.child.pid!);
    return found.length === 2 ? found : undefined;
  }, 'both children');
  return { group, port, pids };
}

describe('a worker group whose supervisor dies', () => {
  it('SIGKILLed while its children drain a job that cannot finish: no child is alive 10 s later', async () => {
    const { group, pids } = await startGroup({ WORKER_CONCURRENCY: '1', SHUTDOWN_TIMEOUT_MS: '120000' });
    await createProject(ctx, sim, 'orphan', APP);
    // A sync that is still running when the drain starts, and whose completion cannot be recorded.
    sim.setLatency(60_000);
    try {
      const handle = await openQueue(ctx.config, 'client');
      await enqueueSync(handle.queue, 'orphan', 'manual', { db: ctx.db });
      await handle.close();
      await until(
        async () => (await syncRuns(ctx.db, 'orphan')).some((r) => r.status === 'running'),
        'the sync to run',
      );
      await redis.kill();
      group.child.kill('SIGTERM');
      await group.waitForLog(
        (line) => line.msg === 'shutting down: taking no new jobs, letting active ones finish',
      );
      group.child.kill('SIGKILL');
      await group.exited;
      const killedAt = Date.now();
      await until(async () => pids.every((pid) => !alive(pid)), 'every child to stop', 10_000, 100);
      expect(Date.now() - killedAt).toBeLessThan(10_000);
    } finally {
      sim.setLatency(0);
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await redis.start();
    }
  }, 180_000);
});

describe('a worker group whose Redis and Postgres are both gone', () => {
  it('waits using next to no CPU, and recovers by itself when they return', async () => {
    const { group, port } = await startGroup({ WORKER_CONCURRENCY: '10' });
    try {
      await redis.kill();
      await pg.stop();
      await until(async () => (await httpGet(port, '/readyz')).status === 503, 'the group to say not ready');
      // The rate over the outage, measured once both are gone: 20 s of it (2,000 clock ticks) gives
      // the same rate as a longer outage; OUTAGE_CPU_WINDOW_MS=120000 measures a full 2 minutes.
      const outageMs = Number(process.env.OUTAGE_CPU_WINDOW_MS ?? 20_000);
      const before = groupCpu(group.child.pid!);
      const t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, outageMs));
      const share = (groupCpu(group.child.pid!) - before) / ((performance.now() - t0) / 1000);
      console.log(`worker group CPU during the outage: ${(share * 100).toFixed(2)}% of a core`);
      expect(share).toBeLessThan(0.05);
      expect(group.child.exitCode).toBeNull();

      await redis.start();
      await pg.start();
      await until(
        async () => (await httpGet(port, '/readyz')).status === 200,
        'the group to be ready again',
        90_000,
        500,
      );
      await createProject(ctx, sim, 'after-outage', APP);
      const handle = await openQueue(ctx.config, 'client');
      await enqueueSync(handle.queue, 'after-outage', 'manual', { db: ctx.db });
      await handle.close();
      await until(
        async () => (await syncRuns(ctx.db, 'after-outage')).some((r) => r.status === 'succeeded'),
        'a sync after the outage',
      );
    } finally {
      group.child.kill('SIGTERM');
      await group.exited;
    }
  }, 240_000);
});
