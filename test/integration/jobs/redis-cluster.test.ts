import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSchedule as setSchedule } from '../../../src/projects/store.ts';
import { syncDeduplicationId } from '../../../src/queue/contract.ts';
import { enqueueSync, waitForEnqueued } from '../../../src/queue/producer.ts';
import { openQueue, openQueueEvents, type QueueHandle } from '../../../src/queue/queue.ts';
import { reconcileSchedules } from '../../../src/queue/schedules.ts';
import { createProject, type TestContext, testContext } from '../../support/context.ts';
import {
  freePort,
  serviceEnv,
  spawnWorker,
  started,
  syncRuns,
  until,
  useJobsHarness,
  type WorkerProcess,
} from './support.ts';

/*
 * Beyond one Redis: a real six-node Redis Cluster (three masters, three replicas) on loopback
 * ports, two worker processes on it with a hash-tagged prefix (REDIS_CLUSTER_NODES). Syncs,
 * deduplication and schedules work; then the master holding the queue's slot is killed, its
 * replica takes over, and every sync requested before and during the failover is run.
 */

const run = promisify(execFile);
const APP = '3200000001';
const PREFIX = '{cs-cluster}';
const harness = useJobsHarness({
  catalog: { seed: 8, apps: [{ id: APP, iaps: 3, groups: 1, subscriptionsPerGroup: 1, grace: null }] },
});
const { db: getDb, sim, services } = harness;

interface Node {
  port: number;
  process: ChildProcess;
}
const nodes: Node[] = [];
let dir: string;
let env: Record<string, string>;
let ctx: TestContext;
let producer: QueueHandle;
let events: ReturnType<typeof openQueueEvents>;
const workers: WorkerProcess[] = [];

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'redis-cluster-'));
  for (let i = 0; i < 6; i++) {
    const port = await freePort();
    // The cluster bus defaults to port + 10000, which may not exist; give it a free port of its own.
    const busPort = await freePort();
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--cluster-port',
        String(busPort),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '1500',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--maxmemory-policy',
        'noeviction',
        '--logfile',
        path.join(dir, `redis-${port}.log`),
      ],
      { stdio: 'ignore' },
    );
    nodes.push({ port, process: child });
  }
  for (const node of nodes) {
    await until(
      async () => (await cli(node.port, 'ping').catch(() => '')).includes('PONG'),
      `redis on ${node.port}`,
    );
  }
  await run(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { timeout: 30_000 },
  );
  for (const node of nodes) {
    await until(
      async () => (await cli(node.port, 'cluster', 'info')).includes('cluster_state:ok'),
      `cluster state ok on ${node.port}`,
    );
  }

  env = serviceEnv(services(), {
    REDIS_CLUSTER_NODES: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    REDIS_PREFIX: PREFIX,
    WORKER_CONCURRENCY: '2',
  });
  ctx = testContext(getDb().db, { ...env, LOG_LEVEL: 'silent' });
  // A long-lived producer rides out a failover, as a worker does (the CLI's client gives up instead).
  producer = await openQueue(ctx.config, 'worker');
  events = openQueueEvents(ctx.config);
  for (const id of ['c1', 'c2', 'dedup', 'sched', ...Array.from({ length: 8 }, (_, i) => `fo${i}`)]) {
    await createProject(ctx, sim(), id, APP);
  }
  for (let i = 0; i < 2; i++) workers.push(spawnWorker(env));
  await Promise.all(workers.map((w) => w.waitForLog(started, 40_000)));
}, 120_000);

afterAll(async () => {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode === null && w.child.signalCode === null) {
        w.child.kill('SIGTERM');
        await w.exited;
      }
    }),
  );
  await events?.close().catch(() => {});
  await producer?.close().catch(() => {});
  for (const node of nodes) node.process.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The master currently serving the queue's hash slot. */
async function masterOfQueue(): Promise<Node> {
  const slot = Number((await cli(nodes[0]!.port, 'cluster', 'keyslot', PREFIX)).trim());
  const shards = (await cli(nodes[0]!.port, 'cluster', 'nodes')).trim().split('\n');
  for (const line of shards) {
    const fields = line.split(' ');
    if (!fields[2]?.includes('master') || fields[2].includes('fail')) continue;
    const owns = fields.slice(8).some((range) => {
      const [from, to] = range.split('-').map(Number);
      return slot >= from! && slot <= (to ?? from)!;
    });
    if (owns) {
      const port = Number(fields[1]!.split(':')[1]!.split('@')[0]);
      return nodes.find((n) => n.port === port)!;
    }
  }
  throw new Error(`no master serves slot ${slot}`);
}

describe('on a three-master Redis Cluster with a hash-tagged prefix', () => {
  it('runs syncs, with both worker processes on the cluster', async () => {
    for (const projectId of ['c1', 'c2']) {
      const enqueued = await enqueueSync(producer.queue, projectId, 'manual');
      expect(enqueued.outcome).toBe('added');
      await waitForEnqueued(producer.queue, events, enqueued, syncDeduplicationId(projectId), 30_000);
      expect((await syncRuns(getDb().db, projectId)).map((r) => r.status)).toEqual(['succeeded']);
    }
    // Every key of the queue sits in the one slot of the hash tag.
    const keys = (await cli((await masterOfQueue()).port, 'keys', `${PREFIX}*`)).trim().split('\n');
    expect(keys.length).toBeGreaterThan(0);
  });

  it('deduplicates: a second request while one waits returns the waiting job', async () => {
    sim().setLatency(300);
    try {
      // Fill both workers' slots (2 × concurrency 2) so the dedup job waits.
      const blockers = await Promise.all(
        ['c1', 'c2', 'fo6', 'fo7'].map((p) => enqueueSync(producer.queue, p, 'manual')),
      );
      const first = await enqueueSync(producer.queue, 'dedup', 'manual');
      const second = await enqueueSync(producer.queue, 'dedup', 'schedule');
      expect(first.outcome).toBe('added');
      expect(second.outcome).toBe('deduplicated');
      expect(second.job.id).toBe(first.job.id);
      await waitForEnqueued(producer.queue, events, second, syncDeduplicationId('dedup'), 30_000);
      await Promise.all(
        blockers.map((b) =>
          waitForEnqueued(producer.queue, events, b, syncDeduplicationId(b.projectId), 30_000),
        ),
      );
      const runs = await syncRuns(getDb().db, 'dedup');
      expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
      expect(runs).toHaveLength(1);
    } finally {
      sim().setLatency(0);
    }
  });

  it('schedules: mirrored into the cluster once, and run by a worker', async () => {
    await setSchedule(ctx, 'sched', { every: 1 });
    await reconcileSchedules(ctx, producer);
    const schedulers = await producer.queue.getJobSchedulers();
    expect(schedulers.filter((s) => s.key === 'sync:sched')).toHaveLength(1);
    await until(
      async () =>
        (await syncRuns(getDb().db, 'sched')).filter(
          (r) => r.trigger === 'schedule' && r.status === 'succeeded',
        ).length >= 2,
      'two scheduled syncs',
      30_000,
    );
    // Reconciling again writes nothing (the two workers already agree).
    const again = await reconcileSchedules(ctx, producer);
    expect(again).toMatchObject({ upserted: 0, removed: 0 });
  });

  it('the master holding the queue fails over to its replica without losing a requested sync', async () => {
    sim().setLatency(200);
    try {
      const before = await Promise.all(
        ['fo0', 'fo1', 'fo2', 'fo3'].map((p) => enqueueSync(producer.queue, p, 'manual')),
      );
      const master = await masterOfQueue();
      // The replica has everything acknowledged so far (replication is asynchronous).
      await cli(master.port, 'wait', '1', '5000');
      master.process.kill('SIGKILL');
      // Requested while the master is down and its replica not yet promoted.
      const during = await Promise.all(['fo4', 'fo5'].map((p) => enqueueSync(producer.queue, p, 'manual')));
      const promoted = await until(
        async () => {
          const next = await masterOfQueue().catch(() => undefined);
          return next && next.port !== master.port ? next : undefined;
        },
        'a replica promoted',
        30_000,
      );
      expect(promoted.port).not.toBe(master.port);
      // Polled, not through queue events: their blocking read was on the master that died.
      for (const enqueued of [...before, ...during]) {
        await until(
          async () => (await enqueued.job.getState()) === 'completed',
          `the sync of ${enqueued.projectId} to complete`,
          60_000,
          200,
        );
      }
      for (const projectId of ['fo0', 'fo1', 'fo2', 'fo3', 'fo4', 'fo5']) {
        const runs = await syncRuns(getDb().db, projectId);
        expect(
          runs.some((r) => r.status === 'succeeded'),
          projectId,
        ).toBe(true);
      }
      // Both workers are still up after the failover.
      for (const worker of workers) expect(worker.child.exitCode).toBeNull();
    } finally {
      sim().setLatency(0);
    }
  });
});
