import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncDeduplicationId } from '../../../src/queue/contract.ts';
import { enqueueSync, enqueueVerify, waitForEnqueued } from '../../../src/queue/producer.ts';
import { openQueueEvents } from '../../../src/queue/queue.ts';
import { createProject } from '../../support/context.ts';
import { DEADLINE_MS } from '../../support/wait.ts';
import {
  serviceEnv,
  spawnWorker,
  started,
  syncRuns,
  until,
  useJobsHarness,
  type WorkerProcess,
} from './support.ts';

/*
 * At most one waiting sync per project; a request while one runs leaves exactly one more to run
 * after it. Enqueued through the producer module and the CLI, processed by a real worker process.
 */

const APP = '4000000001';
const harness = useJobsHarness({
  catalog: { seed: 4, apps: [{ id: APP, iaps: 3, groups: 1, subscriptionsPerGroup: 1, grace: null }] },
  queue: 'client',
});
const { db: getDb, sim, services, ctx, handle, cli: runCli } = harness;
let worker: WorkerProcess | undefined;
let firstJobId: string | undefined;

beforeAll(async () => {
  await createProject(ctx(), sim(), 'shop', APP);
  await createProject(ctx(), sim(), 'other', APP);
});

afterAll(async () => {
  if (worker) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
});

async function state(jobId: string | undefined): Promise<string> {
  const job = jobId ? await handle().queue.getJob(jobId) : undefined;
  return job ? job.getState() : 'missing';
}

async function idle(): Promise<boolean> {
  const counts = await handle().queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  return Object.values(counts).every((n) => n === 0);
}

describe('deduplication', () => {
  it('while a sync waits, enqueuing again is a no-op that returns the waiting job', async () => {
    const first = await enqueueSync(handle().queue, 'shop', 'manual');
    const second = await enqueueSync(handle().queue, 'shop', 'schedule');
    const third = await enqueueSync(handle().queue, 'shop', 'credentials-saved');
    expect([first.outcome, second.outcome, third.outcome]).toEqual(['added', 'deduplicated', 'deduplicated']);
    expect(second.job.id).toBe(first.job.id);
    firstJobId = first.job.id;
    expect(third.job.id).toBe(first.job.id);
    expect(second.job.data).toEqual({ projectId: 'shop', trigger: 'manual' });

    // Per project, and per kind of job.
    const other = await enqueueSync(handle().queue, 'other', 'manual');
    expect(other.outcome).toBe('added');
    const verify = await enqueueVerify(handle().queue, 'shop');
    const verifyAgain = await enqueueVerify(handle().queue, 'shop');
    expect([verify.outcome, verifyAgain.outcome]).toEqual(['added', 'deduplicated']);
    expect(verifyAgain.job.id).toBe(verify.job.id);

    // The CLI's queued path is the same.
    const cli = await runCli(['sync', 'shop', '--json']);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, outcome: 'deduplicated', jobId: first.job.id });

    expect(await handle().queue.getWaitingCount()).toBe(3);
  });

  it('a request while a sync runs leaves exactly one more to run after it', async () => {
    sim().setLatency(300);
    worker = spawnWorker(serviceEnv(services()));
    await worker.waitForLog(started);
    // The sync that waited since the previous test starts as soon as the worker is up.
    await until(async () => (await state(firstJobId)) === 'active', 'the sync to start');

    const during = await Promise.all([
      enqueueSync(handle().queue, 'shop', 'manual'),
      enqueueSync(handle().queue, 'shop', 'schedule'),
      enqueueSync(handle().queue, 'shop', 'manual'),
    ]);
    expect(during.map((e) => e.outcome)).toEqual(['after-running', 'after-running', 'after-running']);
    expect(during.map((e) => e.job.id)).toEqual([firstJobId, firstJobId, firstJobId]);
    sim().setLatency(0);

    await until(idle, 'the queue to drain');
    const runs = await syncRuns(getDb().db, 'shop');
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(runs[0]!.job_id).toBe(firstJobId);
    expect(runs[1]!.job_id).not.toBe(firstJobId);
    // Nothing else was left behind to run: the queue holds no job at all (idle), so no third sync
    // can start later.
    expect(await idle()).toBe(true);
    expect(await syncRuns(getDb().db, 'shop')).toHaveLength(2);
  });

  it('`sync <project> --wait` waits for the result, also when it queues behind a running sync', async () => {
    const plain = await runCli(['sync', 'other', '--wait', '--json']);
    expect(plain.code).toBe(0);
    const summary = JSON.parse(plain.stdout);
    expect(summary).toMatchObject({ ok: true, projectId: 'other', status: 'succeeded' });
    expect((await syncRuns(getDb().db, 'other')).map((r) => r.id)).toContain(summary.runId);

    // Behind a running sync: the wait follows the run queued after it (in-process, so the timing is sure).
    sim().setLatency(300);
    const running = await enqueueSync(handle().queue, 'other', 'manual');
    await until(async () => (await state(running.job.id)) === 'active', 'the sync to start');
    const events = openQueueEvents(ctx().config);
    try {
      await events.waitUntilReady();
      const behind = await enqueueSync(handle().queue, 'other', 'manual');
      sim().setLatency(0);
      expect(behind.outcome).toBe('after-running');
      const done = await waitForEnqueued<unknown, { runId: string }>(
        handle().queue,
        events,
        behind,
        syncDeduplicationId('other'),
        DEADLINE_MS,
      );
      expect(done.jobId).not.toBe(running.job.id);
      const runs = await syncRuns(getDb().db, 'other');
      const runningRun = runs.find((r) => r.job_id === running.job.id);
      const followUp = runs.find((r) => r.id === done.result.runId);
      expect(runningRun?.status).toBe('succeeded');
      expect(followUp).toMatchObject({ status: 'succeeded', job_id: done.jobId });
      expect(runs.indexOf(followUp!)).toBeGreaterThan(runs.indexOf(runningRun!));
    } finally {
      sim().setLatency(0);
      await events.close();
    }
  });

  it('`sync --wait` of a project that does not exist says so and exits non-zero', async () => {
    const missing = await runCli(['sync', 'nope', '--wait']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Project nope does not exist/);
  });
});
