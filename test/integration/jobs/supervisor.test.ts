import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject } from '../../support/context.ts';
import {
  freePort,
  type LogLine,
  serviceEnv,
  spawnWorker,
  syncRuns,
  until,
  useJobsHarness,
  type WorkerProcess,
} from './support.ts';

/*
 * `catalog-sync worker --processes 2`: a supervisor over two real worker processes. One group runs
 * through the file: its /metrics sums both children's jobs, a child killed mid-sync is restarted
 * and the job finished, and a SIGTERM to the supervisor drains both children (exit 0).
 */

const APP = '3100000001';
const harness = useJobsHarness({
  catalog: { seed: 5, apps: [{ id: APP, iaps: 4, groups: 1, subscriptionsPerGroup: 2, grace: null }] },
  queue: 'plain',
});
const { db: getDb, sim, services, ctx, producer } = harness;

// Short locks so a killed child's job is recovered within seconds (see lifecycle.test.ts).
const FAST_RECOVERY = { WORKER_LOCK_DURATION_MS: '1500', WORKER_STALLED_INTERVAL_MS: '500' };
const PROJECTS = ['p1', 'p2', 'p3', 'p4', 'kill', 'drain-a', 'drain-b'];

let group: WorkerProcess;
let base: string;

const groupStarted = (line: LogLine) => line.msg === 'worker group started';
const syncStarted = (jobId: string | undefined) => (line: LogLine) =>
  line.msg === 'sync started' && line.jobId === jobId;

beforeAll(async () => {
  for (const id of PROJECTS) await createProject(ctx(), sim(), id, APP);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  group = spawnWorker(
    serviceEnv(services(), {
      ...FAST_RECOVERY,
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      // One job per child at a time, so a batch spreads over both.
      WORKER_CONCURRENCY: '1',
      SHUTDOWN_TIMEOUT_MS: '20000',
    }),
    ['--processes', '2'],
  );
  // Generous: on a loaded machine two children loading their modules at once take a while.
  await group.waitForLog(groupStarted, 110_000);
  // Each child's own "worker started" line travels its own way to stdout, so it may come after the
  // supervisor's: wait for both lines (the group is started; only the logs may lag).
  await until(
    async () => new Set(group.logs.filter((l) => l.msg === 'worker started').map((l) => l.pid)).size >= 2,
    "both children's start lines",
  );
}, 120_000);

afterAll(async () => {
  sim().setLatency(0);
  if (group && group.child.exitCode === null && group.child.signalCode === null) {
    group.child.kill('SIGTERM');
    await group.exited;
  }
});

async function scrape(): Promise<string> {
  return (await fetch(`${base}/metrics`)).text();
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('worker --processes 2', () => {
  it('runs two processes; schedules are reconciled by one of them only; /healthz and /readyz answer for the group', async () => {
    const children = group.logs.filter((l) => l.msg === 'worker started');
    expect(new Set(children.map((l) => l.pid)).size).toBe(2);
    expect(children.map((l) => l.workerProcess).sort()).toEqual([0, 1]);
    // The supervisor re-executed itself with the worker's heap flags (the same pid), and the
    // children inherited them (bin/catalog-sync.js).
    for (const pid of [group.child.pid, ...children.map((l) => l.pid)]) {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(args).toEqual(
        expect.arrayContaining(['--max-semi-space-size=16', '--heap-growing-percent=100']),
      );
    }
    const reconciles = group.logs.filter((l) => l.msg === 'schedules in Redis mirror Postgres');
    expect(reconciles.map((l) => l.workerProcess)).toEqual([0]);

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as {
      processes: Array<{ index: number; checks: Record<string, { ok: boolean }> }>;
    };
    expect(body.processes.map((p) => p.index)).toEqual([0, 1]);
    for (const member of body.processes) {
      expect(member.checks).toEqual({ redis: { ok: true }, postgres: { ok: true }, worker: { ok: true } });
    }
  });

  it('/metrics counts the jobs of both children', async () => {
    sim().setLatency(150);
    try {
      const jobs = await Promise.all(
        ['p1', 'p2', 'p3', 'p4'].map((projectId) =>
          producer().queue.add('sync-catalog', { projectId, trigger: 'manual' }),
        ),
      );
      await Promise.all(jobs.map((job) => job.waitUntilFinished(producer().events, 30_000)));
    } finally {
      sim().setLatency(0);
    }
    const text = await until(async () => {
      const t = await scrape();
      return metricValue(t, 'catalog_sync_jobs_total{job="sync-catalog",outcome="completed"}') >= 4 && t;
    }, 'the aggregated job counter');
    expect(metricValue(text, 'catalog_sync_jobs_total{job="sync-catalog",outcome="completed"}')).toBe(4);
    expect(metricValue(text, 'catalog_sync_sync_duration_seconds_count{outcome="succeeded"}')).toBe(4);
    // Both children took a share, and the sum is the total.
    const perChild = [0, 1].map((i) => metricValue(text, `catalog_sync_process_jobs_total{process="${i}"}`));
    expect(perChild.every((n) => n >= 1)).toBe(true);
    expect(perChild[0]! + perChild[1]!).toBe(4);
    expect(metricValue(text, 'catalog_sync_worker_processes')).toBe(2);
    // Both processes' memory, summed.
    expect(metricValue(text, 'catalog_sync_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('a child killed with SIGKILL mid-sync is restarted and the job finished', async () => {
    sim().setLatency(1_500);
    const job = await producer().queue.add('sync-catalog', { projectId: 'kill', trigger: 'manual' });
    const line = await group.waitForLog(syncStarted(job.id));
    const victim = line.workerProcess as number;
    const startsBefore = group.logs.filter(
      (l) => l.msg === 'worker process started' && l.workerProcess === victim,
    ).length;
    process.kill(line.pid as number, 'SIGKILL');
    await group.waitForLog(
      (l) => l.msg === 'worker process exited unexpectedly; restarting it' && l.workerProcess === victim,
    );
    sim().setLatency(0);
    await until(
      async () =>
        group.logs.filter((l) => l.msg === 'worker process started' && l.workerProcess === victim).length >
        startsBefore,
      'the killed child to be back',
    );
    await job.waitUntilFinished(producer().events, 30_000);
    expect(await (await producer().queue.getJob(job.id!))!.getState()).toBe('completed');
    expect((await syncRuns(getDb().db, 'kill')).map((r) => r.status)).toEqual(['running', 'succeeded']);
    const text = await scrape();
    expect(metricValue(text, 'catalog_sync_worker_process_restarts_total')).toBe(1);
    expect(metricValue(text, 'catalog_sync_worker_processes')).toBe(2);
  });

  it('SIGTERM to the supervisor drains both children: their active syncs finish, exit 0', async () => {
    sim().setLatency(800);
    const jobs = await Promise.all(
      ['drain-a', 'drain-b'].map((projectId) =>
        producer().queue.add('sync-catalog', { projectId, trigger: 'manual' }),
      ),
    );
    // One sync on each child (concurrency 1 each).
    const lines = await Promise.all(jobs.map((job) => group.waitForLog(syncStarted(job.id))));
    expect(new Set(lines.map((l) => l.pid)).size).toBe(2);
    group.child.kill('SIGTERM');
    expect(await group.exited).toEqual({ code: 0, signal: null });
    for (const job of jobs) {
      expect(await (await producer().queue.getJob(job.id!))!.getState()).toBe('completed');
    }
    for (const projectId of ['drain-a', 'drain-b']) {
      expect((await syncRuns(getDb().db, projectId)).map((r) => r.status)).toEqual(['succeeded']);
    }
    const stoppedPids = group.logs.filter((l) => l.msg === 'worker stopped').map((l) => l.pid);
    expect(new Set(stoppedPids).size).toBeGreaterThanOrEqual(2);
    expect(group.logs.some((l) => l.msg === 'worker group stopped')).toBe(true);
  });
});

describe('worker --processes, bad input and a failed start', () => {
  it('--processes 0 is a usage error (exit 2)', async () => {
    const result = await harness.cli(['worker', '--processes', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--processes.*must be a whole number from 1 to 256/);
  });

  it('a child that cannot start (no such database) stops the group with exit 1', async () => {
    const url = new URL(services().databaseUrl);
    url.pathname = '/catalog_sync_no_such_database';
    const failing = spawnWorker(serviceEnv(services(), { DATABASE_URL: url.toString() }), [
      '--processes',
      '2',
    ]);
    expect((await failing.exited).code).toBe(1);
    expect(failing.logs.some((l) => l.msg === 'the worker group could not start')).toBe(true);
    expect(failing.logs.some((l) => l.msg === 'worker group started')).toBe(false);
  });
});
