import { readFileSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrationsFolder } from '../../../db/migrate.ts';
import { appStoreCredentials } from '../../../db/schema.ts';
import {
  AppError,
  createCatalogSync,
  InvalidInputError,
  NotFoundError,
  PreconditionError,
} from '../../../src/index.ts';
import { SYNC_JOB, scheduleId, VERIFY_JOB } from '../../../src/queue/contract.ts';
import { databaseUrl } from '../../support/global-setup.ts';
import { ENCRYPTION_KEY, useJobsHarness } from '../jobs/support.ts';

/*
 * The public API in-process against real Postgres and Redis (no worker: the jobs it enqueues are
 * read back from BullMQ). The worker side of the flow is platform-flow.test.ts.
 */

const APP_ID = '1000000001';
const harness = useJobsHarness({
  catalog: {
    seed: 3,
    apps: [
      { id: APP_ID, iaps: 2, groups: 1, subscriptionsPerGroup: 2 },
      { id: '1000000002', iaps: 1, groups: 0, subscriptionsPerGroup: 0 },
    ],
  },
  queue: 'plain',
  api: true,
});
const { db: getDb, redis, sim, api, producer } = harness;
let key: { keyId: string; issuerId: string; privateKeyPem: string };

beforeAll(async () => {
  key = await sim().createKey({ role: 'ADMIN' });
});

const credentials = () => ({ keyId: key.keyId, issuerId: key.issuerId, privateKey: key.privateKeyPem });

async function expectInvalid(
  promise: Promise<unknown> | (() => unknown),
  field: string,
): Promise<InvalidInputError> {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidInputError);
  expect((caught as InvalidInputError).field).toBe(field);
  return caught as InvalidInputError;
}

/** No return value may carry the key, in any encoding the platform might log. */
function expectNoSecret(value: unknown): void {
  const text = JSON.stringify(value);
  const body = key.privateKeyPem.split('\n')[1]!;
  expect(text).not.toContain('PRIVATE KEY');
  expect(text).not.toContain(body.slice(0, 24));
  expect(text).not.toContain(ENCRYPTION_KEY);
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no JWE/JWT
}

describe('createCatalogSync options', () => {
  it('names the bad option and never echoes its value', () => {
    const error = (() => {
      try {
        createCatalogSync({ redisUrl: 'http://secret-host:6379' });
      } catch (e) {
        return e as InvalidInputError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error?.field).toBe('redisUrl');
    expect(error?.message).not.toContain('secret-host');
    expect(() => createCatalogSync({ encryptionKey: 'too-short' })).toThrow(/encryptionKey/);
    expect(() => createCatalogSync({ databaseUrl: 'mysql://x' })).toThrow(/databaseUrl/);
  });

  it('connects nothing until used, and explicit options win over the environment', async () => {
    const client = createCatalogSync({
      env: { REDIS_URL: 'redis://127.0.0.1:1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      databaseUrl: getDb().url,
      encryptionKey: ENCRYPTION_KEY,
    });
    try {
      await expect(client.getStatus('nobody-here')).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await client.close();
    }
    await expect(client.getStatus('x')).rejects.toThrow(/closed/);
  });
});

describe('an empty database', () => {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `cst_${inject('runId')}_api_empty_${process.pid}`;

  afterAll(async () => {
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  });

  it('fails with advice (not the SQL) until migrate() creates the tables', async () => {
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    await admin.end();
    const client = createCatalogSync({
      databaseUrl: databaseUrl(adminUrl, name),
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      encryptionKey: ENCRYPTION_KEY,
    });
    try {
      const error = await client.saveCredentials('fresh', credentials()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).kind).toBe('database_not_migrated');
      expect((error as AppError).message).toMatch(/catalog-sync migrate/);
      expect((error as AppError).message).not.toMatch(/insert into/i);
      const migrations = (
        JSON.parse(readFileSync(path.join(migrationsFolder(), 'meta', '_journal.json'), 'utf8')) as {
          entries: unknown[];
        }
      ).entries.length;
      expect(await client.migrate()).toEqual({ applied: migrations, total: migrations });
      expect(await client.migrate()).toEqual({ applied: 0, total: migrations });
      await expect(client.getStatus('fresh')).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await client.close();
    }
  });
});

describe('the platform API', () => {
  it('rejects bad input with InvalidInputError naming the field', async () => {
    await expectInvalid(api().saveCredentials('', credentials()), 'projectId');
    await expectInvalid(api().saveCredentials('has space', credentials()), 'projectId');
    await expectInvalid(api().saveCredentials('p1', { ...credentials(), keyId: 'nope' }), 'keyId');
    await expectInvalid(api().saveCredentials('p1', { ...credentials(), issuerId: 'nope' }), 'issuerId');
    await expectInvalid(
      api().saveCredentials('p1', { ...credentials(), privateKey: 'garbage' }),
      'privateKey',
    );
    await expectInvalid(api().requestSync('p1', { trigger: 'sometimes' as never }), 'trigger');
    await expectInvalid(api().schedule('p1', { every: '5 parsecs' }), 'every');
    await expectInvalid(api().schedule('p1', { every: 0 }), 'every');
    await expectInvalid(api().schedule('p1', { cron: 'every day' }), 'cron');
    await expectInvalid(api().schedule('p1', { every: '1h', cron: '0 * * * *' } as never), 'schedule');
    await expectInvalid(api().selectApp('p1', ''), 'appStoreId');
    // Nothing was stored by the refused calls.
    await expect(api().getStatus('p1')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('saveCredentials stores the key sealed and queues a verification (no sync before an app is selected)', async () => {
    const saved = await api().saveCredentials('shop', {
      ...credentials(),
      fileName: `AuthKey_${key.keyId}.p8`,
    });
    expectNoSecret(saved);
    expect(saved).toMatchObject({
      projectId: 'shop',
      keyId: key.keyId,
      issuerId: key.issuerId,
      status: 'unverified',
      verification: { outcome: 'added' },
      sync: null,
    });
    const [row] = await getDb()
      .db.select()
      .from(appStoreCredentials)
      .where(eq(appStoreCredentials.projectId, 'shop'));
    expect(row?.privateKeyEncrypted).toBeDefined();
    expect(row?.privateKeyEncrypted).not.toContain('PRIVATE KEY');

    const waiting = await producer().queue.getJobs(['waiting']);
    expect(waiting.map((job) => [job.name, job.data])).toEqual([[VERIFY_JOB, { projectId: 'shop' }]]);
    expect(waiting[0]?.id).toBe(saved.verification.jobId);

    // Saving again while that verification waits does not queue a second one.
    const again = await api().saveCredentials('shop', credentials());
    expect(again.verification).toEqual({ jobId: saved.verification.jobId, outcome: 'deduplicated' });
  });

  it('requestSync refuses a project that cannot be synced yet, saying what to do', async () => {
    await expect(api().requestSync('unknown-project')).rejects.toBeInstanceOf(NotFoundError);
    const error = await api()
      .requestSync('shop')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreconditionError);
    expect((error as AppError).message).toMatch(/select-app/);
  });

  it('verifyCredentials runs inline and lists the apps; selectApp binds one', async () => {
    const result = await api().verifyCredentials('shop');
    expectNoSecret(result);
    expect(result.status).toBe('valid');
    expect(result.apps.map((app) => app.appStoreId).sort()).toEqual([APP_ID, '1000000002']);
    expect((await api().listApps('shop')).map((app) => app.appStoreId).sort()).toEqual([
      APP_ID,
      '1000000002',
    ]);
    await expectInvalid(api().selectApp('shop', '999'), 'appStoreId');
    const app = await api().selectApp('shop', APP_ID);
    expect(app.appStoreId).toBe(APP_ID);
    const status = await api().getStatus('shop');
    expectNoSecret(status);
    expect(status).toMatchObject({
      projectId: 'shop',
      credentials: { keyId: key.keyId, status: 'valid', statusDetail: null },
      app: { appStoreId: APP_ID },
      schedule: null,
      lastRuns: [],
    });
  });

  it('requestSync enqueues one sync per project (deduplicated while it waits)', async () => {
    const first = await api().requestSync('shop');
    const second = await api().requestSync('shop', { trigger: 'manual' });
    expect(first).toMatchObject({ projectId: 'shop', trigger: 'manual', outcome: 'added' });
    expect(second).toMatchObject({ jobId: first.jobId, outcome: 'deduplicated' });
    const syncs = (await producer().queue.getJobs(['waiting'])).filter((job) => job.name === SYNC_JOB);
    expect(syncs.map((job) => job.data)).toEqual([{ projectId: 'shop', trigger: 'manual' }]);
  });

  it('saveCredentials on a project with an app also queues a sync with trigger credentials-saved', async () => {
    await producer().queue.obliterate({ force: true });
    const saved = await api().saveCredentials('shop', credentials());
    expect(saved.sync).toMatchObject({ outcome: 'added' });
    const syncs = (await producer().queue.getJobs(['waiting'])).filter((job) => job.name === SYNC_JOB);
    expect(syncs.map((job) => [job.id, job.data])).toEqual([
      [saved.sync?.jobId, { projectId: 'shop', trigger: 'credentials-saved' }],
    ]);
  });

  it('schedule mirrors the schedule to a BullMQ job scheduler; unschedule removes it', async () => {
    const info = await api().schedule('shop', { every: '6h' });
    expect(info).toMatchObject({ projectId: 'shop', every: '6h', everySeconds: 21_600, cron: null });
    expect(info.offsetMs).toBeGreaterThan(0);
    expect(info.offsetMs).toBeLessThan(21_600_000);
    expect(info.nextRunAt).toBeInstanceOf(Date);
    const scheduler = await producer().queue.getJobScheduler(scheduleId('shop'));
    expect(scheduler?.every).toBe(21_600_000);
    expect((await api().getStatus('shop')).schedule).toEqual({
      every: '6h',
      everySeconds: 21_600,
      cron: null,
    });

    const cron = await api().schedule('shop', { cron: '0 */4 * * *' });
    expect(cron).toMatchObject({ every: null, cron: '0 */4 * * *' });
    expect((await producer().queue.getJobScheduler(scheduleId('shop')))?.pattern).toBe('0 */4 * * *');

    expect(await api().unschedule('shop')).toEqual({ projectId: 'shop', removed: true });
    expect((await producer().queue.getJobSchedulers()).map((s) => s.key)).not.toContain(scheduleId('shop'));
    expect(await api().unschedule('shop')).toEqual({ projectId: 'shop', removed: false });
    expect((await api().getStatus('shop')).schedule).toBeNull();
    await expect(api().schedule('no-such-project', { every: 3600 })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('details and events through the API (the same application functions as the CLI)', () => {
  it('registers, lists, rotates and removes a webhook; refuses a private address; reads health and prices', async () => {
    const loopback = createCatalogSync({
      databaseUrl: getDb().url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      encryptionKey: ENCRYPTION_KEY,
      env: { ...process.env, WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'true' },
    });
    try {
      await expectInvalid(loopback.addWebhook({ url: 'https://10.0.0.1/hooks' }), 'url');
      const added = await loopback.addWebhook({ url: 'http://127.0.0.1:9/hooks', projectId: 'shop' });
      expect(added.secret).toMatch(/^whsec_/);
      const listed = await loopback.listWebhooks({ projectId: 'shop' });
      expect(listed.map((endpoint) => endpoint.id)).toEqual([added.endpoint.id]);
      // What is listed never carries the secret.
      expect(JSON.stringify(listed)).not.toContain(added.secret);
      const rotated = await loopback.rotateWebhookSecret(added.endpoint.id);
      expect(rotated.secret).not.toBe(added.secret);
      const enabled = await loopback.enableWebhook(added.endpoint.id, { replaySince: '1h' });
      expect(enabled.endpoint.status).toBe('enabled');
      expect(enabled.replayed).toMatchObject({ events: expect.any(Number) });
      await expectInvalid(loopback.listRunChanges({ projectId: 'shop', runId: 'changes?since=x' }), 'runId');
      await expect(
        loopback.addWebhook({ url: 'https://hooks.example.com/x', projectId: 'no-such' }),
      ).rejects.toBeInstanceOf(NotFoundError);
      expect(await loopback.removeWebhook(added.endpoint.id)).toEqual({
        id: added.endpoint.id,
        removed: true,
      });
      expect(await loopback.listWebhooks({ projectId: 'shop' })).toEqual([]);

      const health = await loopback.catalogHealth('shop');
      expect(health.projectId).toBe('shop');
      expect(health).toHaveProperty('counts');
      const { prices } = await loopback.listPrices({ projectId: 'shop' });
      expect(Array.isArray(prices)).toBe(true);
      await expect(loopback.catalogHealth('nobody')).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await loopback.close();
    }
  });
});
