import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { listRunChanges } from '../../../src/app/events.ts';
import { addWebhook } from '../../../src/app/webhooks.ts';
import { emit } from '../../../src/events/emit.ts';
import { SYNC_JOB } from '../../../src/queue/contract.ts';
import { amountsFor } from '../../../src/simulator/territories.ts';
import { jsonOf } from '../../support/cli.ts';
import { createProject, type TestContext, testContext } from '../../support/context.ts';
import { DEADLINE_MS } from '../../support/wait.ts';
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
 * Events for the money, end to end: a real worker process syncs the simulator's catalog with its
 * details and dispatches the outbox; a receiver on loopback verifies every request with
 * `standardwebhooks` (`Webhook.verify`). Details are due on every sync (DETAILS_MAX_AGE=1s), so a
 * price changed in the simulator is read by the next sync.
 */

const APP = '2000000241';
const harness = useJobsHarness({
  catalog: {
    seed: 24,
    apps: [
      {
        id: APP,
        iaps: 1,
        groups: 1,
        subscriptionsPerGroup: 1,
        grace: { optIn: true, sandboxOptIn: false, duration: 'SIXTEEN_DAYS', renewalType: 'ALL_RENEWALS' },
      },
    ],
    details: { territories: 3, scheduledShare: 0 },
  },
  queue: 'plain',
});
const { sim, services, producer } = harness;

const HOLD_MS = 1_500;
const EVENT_ENV = {
  WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'true',
  EVENTS_DISPATCH_INTERVAL_MS: '100',
  WEBHOOKS_TIMEOUT_MS: '2000',
  // Plenty of quick retries: the held event must still be retrying when its receiver recovers.
  WEBHOOKS_RETRY_SCHEDULE_MS: Array.from({ length: 30 }, () => '2000').join(','),
  WEBHOOKS_ORDER_HOLD_MS: String(HOLD_MS),
  DETAILS_MAX_AGE: '1s',
};

let ctx: TestContext;
let receiver: Receiver;
let worker: WorkerProcess;

const today = () => new Date().toISOString().slice(0, 10);
const addDays = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
/** Days from the UTC day the event was written to `day`: the worker's own clock, so a run that
 * crosses midnight after the test chose its dates still agrees. */
const daysFromEvent = (event: Received, day: string) =>
  Math.round(
    (Date.parse(`${day}T00:00:00Z`) -
      Date.parse(`${String(JSON.parse(event.raw).timestamp).slice(0, 10)}T00:00:00Z`)) /
      86_400_000,
  );

beforeAll(async () => {
  const env = serviceEnv(services(), EVENT_ENV);
  ctx = testContext(harness.db().db, { ...env, LOG_LEVEL: 'silent' });
  receiver = await startReceiver();
  worker = spawnWorker(env);
  await worker.waitForLog(started);
});

afterAll(async () => {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await receiver?.close();
});

async function endpoint(path: string, projectId: string) {
  const { endpoint, secret } = await addWebhook(ctx, { url: receiver.url(path), projectId });
  receiver.route(path, secret, 'ok');
  return endpoint;
}

/**
 * Queues a sync and waits for the worker to finish it (structure and details). First waits until
 * the project's details are due again (older than DETAILS_MAX_AGE), so the sync reads them.
 */
async function syncNow(projectId: string): Promise<string> {
  await until(async () => {
    const [row] = rowsOf<{ fresh: number }>(
      await harness.db().db.execute(sql`
        select count(*)::int as fresh from products
         where project_id = ${projectId} and details_read_at > now() - interval '1.1 seconds'`),
    );
    return row?.fresh === 0;
  }, `the details of ${projectId} due again`);
  const job = await producer().queue.add(SYNC_JOB, { projectId, trigger: 'manual' });
  const result = (await job.waitUntilFinished(producer().events, DEADLINE_MS)) as { runId: string };
  return result.runId;
}

/** The events of `runId` (from the outbox), once every one of them was delivered to `path`. */
async function deliveredFor(path: string, runId: string): Promise<Received[]> {
  return until(async () => {
    const written = rowsOf<{ id: string }>(
      await harness
        .db()
        .db.execute(sql`select id from events where payload ->> 'runId' = ${runId} order by seq`),
    ).map((row) => row.id);
    if (written.length === 0) return undefined;
    const got = receiver.acknowledged(path).filter((r) => written.includes(r.id));
    return got.length === written.length ? got : undefined;
  }, `the events of run ${runId} delivered`);
}

const subscription = () => sim().catalog.apps.find((a) => a.id === APP)!.groups[0]!.subscriptions[0]!;

describe('events for the money', () => {
  const path = '/money';
  const project = 'ev-money';

  it('a first sync with details: catalog.changed counts every change row, and its cursor returns them all', async () => {
    await createProject(ctx, sim(), project, APP);
    await endpoint(path, project);
    const runId = await syncNow(project);
    const events = await deliveredFor(path, runId);
    const changed = events.find((r) => r.type === 'catalog.changed')!;
    expect(changed.verified).toBe(true);
    const data = changed.data as {
      totalChanges: number;
      counts: Record<string, number>;
      changesCursor: string;
      changes: unknown[] | null;
      rulesOpened: number;
    };
    // Structure and details alike: products, groups, grace, prices, offers, localizations, availability.
    for (const key of [
      'product.added',
      'subscription_group.added',
      'price.added',
      'localization.added',
      'availability.added',
    ]) {
      expect(data.counts[key], key).toBeGreaterThan(0);
    }
    expect(Object.values(data.counts).reduce((a, b) => a + b, 0)).toBe(data.totalChanges);
    expect(data.rulesOpened).toBe(4);
    expect(data.changesCursor).toBe(`run:${runId}`);
    // The cursor returns exactly totalChanges rows, through the app and through the CLI.
    const rows = await listRunChanges(ctx, { projectId: project, runId: data.changesCursor });
    expect(rows.changes).toHaveLength(data.totalChanges);
    const cli = await harness.cli(['changes', project, '--run', data.changesCursor, '--json']);
    expect(cli.code).toBe(0);
    expect((jsonOf(cli) as { changes: unknown[] }).changes).toHaveLength(data.totalChanges);
    // The first prices are money too: one prices.changed with every price row of the run.
    const prices = events.filter((r) => r.type === 'prices.changed');
    expect(prices).toHaveLength(1);
    expect(prices[0]!.data['total']).toBe(data.counts['price.added']);
    // Sequence numbers: 1, 2, … per project, catalog.changed before prices.changed.
    expect(prices[0]!.sequence).toBe(changed.sequence! + 1);
  });

  it('a price-only change sends one catalog.changed and one prices.changed with the simulator’s amounts', async () => {
    const sub = subscription();
    const start = today();
    sim().mutate.schedulePrice(sub.id, { startDate: start, tier: 40 });
    const runId = await syncNow(project);
    const events = await deliveredFor(path, runId);
    expect(events.every((r) => r.verified)).toBe(true);
    expect(events.map((r) => r.type).sort()).toEqual(['catalog.changed', 'prices.changed']);
    const changed = events.find((r) => r.type === 'catalog.changed')!.data as {
      counts: Record<string, number>;
      totalChanges: number;
    };
    const priced = (await listRunChanges(ctx, { projectId: project, runId })).changes;
    expect(priced.length).toBeGreaterThan(0);
    expect(changed.counts).toEqual({ 'price.added': priced.length });
    expect(changed.totalChanges).toBe(priced.length);
    const money = events.find((r) => r.type === 'prices.changed')!.data as {
      total: number;
      prices: Array<Record<string, string | null>>;
    };
    expect(money.total).toBe(priced.length);
    for (const price of money.prices) {
      const now = amountsFor(40, price['territory']!);
      expect(price).toMatchObject({
        productId: sub.productId,
        productAppleId: sub.id,
        action: 'added',
        startDate: start,
        newCustomerPrice: now.customerPrice,
        newProceeds: now.proceeds,
      });
      // The old price is the version it replaced: exact decimal strings, never floats.
      expect(price['oldCustomerPrice']).toMatch(/^\d+(\.\d+)?$/);
      expect(price['oldProceeds']).toMatch(/^\d+(\.\d+)?$/);
    }
  });

  it('a price scheduled 30 days ahead sends price_change.scheduled once, not again on the next sync', async () => {
    const sub = subscription();
    const start = addDays(today(), 30);
    sim().mutate.schedulePrice(sub.id, { startDate: start, tier: 50 });
    const runId = await syncNow(project);
    const events = await deliveredFor(path, runId);
    const scheduled = events.filter((r) => r.type === 'price_change.scheduled');
    expect(scheduled).toHaveLength(1);
    const data = scheduled[0]!.data as {
      productId: string;
      startDate: string;
      daysUntil: number;
      prices: Array<Record<string, string | null>>;
    };
    expect(data).toMatchObject({
      productId: sub.productId,
      productAppleId: sub.id,
      startDate: start,
      daysUntil: daysFromEvent(scheduled[0]!, start),
    });
    expect(data.daysUntil).toBeGreaterThanOrEqual(29);
    expect(data.prices.length).toBeGreaterThan(0);
    for (const price of data.prices) {
      expect(price).toMatchObject({
        customerPrice: amountsFor(50, price['territory']!).customerPrice,
        proceeds: amountsFor(50, price['territory']!).proceeds,
        previousCustomerPrice: amountsFor(40, price['territory']!).customerPrice,
      });
    }

    // The next sync reads the same schedule: nothing new to say.
    const quiet = await syncNow(project);
    // A later change is the barrier: a project's events reach an accepting endpoint in order, so
    // once this one is in, anything the quiet sync had written would be in too.
    sim().mutate.schedulePrice(sub.id, { startDate: addDays(today(), 45), tier: 45 });
    const barrier = await syncNow(project);
    await deliveredFor(path, barrier);
    expect(receiver.received.filter((r) => r.data['runId'] === quiet)).toEqual([]);
    const all = receiver.acknowledged(path).filter((r) => r.type === 'price_change.scheduled');
    expect(all.filter((r) => r.data['startDate'] === start)).toHaveLength(1);
    // Every request was verified, and the sequence numbers of the project never repeat.
    const sequences = receiver.acknowledged(path).map((r) => r.sequence);
    expect(new Set(sequences).size).toBe(sequences.length);
    expect(receiver.received.filter((r) => r.path === path).every((r) => r.verified)).toBe(true);
  });
});

describe('a scheduled price withdrawn before its date', () => {
  it('sends price_change.cancelled with the days it would have taken', async () => {
    const sub = subscription();
    const day = addDays(today(), 45);
    const details = sub.details!;
    expect(details.prices.some((p) => p.startDate === day)).toBe(true);
    sim().mutate.setDetails(sub.id, {
      ...details,
      prices: details.prices.filter((p) => p.startDate !== day),
    });
    const runId = await syncNow('ev-money');
    const events = await deliveredFor('/money', runId);
    const cancelled = events.filter((r) => r.type === 'price_change.cancelled');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]!.data).toMatchObject({
      productAppleId: sub.id,
      startDate: day,
      daysUntil: daysFromEvent(cancelled[0]!, day),
    });
    expect(events.filter((r) => r.type === 'price_change.scheduled')).toEqual([]);
    const money = events.find((r) => r.type === 'prices.changed')!.data as { prices: { action: string }[] };
    expect(money.prices.every((p) => p.action === 'removed')).toBe(true);
  });
});

describe('ordering that cannot stall', () => {
  it('an event failing longer than the hold stops holding the later ones; it arrives when its receiver recovers', async () => {
    const project = 'ev-hold';
    const path = '/hold';
    await createProject(ctx, sim(), project, APP);
    await endpoint(path, project);
    receiver.setRule(path, (body) =>
      (body['data'] as { errorMessage?: string }).errorMessage === 'poison' ? 500 : undefined,
    );
    const failed = (message: string) =>
      harness.db().db.transaction((tx) =>
        emit(tx, {
          type: 'sync.failed',
          projectId: project,
          payload: {
            version: 1,
            runId: null,
            jobId: null,
            trigger: 'manual',
            attempts: 1,
            errorKind: 'transient',
            errorMessage: message,
          },
        }),
      );
    const poison = await failed('poison');
    const later = [await failed('later 1'), await failed('later 2')];

    const mine = () => receiver.received.filter((r) => r.path === path);
    const firstFailure = await until(
      async () => mine().find((r) => r.id === poison),
      'the first failed attempt',
    );
    expect(firstFailure.answered).toBe(500);
    // Held while the hold lasts, then sent in sequence order although the first still fails.
    const delivered = await until(async () => {
      const got = receiver.acknowledged(path);
      return got.length === 2 ? got : undefined;
    }, 'the later events past the hold');
    expect(delivered.map((r) => r.id)).toEqual(later);
    expect(delivered[0]!.sequence! < delivered[1]!.sequence!).toBe(true);
    expect(delivered[0]!.at - firstFailure.at).toBeGreaterThanOrEqual(HOLD_MS - 100);
    expect(
      mine()
        .filter((r) => r.id === poison)
        .every((r) => r.answered === 500),
    ).toBe(true);

    // The receiver recovers: the failed event, retrying on its own schedule, arrives too.
    receiver.setRule(path, null);
    const recovered = await until(
      async () => receiver.acknowledged(path).find((r) => r.id === poison),
      'the failed event delivered after recovery',
    );
    expect(recovered.sequence! < delivered[0]!.sequence!).toBe(true);
    expect(receiver.acknowledged(path).map((r) => r.id)).toEqual([...later, poison]);
    expect(mine().every((r) => r.verified)).toBe(true);
  });
});
