import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { jsonOf } from '../../support/cli.ts';
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
 * A worker SIGKILLed mid-sync cannot end its run: the heartbeat stops, and the sweep of the next
 * worker marks the run `abandoned`; the job itself is recovered (stalled) and runs again.
 */

const APP = '5000000001';
const harness = useJobsHarness({
  catalog: { seed: 3, apps: [{ id: APP, iaps: 4, groups: 1, subscriptionsPerGroup: 2 }] },
  queue: 'plain',
});
const { db: getDb, sim, services, ctx, producer, cli } = harness;
const workers: WorkerProcess[] = [];

const env = () =>
  serviceEnv(services(), {
    SYNC_HEARTBEAT_INTERVAL_MS: '300',
    SYNC_RUN_STALE_AFTER_MS: '1500',
    SYNC_RUN_SWEEP_INTERVAL_MS: '500',
    WORKER_LOCK_DURATION_MS: '2000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    SCHEDULE_RECONCILE_INTERVAL_MS: '0',
  });

afterAll(async () => {
  for (const worker of workers) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
});

async function runs() {
  return rowsOf<{ id: string; status: string; error_kind: string | null }>(
    await getDb().db.execute(
      sql`select id, status, error_kind from sync_runs where project_id = 'killed' order by started_at`,
    ),
  );
}

describe('a worker killed mid-sync', () => {
  it('leaves no run `running`: the sweep marks it abandoned, and the job runs again elsewhere', async () => {
    await createProject(ctx(), sim(), 'killed', APP);
    sim().faults.add({ path: '/v1/apps/{id}', nth: 1, times: 1, latencyMs: 30_000 });
    const first = spawnWorker(env());
    workers.push(first);
    await first.waitForLog(started, 30_000);
    const job = await producer().queue.add('sync-catalog', { projectId: 'killed', trigger: 'manual' });
    await until(
      async () =>
        sim()
          .faults.list()
          .some((f) => f.fired > 0),
      'the sync to be mid-fetch',
    );
    const [live] = await runs();
    expect(live?.status).toBe('running');
    first.child.kill('SIGKILL');
    await first.exited;

    const second = spawnWorker(env());
    workers.push(second);
    await second.waitForLog(started, 30_000);
    await until(
      async () => (await runs())[0]?.status === 'abandoned',
      'the killed run to be abandoned',
      20_000,
    );
    const result = (await job.waitUntilFinished(producer().events, 30_000)) as {
      status: string;
      runId: string;
    };
    expect(result.status).toBe('succeeded');
    const all = await runs();
    expect(all[0]).toMatchObject({ id: live!.id, status: 'abandoned', error_kind: 'abandoned' });
    expect(all.filter((r) => r.status === 'running')).toEqual([]);
    expect(all.at(-1)).toMatchObject({ id: result.runId, status: 'succeeded' });

    const status = jsonOf(await cli(['status', 'killed', '--json'])) as { lastRuns: { status: string }[] };
    expect(status.lastRuns.map((r) => r.status).sort()).toEqual(['abandoned', 'succeeded']);
    sim().faults.clear();
  }, 90_000);
});
