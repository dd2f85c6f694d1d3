import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { loadCredentials } from '../../../src/credentials/index.ts';
import { createProject } from '../../support/context.ts';
import { DEADLINE_MS } from '../../support/wait.ts';
import {
  freePort,
  serviceEnv,
  spawnWorker,
  started,
  syncRuns,
  useJobsHarness,
  type WorkerProcess,
} from './support.ts';

/*
 * One real worker process (`catalog-sync worker`) against real Postgres, Redis and the simulator;
 * jobs are added with plain BullMQ, using only the documented payload, as any producer would.
 */

const APP = '2000000001';
const harness = useJobsHarness({
  catalog: {
    seed: 11,
    apps: [
      {
        id: APP,
        iaps: 6,
        groups: 1,
        subscriptionsPerGroup: 3,
        grace: { optIn: true, sandboxOptIn: true, duration: 'SIXTEEN_DAYS', renewalType: 'ALL_RENEWALS' },
      },
    ],
  },
  queue: 'plain',
});
const { db: getDb, sim, services, ctx, producer } = harness;
let worker: WorkerProcess;
let metricsPort: number;
const METRICS_TOKEN = 'a-metrics-token-for-tests';
const authorized = { headers: { authorization: `Bearer ${METRICS_TOKEN}` } };

beforeAll(async () => {
  metricsPort = await freePort();
  worker = spawnWorker(
    serviceEnv(services(), { METRICS_PORT: String(metricsPort), METRICS_TOKEN: METRICS_TOKEN }),
  );
  await worker.waitForLog(started);
});

afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
});

async function productCount(projectId: string): Promise<number> {
  const [row] = rowsOf<{ n: number }>(
    await getDb().db.execute(sql`select count(*)::int as n from products where project_id = ${projectId}`),
  );
  return row!.n;
}

describe('a worker process', () => {
  it('processes a sync-catalog job added with plain BullMQ and only the documented payload', async () => {
    await createProject(ctx(), sim(), 'plain', APP);
    const job = await producer().queue.add('sync-catalog', { projectId: 'plain', trigger: 'manual' });
    const result = (await job.waitUntilFinished(producer().events, DEADLINE_MS)) as Record<string, unknown>;
    expect(result).toMatchObject({ projectId: 'plain', status: 'succeeded', unchanged: false });
    expect(await productCount('plain')).toBe(9);
    const runs = await syncRuns(getDb().db, 'plain');
    expect(runs).toMatchObject([
      { trigger: 'manual', status: 'succeeded', job_id: job.id, id: result.runId },
    ]);
    // The worker's log lines carry the job, project and run.
    const line = await worker.waitForLog((l) => l.msg === 'sync job completed' && l.jobId === job.id);
    expect(line).toMatchObject({ projectId: 'plain', runId: result.runId });
  });

  it('processes a verify-credentials job and records the status', async () => {
    await createProject(ctx(), sim(), 'verify-me', null);
    const job = await producer().queue.add('verify-credentials', { projectId: 'verify-me' });
    const result = (await job.waitUntilFinished(producer().events, DEADLINE_MS)) as {
      status: string;
      apps: unknown[];
    };
    expect(result.status).toBe('valid');
    expect(result.apps).toHaveLength(1);
    expect((await loadCredentials(ctx(), 'verify-me')).status).toBe('valid');
  });

  it('fails a bad payload at once, without retries, with a clear reason', async () => {
    const options = { attempts: 5, backoff: { type: 'fixed', delay: 10 } };
    const bad = await producer().queue.add(
      'sync-catalog',
      { projectId: 'plain', trigger: 'hourly' },
      options,
    );
    await expect(bad.waitUntilFinished(producer().events, DEADLINE_MS)).rejects.toThrow(
      /Invalid sync-catalog payload \(trigger: trigger must be one of schedule, credentials-saved, manual\)/,
    );
    const unknown = await producer().queue.add('sync-everything', { projectId: 'plain' }, options);
    await expect(unknown.waitUntilFinished(producer().events, DEADLINE_MS)).rejects.toThrow(
      /Unknown job name/,
    );
    const missing = await producer().queue.add('verify-credentials', {}, options);
    await expect(missing.waitUntilFinished(producer().events, DEADLINE_MS)).rejects.toThrow(/projectId/);
    for (const job of [bad, unknown, missing]) {
      const reloaded = await producer().queue.getJob(job.id!);
      expect(await reloaded!.getState()).toBe('failed');
      expect(reloaded!.attemptsMade).toBe(1);
    }
  });

  it('does not retry a sync whose key App Store Connect rejects, and marks the credentials invalid', async () => {
    const { keyId } = await createProject(ctx(), sim(), 'revoked', APP);
    sim().keys.remove(keyId);
    const job = await producer().queue.add(
      'sync-catalog',
      { projectId: 'revoked', trigger: 'schedule' },
      { attempts: 5, backoff: { type: 'fixed', delay: 10 } },
    );
    await expect(job.waitUntilFinished(producer().events, DEADLINE_MS)).rejects.toThrow(
      /rejected the API key/,
    );
    expect((await producer().queue.getJob(job.id!))!.attemptsMade).toBe(1);
    expect((await loadCredentials(ctx(), 'revoked')).status).toBe('invalid');
  });

  it('does not retry a project with no app selected', async () => {
    await createProject(ctx(), sim(), 'no-app', null);
    const job = await producer().queue.add(
      'sync-catalog',
      { projectId: 'no-app', trigger: 'manual' },
      { attempts: 5, backoff: { type: 'fixed', delay: 10 } },
    );
    await expect(job.waitUntilFinished(producer().events, DEADLINE_MS)).rejects.toThrow(/no app selected/);
    expect((await producer().queue.getJob(job.id!))!.attemptsMade).toBe(1);
  });

  it('retries a transient failure with backoff, then succeeds', async () => {
    await createProject(ctx(), sim(), 'flaky', APP);
    sim().faults.add({ path: /inAppPurchasesV2/, status: 503, times: 1 });
    const job = await producer().queue.add(
      'sync-catalog',
      { projectId: 'flaky', trigger: 'manual' },
      { attempts: 3, backoff: { type: 'fixed', delay: 50 } },
    );
    await job.waitUntilFinished(producer().events, DEADLINE_MS);
    expect((await producer().queue.getJob(job.id!))!.attemptsMade).toBe(2);
    expect((await syncRuns(getDb().db, 'flaky')).map((r) => r.status)).toEqual(['failed', 'succeeded']);
  });

  it('puts a rate-limited job back until Retry-After without using an attempt', async () => {
    await createProject(ctx(), sim(), 'limited', APP);
    sim().faults.add({ path: /subscriptionGroups/, status: 429, retryAfterSeconds: 1, times: 1 });
    const job = await producer().queue.add(
      'sync-catalog',
      { projectId: 'limited', trigger: 'manual' },
      { attempts: 1 },
    );
    const began = Date.now();
    await job.waitUntilFinished(producer().events, DEADLINE_MS);
    expect(Date.now() - began).toBeGreaterThanOrEqual(900);
    // One attempt allowed, one used: the 429 did not count.
    expect((await producer().queue.getJob(job.id!))!.attemptsMade).toBe(1);
    await worker.waitForLog((l) => l.jobId === job.id && /rate limited/.test(String(l.msg)));
  });

  it('answers /healthz, /readyz and /metrics (on loopback by default, with the bearer token)', async () => {
    const base = `http://127.0.0.1:${metricsPort}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/readyz`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ready = await fetch(`${base}/readyz`, authorized);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { redis: { ok: true }, postgres: { ok: true }, worker: { ok: true } },
    });
    const metrics = await (await fetch(`${base}/metrics`, authorized)).text();
    expect(metrics).toMatch(/catalog_sync_jobs_total\{job="sync-catalog",outcome="completed"\} [1-9]/);
    expect(metrics).toMatch(/catalog_sync_jobs_total\{job="sync-catalog",outcome="invalid"\} 1/);
    expect(metrics).toMatch(/catalog_sync_jobs_total\{job="sync-catalog",outcome="rate_limited"\} 1/);
    expect(metrics).toMatch(/catalog_sync_sync_duration_seconds_count\{outcome="succeeded"\} [1-9]/);
    expect(metrics).toMatch(/catalog_sync_appstore_requests_total\{status="200"\} [1-9]/);
    expect(metrics).toMatch(/catalog_sync_appstore_requests_total\{status="429"\} 1/);
    expect(metrics).toMatch(/catalog_sync_appstore_rate_limit_remaining\{window="user-hour"\} \d+/);
    // No customer Key ID in a label unless METRICS_KEY_ID_LABELS=true.
    expect(metrics).not.toMatch(/key_id=/);
    expect(metrics).toMatch(/catalog_sync_schedules 0/);
    expect(metrics).toMatch(/catalog_sync_queue_jobs\{state="failed"\} [1-9]/);
    expect(metrics).not.toMatch(/BEGIN|PRIVATE KEY/);
  });
});
