import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
 * The overlap of issue 11: a queued sync (worker process) starts first, but its first request is slow,
 * so it fetches AFTER a catalog edit; an inline sync starts later and fetches
 * BEFORE the edit, and applies first. Ordering by start time threw the queued sync's newer fetch
 * away as "superseded"; ordering by fetch time stores the edit.
 */

const APP = '6000000001';
const harness = useJobsHarness({
  catalog: { seed: 4, apps: [{ id: APP, iaps: 5, groups: 1, subscriptionsPerGroup: 2 }] },
  queue: 'plain',
});
const { sim, services, ctx, producer } = harness;
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
