import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { products, syncRuns } from '../../../db/schema.ts';
import { AppError } from '../../../src/index.ts';
import { countProducts } from '../../../src/simulator/index.ts';
import { DEADLINE_MS } from '../../support/wait.ts';
import { ENCRYPTION_KEY, useJobsHarness } from '../jobs/support.ts';

/*
 * The main platform's onboarding, end to end: the platform calls the public API in this
 * process; a real `catalog-sync worker` process does the queued work against the simulator.
 * saveCredentials → the worker verifies (status valid, apps discovered) → selectApp →
 * requestSync → the catalog is in Postgres; then a key rotation queues a sync by itself.
 */

const APP_ID = '1000000001';
const PROJECT = 'acme-meditation';
// The platform's side (api) is configured by options, not by this process's environment.
const harness = useJobsHarness({
  catalog: {
    seed: 11,
    apps: [
      { id: APP_ID, iaps: 4, groups: 2, subscriptionsPerGroup: [3, 2] },
      { id: '1000000002', iaps: 2, groups: 1, subscriptionsPerGroup: 1 },
    ],
  },
  api: true,
});
const { db: getDb, redis, sim, api } = harness;

let worker: ChildProcess | undefined;
let workerOutput = '';

beforeAll(async () => {
  const env = {
    ...process.env,
    DATABASE_URL: getDb().url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    APP_STORE_CONNECT_BASE_URL: sim().baseUrl,
    METRICS_PORT: '0',
    // Structure only: a detail refresh after each sync would keep a job active and make re-syncs change.
    DETAILS_BUDGET_SHARE: '0',
    // One worker process, as before `worker` defaulted to one per core (supervisor.test.ts covers groups).
    WORKER_PROCESSES: '1',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
  };
  worker = spawn(process.execPath, [path.resolve('bin/catalog-sync.js'), 'worker'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [worker.stdout, worker.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      workerOutput += chunk;
    });
  }
});

afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) {
    const exited = once(worker, 'exit');
    worker.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!stopped) worker.kill('SIGKILL');
  }
});

/** Polls until `check` returns a value (not undefined), or fails with the worker's output. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = DEADLINE_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (worker?.exitCode !== null)
      throw new Error(`the worker exited (${worker?.exitCode}):\n${workerOutput}`);
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; worker output:\n${workerOutput}`);
    await sleep(100);
  }
}

async function storedProductIds(): Promise<string[]> {
  const rows = await getDb()
    .db.select({ productId: products.productId })
    .from(products)
    .where(and(eq(products.projectId, PROJECT), isNull(products.removedAt)));
  return rows.map((row) => row.productId).sort();
}

function simulatorProductIds(appId: string): string[] {
  const app = sim().catalog.apps.find((a) => a.id === appId)!;
  return [
    ...app.iaps.map((iap) => iap.productId),
    ...app.groups.flatMap((group) => group.subscriptions.map((s) => s.productId)),
  ].sort();
}

describe('the platform flow through a real worker process', () => {
  it('saveCredentials → verification → selectApp → requestSync → products in Postgres', async () => {
    const key = await sim().createKey({ role: 'APP_MANAGER', appIds: 'all' });
    const saved = await api().saveCredentials(PROJECT, {
      keyId: key.keyId,
      issuerId: key.issuerId,
      privateKey: key.privateKeyPem,
      fileName: `AuthKey_${key.keyId}.p8`,
    });
    expect(saved).toMatchObject({ status: 'unverified', sync: null, verification: { outcome: 'added' } });

    // The worker process runs the verification job: the status turns valid, the apps are known.
    const verified = await eventually('the verification job', async () => {
      const status = await api().getStatus(PROJECT);
      return status.credentials?.status === 'unverified' ? undefined : status;
    });
    expect(verified.credentials).toMatchObject({ keyId: key.keyId, status: 'valid', statusDetail: null });
    expect(verified.credentials?.verifiedAt).toBeInstanceOf(Date);
    expect((await api().listApps(PROJECT)).map((app) => app.appStoreId).sort()).toEqual([
      APP_ID,
      '1000000002',
    ]);

    expect(await api().selectApp(PROJECT, APP_ID)).toMatchObject({ appStoreId: APP_ID });
    const request = await api().requestSync(PROJECT);
    expect(request).toMatchObject({ projectId: PROJECT, trigger: 'manual', outcome: 'added' });

    const expected = simulatorProductIds(APP_ID);
    expect(expected).toHaveLength(
      countProducts({ apps: [sim().catalog.apps.find((a) => a.id === APP_ID)!] }),
    );
    const stored = await eventually('the sync job', async () => {
      const ids = await storedProductIds();
      return ids.length === expected.length ? ids : undefined;
    });
    expect(stored).toEqual(expected);

    const status = await api().getStatus(PROJECT);
    expect(status.app).toMatchObject({ appStoreId: APP_ID });
    expect(status.catalog.products).toBe(expected.length);
    expect(status.lastRuns[0]).toMatchObject({ trigger: 'manual', status: 'succeeded', error: null });
    expect(status.lastRuns[0]?.changes?.['product.added']).toBe(expected.length);
  });

  it('saving a new key for a project with an app queues a sync (trigger credentials-saved) the worker runs', async () => {
    const rotated = await sim().createKey({ role: 'ADMIN' });
    sim().mutate.addProduct(APP_ID, { productId: 'com.example.rotation.coins', name: 'Rotation Coins' });
    const saved = await api().saveCredentials(PROJECT, {
      keyId: rotated.keyId,
      issuerId: rotated.issuerId,
      privateKey: rotated.privateKeyPem,
    });
    expect(saved.sync).toMatchObject({ outcome: 'added' });

    const run = await eventually('the credentials-saved sync', async () => {
      const [row] = await getDb()
        .db.select()
        .from(syncRuns)
        .where(and(eq(syncRuns.projectId, PROJECT), eq(syncRuns.trigger, 'credentials-saved')));
      return row && row.status !== 'running' ? row : undefined;
    });
    expect(run).toMatchObject({ status: 'succeeded', jobId: saved.sync?.jobId });
    expect(await storedProductIds()).toContain('com.example.rotation.coins');
    // The worker verified the new key too (its own job, queued by saveCredentials).
    const status = await eventually('the second verification', async () => {
      const current = await api().getStatus(PROJECT);
      return current.credentials?.keyId === rotated.keyId && current.credentials.status === 'valid'
        ? current
        : undefined;
    });
    expect(status.credentials?.status).toBe('valid');
  });

  it('requestSync with wait returns the summary, or the reason the worker gave up', async () => {
    const waited = await api().requestSync(PROJECT, { wait: true, timeoutMs: DEADLINE_MS });
    expect(waited.summary).toMatchObject({ projectId: PROJECT, status: 'succeeded', unchanged: true });
    expect(waited.summary?.requests).toBeGreaterThan(0);

    // Agreements expired: the worker fails the job without retrying, and says what to do.
    const { credentials } = await api().getStatus(PROJECT);
    sim().keys.update(credentials!.keyId, { agreementsMissing: true });
    const error = await api()
      .requestSync(PROJECT, { wait: true, timeoutMs: DEADLINE_MS })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).kind).toBe('sync_failed');
    expect((error as AppError).message).toMatch(/agreement/);
    expect((await api().getStatus(PROJECT)).credentials?.status).toBe('forbidden');
  });
});
