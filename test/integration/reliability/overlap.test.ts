import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { writeSchedule as setSchedule } from '../../../src/projects/store.ts';
import { openQueue } from '../../../src/queue/queue.ts';
import { reconcileSchedules } from '../../../src/queue/schedules.ts';
import { listProducts, syncProject } from '../../../src/sync/index.ts';
import { createProject } from '../../support/context.ts';
import {
  serviceEnv,
  spawnWorker,
  started,
  until,
  useJobsHarness,
  type WorkerProcess,
} from '../jobs/support.ts';

/*
 * The overlap: a queued sync (worker process) starts first, but its first request is slow,
 * so it fetches AFTER a catalog edit; an inline sync starts later and fetches
 * BEFORE the edit, and applies first. Ordering by start time threw the queued sync's newer fetch
 * away as "superseded"; ordering by fetch time stores the edit.
 */

const APP = '6000000001';
const harness = useJobsHarness({
  catalog: { seed: 4, apps: [{ id: APP, iaps: 5, groups: 1, subscriptionsPerGroup: 2 }] },
  queue: 'plain',
});
const { db: getDb, sim, services, ctx, producer } = harness;
let worker: WorkerProcess;

beforeAll(async () => {
  worker = spawnWorker(serviceEnv(services(), { SCHEDULE_RECONCILE_INTERVAL_MS: '0' }));
  await worker.waitForLog(started, 30_000);
});

afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
});

describe('a queued sync and an inline sync of one project overlap', () => {
  it('the sync whose fetch saw the edit wins, whichever started first', async () => {
    await createProject(ctx(), sim(), 'overlap', APP);
    const target = sim().catalog.apps.find((a) => a.id === APP)!.iaps[0]!;
    // The queued sync's first request (the app with its IAPs included) is held long enough for a whole inline sync to
    // run and for the edit to land while it is still on its way.
    const fault = sim().faults.add({ path: '/v1/apps/{id}', nth: 1, times: 1, latencyMs: 5_000 });
    const queued = await producer().queue.add('sync-catalog', { projectId: 'overlap', trigger: 'manual' });
    await until(
      async () =>
        sim()
          .faults.list()
          .some((f) => f.id === fault && f.fired > 0),
      'the queued sync to be mid-fetch',
    );

    // What `catalog-sync sync --inline` runs, here in the test's process (a CLI process's start-up
    // on a loaded machine would need a much longer hold).
    const inline = await syncProject(ctx(), 'overlap', { trigger: 'manual' });
    expect(inline.superseded).toBe(false);
    const renamed = `${target.name} (edited)`;
    sim().mutate.updateProduct(target.id, { name: renamed });
    // The scenario holds only if the queued sync is still fetching now.
    expect(await queued.getState()).toBe('active');

    const result = (await queued.waitUntilFinished(producer().events, 30_000)) as Record<string, unknown>;
    expect(result).toMatchObject({
      status: 'succeeded',
      superseded: false,
      changes: { 'product.updated': 1 },
    });
    const stored = (await listProducts(ctx(), 'overlap')).find((p) => p.appleId === target.id);
    expect(stored?.referenceName).toBe(renamed);
  }, 60_000);
});

describe('a schedule ticking while a sync of its project runs', () => {
  it("joins the project's deduplication: one sync at a time, at most one waiting", async () => {
    const SCHEDULED_APP = '6000000002';
    sim().mutate.addApp({ id: SCHEDULED_APP, name: 'Scheduled' });
    await createProject(ctx(), sim(), 'ticking', SCHEDULED_APP);
    // Every sync of this project is slow (2 s per request), so many ticks fall on a running one.
    sim().faults.add({ path: new RegExp(`^/v1/apps/${SCHEDULED_APP}`), times: 'always', latencyMs: 2_000 });
    const handle = await openQueue(ctx().config, 'client');
    try {
      await setSchedule(ctx(), 'ticking', { every: 1 });
      await reconcileSchedules(ctx(), handle, { projectIds: ['ticking'] });
      let maxRunning = 0;
      let maxPending = 0;
      await until(
        async () => {
          const [row] = rowsOf<{ running: number; done: number }>(
            await getDb().db.execute(sql`
              select count(*) filter (where status = 'running')::int as running,
                     count(*) filter (where status = 'succeeded')::int as done
                from sync_runs where project_id = 'ticking'`),
          );
          const pending = (await handle.queue.getJobs(['waiting', 'delayed', 'prioritized'])).filter(
            (job) => job.data.projectId === 'ticking' && !job.repeatJobKey,
          ).length;
          maxRunning = Math.max(maxRunning, row?.running ?? 0);
          maxPending = Math.max(maxPending, pending);
          return (row?.done ?? 0) >= 2;
        },
        'two scheduled syncs to finish',
        60_000,
        100,
      );
      // Ticks came about once a second during ~8 s of syncing; without deduplication each would
      // have been a sync of its own, several running side by side.
      expect(maxRunning).toBe(1);
      expect(maxPending).toBeLessThanOrEqual(1);
      const forwarded = (await handle.queue.getJobs(['completed'])).filter(
        (job) => job.repeatJobKey && (job.returnvalue as { forwarded?: boolean } | null)?.forwarded === true,
      );
      expect(forwarded.length).toBeGreaterThanOrEqual(3);
    } finally {
      await setSchedule(ctx(), 'ticking', { every: 86_400 });
      await reconcileSchedules(ctx(), handle, { projectIds: ['ticking'] });
      await handle.close();
      sim().faults.clear();
    }
  }, 90_000);
});
