import type { JobSchedulerJson } from 'bullmq';
import { inArray } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { projects } from '../../../db/schema.ts';
import { writeSchedule } from '../../../src/projects/store.ts';
import { scheduleId } from '../../../src/queue/contract.ts';
import {
  isStoredScheduler,
  listSchedules,
  reconcileSchedules,
  scheduleOffsetMs,
} from '../../../src/queue/schedules.ts';
import { createProject } from '../../support/context.ts';
import { deleteKeys } from '../../support/redis.ts';
import { serviceEnv, spawnWorker, started, syncRuns, until, useJobsHarness } from './support.ts';

/*
 * Schedules live in Postgres and are mirrored to BullMQ job schedulers by reconciling, which is
 * idempotent, safe from several workers at once, and restores everything after Redis lost its data.
 */

const APP = '5000000001';
const MANY = Array.from({ length: 40 }, (_, i) => `fleet-${String(i).padStart(2, '0')}`);
const harness = useJobsHarness({
  catalog: { seed: 5, apps: [{ id: APP, iaps: 2, groups: 0, subscriptionsPerGroup: 0, grace: null }] },
  queue: 'client',
});
const { db: getDb, redis, sim, services, ctx, handle, cli: runCli } = harness;

beforeAll(async () => {
  await getDb()
    .db.insert(projects)
    .values(MANY.map((id) => ({ id })));
});

const schedulers = () => handle().queue.getJobSchedulers(0, -1, true);

/** Pending jobs (delayed or waiting) made by each scheduler: exactly one each when healthy. */
async function pendingPerScheduler(): Promise<Map<string, number>> {
  const jobs = await handle().queue.getJobs(['delayed', 'waiting', 'prioritized']);
  const counts = new Map<string, number>();
  for (const job of jobs) {
    const key = job.repeatJobKey;
    if (key) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The project's jobs that are still to run or running. */
async function jobsOf(projectId: string) {
  const jobs = await handle().queue.getJobs([
    'active',
    'waiting',
    'delayed',
    'prioritized',
    'waiting-children',
  ]);
  return jobs.filter((job) => job?.data?.projectId === projectId);
}

function bySchedule(list: JobSchedulerJson[]) {
  return Object.fromEntries(list.map((s) => [s.key, { every: s.every, pattern: s.pattern, next: s.next }]));
}

describe('reconciling schedules', () => {
  it('mirrors Postgres, spreads one interval across projects, and writes nothing when already in sync', async () => {
    for (const [i, id] of MANY.entries()) {
      await writeSchedule(ctx(), id, i % 4 === 3 ? { cron: '0 */6 * * *' } : { every: 3600 });
    }
    // Before the mirror, the listing (`schedules`) says so.
    expect((await listSchedules(ctx(), handle())).map((s) => [s.inQueue, s.nextRunAt])).toEqual(
      new Array(40).fill([false, null]),
    );
    const first = await reconcileSchedules(ctx(), handle());
    expect(first).toMatchObject({ total: 40, upserted: 40, removed: 0, unchanged: 0 });
    const mirrored = await schedulers();
    expect(mirrored).toHaveLength(40);
    // The listing reads next runs without BullMQ (one ZMSCORE): they are BullMQ's own.
    const listed = await listSchedules(ctx(), handle());
    expect(Object.fromEntries(listed.map((s) => [s.projectId, [s.inQueue, s.nextRunAt]]))).toEqual(
      Object.fromEntries(
        mirrored.map((s) => [s.key.slice('sync:'.length), [true, new Date(s.next!).toISOString()]]),
      ),
    );
    const hourly = mirrored.filter((s) => s.every === 3_600_000);
    expect(hourly).toHaveLength(30);
    for (const s of hourly) {
      const projectId = s.key.slice('sync:'.length);
      expect(s.offset).toBe(scheduleOffsetMs(projectId, 3_600_000));
      expect(s.template?.data).toEqual({ projectId, trigger: 'schedule' });
      expect(s.next! % 3_600_000).toBe(s.offset);
    }
    // Spread: the hourly projects fire at (nearly) all different minutes of the hour.
    expect(new Set(hourly.map((s) => Math.floor(s.offset! / 60_000))).size).toBeGreaterThan(20);
    expect(mirrored.find((s) => s.key === 'sync:fleet-03')).toMatchObject({
      pattern: '0 */6 * * *',
      tz: 'UTC',
    });

    const again = await reconcileSchedules(ctx(), handle());
    expect(again).toMatchObject({ total: 40, upserted: 0, removed: 0, unchanged: 40 });
    expect(bySchedule(await schedulers())).toEqual(bySchedule(mirrored));
    expect([...(await pendingPerScheduler()).values()]).toEqual(new Array(40).fill(1));
  });

  it('updates what changed, removes what Postgres no longer has, leaves the rest', async () => {
    await writeSchedule(ctx(), 'fleet-00', { every: 1800 });
    await getDb()
      .db.update(projects)
      .set({ scheduleEverySeconds: null })
      .where(inArray(projects.id, ['fleet-01', 'fleet-02']));
    await handle().queue.upsertJobScheduler(
      scheduleId('ghost') as 'sync-catalog',
      { every: 60_000 },
      { name: 'sync-catalog', data: { projectId: 'ghost', trigger: 'schedule' } },
    );
    const result = await reconcileSchedules(ctx(), handle());
    expect(result).toMatchObject({ total: 38, upserted: 1, removed: 3, unchanged: 37 });
    const keys = (await schedulers()).map((s) => s.key);
    expect(keys).toHaveLength(38);
    expect(keys).not.toContain('sync:ghost');
    expect(keys).not.toContain('sync:fleet-01');
    expect((await handle().queue.getJobScheduler('sync:fleet-00'))?.every).toBe(1_800_000);
    expect([...(await pendingPerScheduler()).values()]).toEqual(new Array(38).fill(1));
  });

  it('two workers starting together leave one scheduler per project', async () => {
    await deleteKeys(redis.client, `${redis.prefix}:*`);
    const env = serviceEnv(services());
    const workers = [spawnWorker(env), spawnWorker(env)];
    await Promise.all(workers.map((w) => w.waitForLog(started)));
    const reconciled = workers.map((w) => w.logs.find((l) => l.msg === 'schedules in Redis mirror Postgres'));
    // One of them wrote all 38; the other found them there.
    expect(reconciled.map((l) => l?.upserted).sort()).toEqual([0, 38]);
    const keys = (await schedulers()).map((s) => s.key);
    expect(keys).toHaveLength(38);
    expect(new Set(keys).size).toBe(38);
    expect([...(await pendingPerScheduler()).values()]).toEqual(new Array(38).fill(1));
    for (const w of workers) w.child.kill('SIGTERM');
    expect((await Promise.all(workers.map((w) => w.exited))).map((e) => e.code)).toEqual([0, 0]);
  });

  it('after Redis lost its data (FLUSHALL of this prefix), a worker start restores every schedule exactly once', async () => {
    const before = bySchedule(await schedulers());
    // FLUSHALL itself would wipe the other test files' keys on this shared Redis: drop our prefix.
    await deleteKeys(redis.client, `${redis.prefix}:*`);
    expect(await schedulers()).toHaveLength(0);
    const worker = spawnWorker(serviceEnv(services()));
    const line = await worker.waitForLog((l) => l.msg === 'schedules in Redis mirror Postgres');
    expect(line).toMatchObject({ total: 38, upserted: 38, removed: 0 });
    const restored = await schedulers();
    expect(restored.map((s) => s.key).sort()).toEqual(Object.keys(before).sort());
    // Same interval, offset and so the same slot as before the loss.
    for (const s of restored.filter((x) => x.every))
      expect(s.next! % s.every!).toBe(before[s.key]!.next! % s.every!);
    expect([...(await pendingPerScheduler()).values()]).toEqual(new Array(38).fill(1));
    await worker.waitForLog(started);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });
});

describe('a scheduled project', () => {
  it('is synced on its schedule by a worker; schedule, schedules and unschedule from the CLI', async () => {
    await createProject(ctx(), sim(), 'ticking', APP);
    // No waiting for the worker's start-up: the scheduled jobs wait in Redis until it takes them,
    // and the syncs it runs are what this test waits for (rows in sync_runs).
    const worker = spawnWorker(serviceEnv(services()));

    const scheduled = await runCli(['schedule', 'ticking', '--every', '1s', '--json']);
    expect(scheduled.code).toBe(0);
    expect(JSON.parse(scheduled.stdout)).toMatchObject({ ok: true, projectId: 'ticking', every: '1s' });
    await until(
      async () => (await syncRuns(getDb().db, 'ticking')).filter((r) => r.status === 'succeeded').length >= 2,
      'two scheduled syncs',
    );
    expect((await syncRuns(getDb().db, 'ticking')).every((r) => r.trigger === 'schedule')).toBe(true);

    const [listed, human, bad] = await Promise.all([
      runCli(['schedules', '--json']),
      runCli(['schedules']),
      runCli(['schedule', 'ticking', '--every', '6h', '--cron', '0 * * * *']),
    ]);
    const ticking = JSON.parse(listed.stdout).schedules.find(
      (s: { projectId: string }) => s.projectId === 'ticking',
    );
    expect(ticking).toMatchObject({ every: '1s', everySeconds: 1, cron: null, inQueue: true });
    expect(human.stdout).toMatch(/ticking\s+│ every 1s/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--every or --cron: give exactly one of every/);

    const removed = await runCli(['unschedule', 'ticking', '--json']);
    expect(JSON.parse(removed.stdout)).toEqual({ ok: true, projectId: 'ticking', removed: true });
    expect((await schedulers()).map((s) => s.key)).not.toContain(scheduleId('ticking'));
    expect(isStoredScheduler(await handle().queue.getJobScheduler(scheduleId('ticking')))).toBe(false);
    const settled = (await syncRuns(getDb().db, 'ticking')).length;
    // With no scheduler left, at most the job already queued may still run; once none of the
    // project's jobs waits or runs, nothing can add a sync any more.
    await until(async () => (await jobsOf('ticking')).length === 0, "the project's last jobs to finish");
    expect((await syncRuns(getDb().db, 'ticking')).length).toBeLessThanOrEqual(settled + 1);
    expect(isStoredScheduler(await handle().queue.getJobScheduler(scheduleId('ticking')))).toBe(false);

    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });
});
