import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { createProject } from '../../support/context.ts';
import { DEADLINE_MS } from '../../support/wait.ts';
import { freePort, serviceEnv, spawnWorker, syncRuns, until, useJobsHarness } from './support.ts';

/*
 * Worker processes stopped politely (SIGTERM: the active sync finishes, exit 0) and rudely
 * (SIGKILL mid-sync: another worker's stalled-job check picks the job up; the database ends with
 * one set of changes).
 */

const APP = '3000000001';
const harness = useJobsHarness({
  catalog: { seed: 3, apps: [{ id: APP, iaps: 5, groups: 1, subscriptionsPerGroup: 2, grace: null }] },
  queue: 'plain',
});
const { db: getDb, sim, services, ctx, producer } = harness;

/*
 * Short locks so a killed worker's job is recovered within a couple of seconds. Every worker of
 * the queue gets them: BullMQ runs one stalled check per interval for the whole queue (a key with
 * the checking worker's interval as TTL), so a worker with the 30 s default would delay the others.
 */
const FAST_RECOVERY = { WORKER_LOCK_DURATION_MS: '1500', WORKER_STALLED_INTERVAL_MS: '500' };

beforeAll(async () => {
  await createProject(ctx(), sim(), 'term', APP);
  await createProject(ctx(), sim(), 'kill', APP);
});

const syncStarted = (jobId: string | undefined) => (line: Record<string, unknown>) =>
  line.msg === 'sync started' && line.jobId === jobId;

/**
 * Waits for the job's sync to be under way: its sync_runs row ('running') is committed before the
 * first request to Apple, so this is state, not a log line. Jobs may be queued before the worker is
 * up: they wait in Redis, however long the worker takes to start.
 */
async function runningRunOf(projectId: string, jobId: string | undefined) {
  return until(
    async () =>
      (await syncRuns(getDb().db, projectId)).find((r) => r.job_id === jobId && r.status === 'running'),
    `the sync of job ${jobId} to start`,
  );
}

describe('stopping a worker', () => {
  it('SIGTERM during a sync lets it finish, then the process exits 0; /readyz says not ready while it drains', async () => {
    sim().setLatency(1_000);
    try {
      const job = await producer().queue.add('sync-catalog', { projectId: 'term', trigger: 'manual' });
      const port = await freePort();
      const worker = spawnWorker(
        serviceEnv(services(), {
          ...FAST_RECOVERY,
          SHUTDOWN_TIMEOUT_MS: '20000',
          METRICS_PORT: String(port),
        }),
      );
      await runningRunOf('term', job.id);
      const readyz = async () => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        return { status: response.status, body: (await response.json()) as { failed?: string[] } };
      };
      expect((await readyz()).status).toBe(200);
      worker.child.kill('SIGTERM');
      // The sync still runs (each request to Apple takes a second); the process takes no new jobs.
      const draining = await until(async () => {
        const answer = await readyz();
        return answer.status === 503 ? answer : null;
      }, '/readyz to say not ready during the drain');
      expect(draining.body.failed).toEqual(['worker']);
      const exit = await worker.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(await (await producer().queue.getJob(job.id!))!.getState()).toBe('completed');
      expect((await syncRuns(getDb().db, 'term')).map((r) => r.status)).toEqual(['succeeded']);
      expect(worker.logs.some((l) => l.msg === 'worker stopped')).toBe(true);
    } finally {
      sim().setLatency(0);
    }
  });

  it('a worker killed with SIGKILL mid-sync: another worker finishes the job, with one set of changes', async () => {
    sim().setLatency(1_500);
    const job = await producer().queue.add('sync-catalog', { projectId: 'kill', trigger: 'manual' });
    const first = spawnWorker(serviceEnv(services(), FAST_RECOVERY));
    await runningRunOf('kill', job.id);
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    sim().setLatency(0);

    const second = spawnWorker(serviceEnv(services(), FAST_RECOVERY));
    const result = (await job.waitUntilFinished(producer().events, DEADLINE_MS)) as { runId: string };
    // The second worker ran it (its log says so by now; nothing waits on it).
    expect(second.logs.some(syncStarted(job.id))).toBe(true);
    expect(await (await producer().queue.getJob(job.id!))!.getState()).toBe('completed');

    // The killed run stays as it was left (running) until a sweep ends it (SYNC_RUN_STALE_AFTER_MS,
    // 90 s by default: reliability/sigkill.test.ts); the second one succeeded and wrote the catalog.
    const runs = await syncRuns(getDb().db, 'kill');
    expect(runs.map((r) => r.status)).toEqual(['running', 'succeeded']);
    expect(runs[1]!.id).toBe(result.runId);
    const changes = rowsOf<{ run_id: string; n: number }>(
      await getDb().db.execute(
        sql`select run_id::text, count(*)::int as n from catalog_changes where project_id = 'kill' group by run_id`,
      ),
    );
    // 5 IAPs + 2 subscriptions + 1 group, once.
    expect(changes).toEqual([{ run_id: result.runId, n: 8 }]);
    const [products] = rowsOf<{ n: number }>(
      await getDb().db.execute(sql`select count(*)::int as n from products where project_id = 'kill'`),
    );
    expect(products!.n).toBe(7);

    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});

describe('starting a worker', () => {
  it('a SIGTERM during start-up stops it cleanly once it is up', async () => {
    const worker = spawnWorker(serviceEnv(services(), FAST_RECOVERY));
    // The first log line comes before the worker takes jobs.
    await worker.waitForLog(() => true);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });
});

describe('a sync longer than the shutdown timeout', () => {
  it('does not hold the worker: it exits 0 after SHUTDOWN_TIMEOUT_MS and leaves the job to recovery', async () => {
    await createProject(ctx(), sim(), 'slow', APP);
    sim().setLatency(5_000);
    try {
      const job = await producer().queue.add('sync-catalog', { projectId: 'slow', trigger: 'manual' });
      const worker = spawnWorker(serviceEnv(services(), { ...FAST_RECOVERY, SHUTDOWN_TIMEOUT_MS: '300' }));
      await runningRunOf('slow', job.id);
      const stopAt = Date.now();
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      // Well before the sync could finish (three rounds of 5 s requests).
      expect(Date.now() - stopAt).toBeLessThan(8_000);
      expect(worker.logs.some((l) => /did not finish in time/.test(String(l.msg)))).toBe(true);
      expect(await (await producer().queue.getJob(job.id!))!.getState()).toBe('active');
    } finally {
      sim().setLatency(0);
    }
  });
});
