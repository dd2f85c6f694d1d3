import { Queue } from 'bullmq';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { announceRunChanges, listDeliveries, listEvents, redeliver } from '../../../src/app/events.ts';
import { addWebhook, listWebhooks, rotateWebhookSecret, testWebhook } from '../../../src/app/webhooks.ts';
import { announceSettledRuns } from '../../../src/events/announce.ts';
import { EVENTS_QUEUE_NAME } from '../../../src/events/dispatcher.ts';
import { emit } from '../../../src/events/emit.ts';
import { SYNC_JOB } from '../../../src/queue/contract.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { jsonOf, runCli } from '../../support/cli.ts';
import { createProject, type TestContext, testContext } from '../../support/context.ts';
import {
  serviceEnv,
  spawnWorker,
  started,
  until,
  useJobsHarness,
  type WorkerProcess,
} from '../jobs/support.ts';
import { type Received, type Receiver, startReceiver } from './receiver.ts';

/*
 * Events end to end: real Postgres, Redis, simulator, real worker processes dispatching the
 * outbox, and a receiver on loopback that verifies every delivery with `standardwebhooks`.
 * Time is scaled: retries wait 200 ms, 400 ms, … instead of minutes and hours.
 */

const APP = '2000000101';
const harness = useJobsHarness({
  catalog: {
    seed: 13,
    apps: [
      {
        id: APP,
        iaps: 4,
        groups: 1,
        subscriptionsPerGroup: 2,
        grace: { optIn: true, sandboxOptIn: false, duration: 'SIXTEEN_DAYS', renewalType: 'ALL_RENEWALS' },
      },
    ],
  },
  queue: 'plain',
});
const { db: getDb, sim, services, producer } = harness;

const EVENT_ENV = {
  WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'true',
  EVENTS_DISPATCH_INTERVAL_MS: '100',
  EVENTS_DISPATCH_CONCURRENCY: '4',
  WEBHOOKS_TIMEOUT_MS: '1000',
  WEBHOOKS_RETRY_SCHEDULE_MS: '200,300,400,500,600,800,1000,1000,1000,1000',
  EVENTS_QUEUE: 'true',
};

let ctx: TestContext;
let receiver: Receiver;
const workers: WorkerProcess[] = [];
const secrets: string[] = [];

function workerEnv() {
  return serviceEnv(services(), EVENT_ENV);
}

async function startWorker(): Promise<WorkerProcess> {
  const worker = spawnWorker(workerEnv());
  workers.push(worker);
  await worker.waitForLog(started);
  return worker;
}

async function endpoint(
  path: string,
  projectId: string | null,
  mode: 'ok' | number = 'ok',
  eventTypes?: string[],
) {
  // An endpoint is registered for an existing project only; these tests emit their own events.
  if (projectId !== null) await ensureProject(projectId);
  const { endpoint, secret } = await addWebhook(ctx, {
    url: receiver.url(path),
    projectId,
    ...(eventTypes ? { eventTypes } : {}),
  });
  secrets.push(secret);
  receiver.route(path, secret, mode);
  return { endpoint, secret };
}

async function ensureProject(projectId: string) {
  await getDb().db.execute(sql`insert into projects (id) values (${projectId}) on conflict do nothing`);
}

async function outbox(projectId: string) {
  return rowsOf<{ id: string; type: string; seq: number; payload: Record<string, unknown> }>(
    await getDb().db.execute(
      sql`select id, type, seq::int as seq, payload from events where project_id = ${projectId} order by seq`,
    ),
  );
}

const ofType = (list: Received[], type: string) => list.filter((r) => r.type === type);

beforeAll(async () => {
  ctx = testContext(getDb().db, { ...serviceEnv(services(), EVENT_ENV), LOG_LEVEL: 'silent' });
  receiver = await startReceiver();
  await startWorker();
});

afterAll(async () => {
  for (const worker of workers) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  }
  await receiver?.close();
});

describe('catalog.changed', () => {
  it('a sync that changes the catalog delivers one catalog.changed with the counts; an unchanged one nothing', async () => {
    await createProject(ctx, sim(), 'ev-shop', APP);
    await endpoint('/shop', 'ev-shop');
    const first = await syncProject(ctx, 'ev-shop', { trigger: 'manual' });
    expect(first.unchanged).toBe(false);
    // A run is announced once complete (the worker's job and `sync --inline` do it as they end).
    expect((await announceRunChanges(ctx, first.runId)).length).toBeGreaterThan(0);
    expect(await announceRunChanges(ctx, first.runId)).toEqual([]);

    const delivered = await until(async () => {
      const got = ofType(receiver.acknowledged('/shop'), 'catalog.changed');
      return got.length > 0 ? got : undefined;
    }, 'catalog.changed delivered');
    expect(delivered).toHaveLength(1);
    const [event] = delivered;
    expect(event!.verified).toBe(true);
    expect(event!.projectId).toBe('ev-shop');
    const { 'revenue_attribution_rule.opened': opened, ...rowCounts } = first.changes;
    expect(event!.data).toMatchObject({
      version: 1,
      runId: first.runId,
      counts: rowCounts,
      trigger: 'manual',
      rulesVersioned: true,
      rulesOpened: opened,
      changesCursor: `run:${first.runId}`,
    });
    expect(event!.sequence).toBeGreaterThan(0);
    const [{ n }] = rowsOf<{ n: number }>(
      await getDb().db.execute(
        sql`select count(*)::int as n from catalog_changes where run_id = ${first.runId}`,
      ),
    ) as [{ n: number }];
    expect(event!.data['totalChanges']).toBe(n);
    expect((event!.data['changes'] as unknown[]).length).toBe(n);
    // The outbox holds the same id that was delivered.
    const rows = (await outbox('ev-shop')).filter((r) => r.type === 'catalog.changed');
    expect(rows.map((r) => r.id)).toEqual([event!.id]);

    // Unchanged: the run commits without an event, so nothing can ever be delivered for it.
    const before = (await outbox('ev-shop')).length;
    const second = await syncProject(ctx, 'ev-shop', { trigger: 'manual' });
    expect(second.unchanged).toBe(true);
    expect((await outbox('ev-shop')).length).toBe(before);

    // The same event on the opt-in queue, job id = event id, data = the webhook body.
    const queue = new Queue(EVENTS_QUEUE_NAME, {
      connection: { url: services().redisUrl },
      prefix: services().prefix,
    });
    try {
      const job = await until(() => queue.getJob(event!.id), 'the event on catalog-sync-events');
      expect(job.name).toBe('catalog.changed');
      expect(job.data).toEqual(JSON.parse(event!.raw));
    } finally {
      await queue.close();
    }
  });
});

describe('runs left unannounced', () => {
  it('a run whose end a crash skipped is announced by the sweep, once', async () => {
    const iap = sim().catalog.apps.find((a) => a.id === APP)!.iaps[0]!;
    sim().mutate.updateProduct(iap.id, { name: 'Renamed while nobody announced' });
    // The structure sync alone: as if the process died before the run's end announced it.
    const run = await syncProject(ctx, 'ev-shop', { trigger: 'manual' });
    expect(run.unchanged).toBe(false);
    expect((await outbox('ev-shop')).filter((e) => e.payload['runId'] === run.runId)).toEqual([]);
    // Settled (no wait here): the sweep announces it, and only once.
    expect(await announceSettledRuns(getDb().db, 0)).toBeGreaterThanOrEqual(1);
    expect(await announceSettledRuns(getDb().db, 0)).toBe(0);
    const [event] = await until(async () => {
      const got = receiver.acknowledged('/shop').filter((r) => r.data['runId'] === run.runId);
      return got.length ? got : undefined;
    }, 'the swept run announced');
    expect(event!.type).toBe('catalog.changed');
    expect(event!.data).toMatchObject({ totalChanges: 1, counts: { 'product.updated': 1 } });
  });
});

describe('credentials', () => {
  it('a key made invalid in the simulator delivers credentials.status_changed (and sync.failed)', async () => {
    const { keyId } = await createProject(ctx, sim(), 'ev-key', APP);
    await endpoint('/key', 'ev-key');
    await syncProject(ctx, 'ev-key', { trigger: 'manual' });
    await until(
      async () => ofType(receiver.acknowledged('/key'), 'credentials.status_changed').length >= 1,
      'unverified → valid',
    );
    sim().keys.remove(keyId);
    await producer().queue.add(SYNC_JOB, { projectId: 'ev-key', trigger: 'manual' }, { attempts: 2 });
    const changed = await until(async () => {
      const got = ofType(receiver.acknowledged('/key'), 'credentials.status_changed').filter(
        (r) => r.data['to'] === 'invalid',
      );
      return got.length ? got : undefined;
    }, 'valid → invalid delivered');
    expect(changed).toHaveLength(1);
    expect(changed[0]!.data).toMatchObject({
      version: 1,
      from: 'valid',
      to: 'invalid',
      keyId,
      source: 'sync',
    });
    expect(String(changed[0]!.data['action'])).toMatch(/Key ID/);
    const failed = await until(async () => {
      const got = ofType(receiver.acknowledged('/key'), 'sync.failed');
      return got.length ? got : undefined;
    }, 'sync.failed delivered');
    expect(failed[0]!.data).toMatchObject({ version: 1, errorKind: 'auth', attempts: 1 });
  });
});

describe('delivery guarantees', () => {
  it('the receiver down for a while, then up, gets every event in order, each exactly once', async () => {
    const down = await startReceiver();
    const port = down.port;
    const received = down.received;
    await ensureProject('ev-down');
    const { secret } = await addWebhook(ctx, { url: `http://127.0.0.1:${port}/down`, projectId: 'ev-down' });
    secrets.push(secret);
    await down.close(); // connection refused from now on

    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        await getDb().db.transaction((tx) =>
          emit(tx, {
            type: 'catalog.health_changed',
            projectId: 'ev-down',
            payload: {
              version: 1,
              counts: { missing_metadata: 1 },
              previousCounts: { missing_metadata: 0 },
              issues: [{ kind: 'missing_metadata', productId: `issue-${i}`, message: `issue ${i}` }],
              more: 0,
            },
          }),
        ),
      );
    }
    // Wait until the first delivery has failed a few times (retrying, nothing sent after it).
    await until(async () => {
      const deliveries = await listDeliveries(ctx, { projectId: 'ev-down' });
      const head = deliveries.find((d) => d.eventId === ids[0]);
      return head && head.attempts >= 3 && deliveries.every((d) => d.eventId === ids[0] || d.attempts === 0);
    }, 'the head delivery retrying while the rest wait');

    const up = await startReceiver({ port, received });
    up.route('/down', secret);
    try {
      await until(
        async () => up.acknowledged('/down').length >= 5,
        'all five delivered after recovery',
        30_000,
      );
      const got = up.acknowledged('/down');
      expect(got.map((r) => r.id)).toEqual(ids);
      expect(new Set(got.map((r) => r.id)).size).toBe(5);
      expect(got.every((r) => r.verified)).toBe(true);
      // The receiver answers before the worker records the answer: wait for the records.
      const deliveries = await until(async () => {
        const list = await listDeliveries(ctx, { projectId: 'ev-down' });
        return list.every((d) => d.status === 'succeeded') ? list : undefined;
      }, 'every delivery recorded as succeeded');
      const head = deliveries.find((d) => d.eventId === ids[0])!;
      // The delivery log: refused attempts with their errors, then the success.
      expect(head.log.length).toBe(head.attempts);
      expect(head.log.length).toBeGreaterThanOrEqual(3);
      expect(
        head.log.slice(0, -1).every((a) => a.outcome === 'retrying' && a.statusCode === null && a.error),
      ).toBe(true);
      expect(head.log.at(-1)).toMatchObject({ outcome: 'succeeded', statusCode: 200 });
    } finally {
      await up.close();
    }
  });

  it('a worker killed with SIGKILL between commit and delivery: the same event is delivered after restart', async () => {
    const { secret } = await endpoint('/kill', 'ev-kill');
    receiver.setMode('/kill', 'hang');
    const id = await getDb().db.transaction((tx) =>
      emit(tx, {
        type: 'catalog.health_changed',
        projectId: 'ev-kill',
        payload: { version: 1, counts: {}, previousCounts: {}, issues: [], more: 0 },
      }),
    );
    // A worker has the event in flight (the receiver holds the request): kill every worker now.
    await until(async () => receiver.received.some((r) => r.path === '/kill'), 'the request in flight');
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        worker.child.kill('SIGKILL');
        await worker.exited;
      }
    }
    expect(receiver.acknowledged('/kill')).toHaveLength(0);
    receiver.setMode('/kill', 'ok');
    await startWorker();
    const got = await until(
      async () => {
        const list = receiver.acknowledged('/kill');
        return list.length ? list : undefined;
      },
      'delivered after restart',
      30_000,
    );
    expect(got).toHaveLength(1);
    expect(got[0]!.id).toBe(id);
    expect(secret).toMatch(/^whsec_/);
  });

  it('two dispatching workers never send the same attempt twice', async () => {
    await startWorker(); // now two
    const paths = ['/pair-a', '/pair-b', '/pair-c'];
    for (const [i, path] of paths.entries()) await endpoint(path, `ev-pair-${i}`, 'ok');
    const ids: string[] = [];
    for (let n = 0; n < 30; n++) {
      const i = n % paths.length;
      ids.push(
        await getDb().db.transaction((tx) =>
          emit(tx, {
            type: 'catalog.health_changed',
            projectId: `ev-pair-${i}`,
            payload: {
              version: 1,
              counts: { missing_metadata: 1 },
              previousCounts: {},
              issues: [{ kind: 'missing_metadata', productId: `n${n}`, message: 'x' }],
              more: 0,
            },
          }),
        ),
      );
    }
    await until(
      async () => paths.reduce((sum, p) => sum + receiver.acknowledged(p).length, 0) >= 30,
      'all thirty delivered',
      40_000,
    );
    const requests = receiver.received.filter((r) => paths.includes(r.path));
    // Every request the receiver saw is one attempt: no id was sent twice.
    expect(requests).toHaveLength(30);
    expect(new Set(requests.map((r) => r.id))).toEqual(new Set(ids));
    // And per endpoint, in event order.
    for (const [i, path] of paths.entries()) {
      const expected = ids.filter((_, n) => n % paths.length === i);
      expect(receiver.acknowledged(path).map((r) => r.id)).toEqual(expected);
    }
    // The delivery log agrees: one attempt row per request, each recorded once.
    await until(async () => {
      const [row] = rowsOf<{ attempts: number; pending: number }>(
        await getDb().db.execute(sql`
          select (select count(*)::int from webhook_delivery_attempts where event_id in ${ids}) as attempts,
                 (select count(*)::int from webhook_deliveries where event_id in ${ids} and status = 'pending') as pending`),
      );
      return row?.pending === 0 && row.attempts === 30;
    }, 'thirty attempts recorded, none pending');
    const delivering = workers.filter((w) => w.logs.some((l) => l.msg === 'webhook delivered'));
    expect(delivering.length).toBeGreaterThanOrEqual(1);
  });

  it('a 410 disables the endpoint, and an all-projects endpoint hears of it', async () => {
    const watcher = await endpoint('/watch', null, 'ok', ['webhook.endpoint_disabled']);
    const gone = await endpoint('/gone', 'ev-gone', 410);
    await getDb().db.transaction((tx) =>
      emit(tx, {
        type: 'catalog.health_changed',
        projectId: 'ev-gone',
        payload: { version: 1, counts: {}, previousCounts: {}, issues: [], more: 0 },
      }),
    );
    await until(async () => {
      const list = await listWebhooks(ctx, { projectId: 'ev-gone' });
      return list.find((e) => e.id === gone.endpoint.id)?.status === 'disabled';
    }, 'the endpoint disabled');
    const notice = await until(async () => {
      const list = ofType(receiver.acknowledged('/watch'), 'webhook.endpoint_disabled');
      return list.length ? list : undefined;
    }, 'webhook.endpoint_disabled delivered');
    expect(notice[0]!.data).toMatchObject({ version: 1, endpointId: gone.endpoint.id });
    expect(String(notice[0]!.data['reason'])).toMatch(/410/);
    expect(receiver.received.filter((r) => r.path === '/gone')).toHaveLength(1);
    expect(watcher.endpoint.projectId).toBeNull();
  });
});

describe('operations', () => {
  it('refuses private, link-local and metadata addresses at registration', async () => {
    const strict = testContext(getDb().db, { ...serviceEnv(services()), LOG_LEVEL: 'silent' });
    for (const url of [
      'https://10.0.0.1/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://192.168.1.20/hook',
      'https://[::ffff:10.0.0.1]/hook',
      'http://example.com/hook',
      'http://127.0.0.1:8080/hook',
    ]) {
      await expect(addWebhook(strict, { url }), url).rejects.toMatchObject({
        kind: 'invalid_input',
        field: 'url',
      });
    }
    const cli = await harness.cli(['webhooks', 'add', 'https://10.0.0.1/hook', '--json']);
    // Refused input is a usage error (exit 2).
    expect(cli.code).toBe(2);
    expect(jsonOf(cli)).toMatchObject({ ok: false, error: { kind: 'invalid_input' } });
  });

  it('rotation signs with the new and the old secret; test, events, deliveries and redeliver work', async () => {
    const { endpoint: ep, secret: old } = await endpoint('/rotate', 'ev-rotate');
    const rotated = await rotateWebhookSecret(ctx, { id: ep.id });
    secrets.push(rotated.secret);
    expect(rotated.secret).not.toBe(old);
    expect(rotated.endpoint.previousSecretValidUntil).not.toBeNull();
    // A receiver that knows only the new secret accepts the request, as does one with only the old.
    const probe = await testWebhook(ctx, { id: ep.id });
    expect(probe).toMatchObject({ ok: true, statusCode: 200 });
    const request = receiver.received.find((r) => r.id === probe.eventId)!;
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);

    const id = await getDb().db.transaction((tx) =>
      emit(tx, {
        type: 'catalog.health_changed',
        projectId: 'ev-rotate',
        payload: { version: 1, counts: {}, previousCounts: {}, issues: [], more: 0 },
      }),
    );
    await until(async () => receiver.acknowledged('/rotate').some((r) => r.id === id), 'delivered');
    const listed = await listEvents(ctx, { projectId: 'ev-rotate' });
    expect(listed.map((e) => e.id)).toEqual([id]);
    expect(await redeliver(ctx, { eventId: id })).toEqual({ events: 1, deliveries: 1 });
    await until(
      async () => receiver.acknowledged('/rotate').filter((r) => r.id === id).length === 2,
      'redelivered',
    );

    const cli = await harness.cli(['events', 'ev-rotate', '--json']);
    expect(cli.code).toBe(0);
    expect(jsonOf(cli)).toMatchObject({ ok: true, events: [{ id, type: 'catalog.health_changed' }] });
    const deliveries = await harness.cli(['deliveries', '--event', id, '--json']);
    expect(deliveries.code).toBe(0);
    expect((jsonOf(deliveries)['deliveries'] as unknown[]).length).toBe(2);
  });

  it('the CLI shows the secret once, at `webhooks add`, never in `webhooks list`', async () => {
    // A project that does not exist is refused (a typo would register an endpoint that never fires).
    const typo = await runCli(
      ['webhooks', 'add', receiver.url('/cli'), '--project', 'ev-cli', '--json'],
      serviceEnv(services(), { ...EVENT_ENV, LOG_LEVEL: 'warn' }),
    );
    expect(typo.code).toBe(1);
    expect(jsonOf(typo)).toMatchObject({ ok: false, error: { kind: 'not_found' } });
    expect(typo.stdout).toContain('Project ev-cli does not exist');
    await ensureProject('ev-cli');
    const added = await runCli(
      [
        'webhooks',
        'add',
        receiver.url('/cli'),
        '--project',
        'ev-cli',
        '--events',
        'catalog.changed',
        '--json',
      ],
      serviceEnv(services(), { ...EVENT_ENV, LOG_LEVEL: 'warn' }),
    );
    expect(added.code, added.stderr).toBe(0);
    const result = jsonOf(added) as { secret: string; endpoint: { id: string; eventTypes: string[] } };
    expect(result.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(result.endpoint.eventTypes).toEqual(['catalog.changed']);
    secrets.push(result.secret);
    const listed = await harness.cli(['webhooks', 'list', '--project', 'ev-cli', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(result.endpoint.id);
    expect(listed.stdout).not.toContain(result.secret.slice(6));
  });

  it('no secret in an event, a delivery row, the delivery log or a worker log line', async () => {
    const dump = rowsOf<{ text: string }>(
      await getDb().db.execute(sql`
        select coalesce((select json_agg(e)::text from events e), '') ||
               coalesce((select json_agg(d)::text from webhook_deliveries d), '') ||
               coalesce((select json_agg(a)::text from webhook_delivery_attempts a), '') as text`),
    )[0]!.text;
    const logs = workers.map((w) => JSON.stringify(w.logs) + w.stderr()).join('\n');
    const endpointsTable = rowsOf<{ text: string }>(
      await getDb().db.execute(sql`select json_agg(w)::text as text from webhook_endpoints w`),
    )[0]!.text;
    expect(secrets.length).toBeGreaterThan(3);
    for (const secret of secrets) {
      const body = secret.slice('whsec_'.length);
      for (const haystack of [dump, logs, endpointsTable]) {
        expect(haystack.includes(secret)).toBe(false);
        expect(haystack.includes(body)).toBe(false);
      }
    }
    expect(dump).not.toMatch(/BEGIN PRIVATE KEY/);
    expect(logs).not.toMatch(/BEGIN PRIVATE KEY/);
  });
});
