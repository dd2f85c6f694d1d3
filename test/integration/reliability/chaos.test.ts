import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { loadConfig } from '../../../src/config/env.ts';
import { enqueueSync } from '../../../src/queue/producer.ts';
import { openQueue, type QueueHandle } from '../../../src/queue/queue.ts';
import { seededRandom } from '../../../src/simulator/generate.ts';
import type { FaultRule, SimApp } from '../../../src/simulator/index.ts';
import { createProject } from '../../support/context.ts';
import {
  serviceEnv,
  spawnWorker,
  started,
  until,
  useJobsHarness,
  type WorkerProcess,
} from '../jobs/support.ts';
import { type OwnRedis, startOwnRedis } from './support.ts';

/*
 * Chaos, bounded to about two minutes: two worker processes, PROJECTS projects on the simulator,
 * random faults (5xx, resets, latency), random catalog edits, random sync requests and random
 * SIGKILLs of workers (restarted at once) for CHAOS_MS, and once a SIGKILL of Redis while syncs run
 * (it comes back empty a moment later, after they finished); then a quiet period in which every project
 * is synced once more. It must end with every stored catalog equal to the simulator's, no change
 * recorded twice, no run left `running` and no request left pending. The seed is printed, and
 * CHAOS_SEED=<n> replays the same random choices (the timing of processes is not replayable).
 */

const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PROJECTS = 30;
const CHAOS_MS = 45_000;
const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const appIds = Array.from({ length: PROJECTS }, (_, i) => String(7_000_000_001 + i));
const projectOf = (appId: string) => `chaos-${appId}`;

const harness = useJobsHarness({
  catalog: {
    seed: SEED % 100_000,
    apps: appIds.map((id, i) => ({ id, iaps: 2 + (i % 4), groups: 1 + (i % 2), subscriptionsPerGroup: 2 })),
  },
});
const { db: getDb, sim, ctx } = harness;
// A Redis of the test's own, so that it can be killed mid-sync.
let ownRedis: OwnRedis;
let queueHandle: QueueHandle;
const services = () => ({ ...harness.services(), redisUrl: ownRedis.url });
const handle = () => queueHandle;

beforeAll(async () => {
  ownRedis = await startOwnRedis();
  queueHandle = await openQueue(loadConfig(serviceEnv(services())), 'client');
});
const workers: WorkerProcess[] = [];
const say = (message: string) => `${message} (chaos seed ${SEED}: rerun with CHAOS_SEED=${SEED})`;

const workerEnv = () =>
  serviceEnv(services(), {
    WORKER_CONCURRENCY: '4',
    APP_STORE_CONNECT_MAX_RETRIES: '2',
    APP_STORE_CONNECT_RETRY_CAP_MS: '300',
    SYNC_ATTEMPTS: '8',
    SYNC_HEARTBEAT_INTERVAL_MS: '300',
    SYNC_RUN_STALE_AFTER_MS: '2000',
    SYNC_RUN_SWEEP_INTERVAL_MS: '500',
    WORKER_LOCK_DURATION_MS: '3000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    SCHEDULE_RECONCILE_INTERVAL_MS: '3000',
  });

afterAll(async () => {
  for (const worker of workers) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker.exited;
  }
  await queueHandle?.close().catch(() => {});
  await ownRedis?.kill();
});

const runningNow = async () =>
  rowsOf<{ id: string }>(
    await getDb().db.execute(sql`select id from sync_runs where status = 'running'`),
  ).map((row) => row.id);

function randomFault(): FaultRule {
  const paths = [
    '/v1/apps/{id}',
    '/v1/apps/{id}/inAppPurchasesV2',
    '/v1/apps/{id}/subscriptionGroups',
    '/v1/subscriptionGroups/{id}/subscriptions',
    '/v1/apps/{id}/subscriptionGracePeriod',
  ];
  const base = { path: pick(paths), nth: 1 + Math.floor(random() * 10), times: 1 + Math.floor(random() * 2) };
  const kind = random();
  if (kind < 0.4) return { ...base, status: pick([500, 502, 503]) };
  if (kind < 0.6) return { ...base, reset: true };
  return { ...base, latencyMs: 200 + Math.floor(random() * 3_000) };
}

let renames = 0;
function randomEdit(app: SimApp): void {
  const kind = random();
  const iap = app.iaps.length > 0 ? pick(app.iaps) : undefined;
  const group = app.groups.length > 0 ? pick(app.groups) : undefined;
  // Names are never reused, so two identical changes can only mean one change recorded twice.
  if (kind < 0.35 && iap)
    sim().mutate.updateProduct(iap.id, { name: `${iap.name.split(' #')[0]} #${++renames}` });
  else if (kind < 0.55) sim().mutate.addProduct(app.id, {});
  else if (kind < 0.7 && iap && app.iaps.length > 1) sim().mutate.removeProduct(iap.id);
  else if (kind < 0.85 && group?.subscriptions[0]) {
    const sub = group.subscriptions[0];
    sim().mutate.updateProduct(sub.id, { name: `${sub.name.split(' #')[0]} #${++renames}` });
  } else if (group) sim().mutate.addSubscription(group.id, {});
}

type Item = { appleId: string; name: string };
const sorted = (items: Item[]) => [...items].sort((a, b) => a.appleId.localeCompare(b.appleId));

function simulatorCatalog(appId: string): { products: Item[]; groups: Item[] } {
  const app = sim().catalog.apps.find((a) => a.id === appId)!;
  return {
    products: sorted([
      ...app.iaps.map((p) => ({ appleId: p.id, name: p.name })),
      ...app.groups.flatMap((g) => g.subscriptions.map((s) => ({ appleId: s.id, name: s.name }))),
    ]),
    groups: sorted(app.groups.map((g) => ({ appleId: g.id, name: g.referenceName }))),
  };
}

async function storedCatalog(projectId: string): Promise<{ products: Item[]; groups: Item[] }> {
  const db = getDb().db;
  const products = rowsOf<Item>(
    await db.execute(
      sql`select apple_id as "appleId", reference_name as name from products where project_id = ${projectId} and removed_at is null`,
    ),
  );
  const groups = rowsOf<Item>(
    await db.execute(
      sql`select apple_id as "appleId", reference_name as name from subscription_groups where project_id = ${projectId} and removed_at is null`,
    ),
  );
  return { products: sorted(products), groups: sorted(groups) };
}

function startWorker(): WorkerProcess {
  const worker = spawnWorker(workerEnv());
  workers.push(worker);
  return worker;
}

describe('chaos: two workers, random faults, edits and SIGKILLs', () => {
  it('ends with every catalog equal to the simulator, no change twice, no run running, no request lost', async () => {
    console.log(`chaos seed ${SEED} (CHAOS_SEED=${SEED} replays its random choices)`);
    for (const appId of appIds) await createProject(ctx(), sim(), projectOf(appId), appId);
    const live: WorkerProcess[] = [startWorker(), startWorker()];
    await Promise.all(live.map((w) => w.waitForLog(started, 30_000)));

    const chaosEnds = Date.now() + CHAOS_MS;
    let nextKill = Date.now() + 4_000 + random() * 6_000;
    let kills = 0;
    let redisKilled = false;
    const redisKillAt = Date.now() + CHAOS_MS / 2;
    while (Date.now() < chaosEnds) {
      if (!redisKilled && Date.now() >= redisKillAt) {
        // Redis dies while syncs run; it comes back empty once they have ended (or after 10 s).
        // Syncs slow enough to be caught running (a second per request), and some asked for, so
        // there is one to catch whatever the random schedule left running.
        sim().setLatency(1_000);
        for (const appId of appIds)
          await enqueueSync(handle().queue, projectOf(appId), 'manual', { db: ctx().db });
        const running = await until(async () => {
          const ids = await runningNow();
          return ids.length > 0 ? ids : undefined;
        }, say('a sync to be running'));
        await ownRedis.kill();
        redisKilled = true;
        const killedAt = Date.now();
        while (Date.now() - killedAt < 10_000 && (await runningNow()).some((id) => running.includes(id))) {
          await sleep(100);
        }
        await ownRedis.start();
        sim().setLatency(0);
        // The test's own client gave up on the dead Redis: a new one, as a producer would reconnect.
        await queueHandle.close().catch(() => {});
        queueHandle = await openQueue(loadConfig(serviceEnv(services())), 'client');
      }
      const roll = random();
      if (roll < 0.45) await enqueueSync(handle().queue, projectOf(pick(appIds)), 'manual', { db: ctx().db });
      else if (roll < 0.7) sim().faults.add(randomFault());
      else {
        const appId = pick(appIds);
        randomEdit(sim().catalog.apps.find((a) => a.id === appId)!);
      }
      if (Date.now() >= nextKill) {
        const index = Math.floor(random() * live.length);
        const victim = live[index]!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        kills++;
        live[index] = startWorker();
        nextKill = Date.now() + 4_000 + random() * 6_000;
      }
      await sleep(50 + random() * 150);
    }

    // Quiet: no faults, no edits, both workers up; every project is synced once more.
    sim().faults.clear();
    await Promise.all(live.map((w) => w.waitForLog(started, 30_000)));
    const [{ quietFrom }] = rowsOf<{ quietFrom: string }>(
      await getDb().db.execute(sql`select to_json(clock_timestamp()) #>> '{}' as "quietFrom"`),
    ) as [{ quietFrom: string }];
    for (const appId of appIds)
      await enqueueSync(handle().queue, projectOf(appId), 'manual', { db: ctx().db });
    await until(
      async () => {
        const [row] = rowsOf<{ n: number }>(
          await getDb().db.execute(
            sql`select count(distinct project_id)::int as n from sync_runs
                 where status = 'succeeded' and started_at >= ${quietFrom}::timestamptz`,
          ),
        );
        return (row?.n ?? 0) >= PROJECTS;
      },
      say('every project to be synced after the chaos'),
      75_000,
      500,
    );
    // Runs of killed workers end through the sweep; pending requests are all served.
    await until(
      async () =>
        rowsOf(await getDb().db.execute(sql`select 1 from sync_runs where status = 'running'`)).length ===
          0 &&
        rowsOf(await getDb().db.execute(sql`select 1 from projects where sync_requested_at is not null`))
          .length === 0,
      say('no run running and no request pending'),
      30_000,
      250,
    );

    for (const appId of appIds) {
      expect(await storedCatalog(projectOf(appId)), say(`catalog of ${projectOf(appId)}`)).toEqual(
        simulatorCatalog(appId),
      );
    }
    const duplicates = rowsOf(
      await getDb().db.execute(sql`
        select project_id, entity, entity_id, action, count(*)::int as n
          from catalog_changes
         group by project_id, entity, entity_id, action, before, after
        having count(*) > 1`),
    );
    expect(duplicates, say('changes recorded twice')).toEqual([]);
    const statuses = rowsOf<{ status: string; n: number }>(
      await getDb().db.execute(sql`select status, count(*)::int as n from sync_runs group by status`),
    );
    console.log(`chaos seed ${SEED}: ${kills} SIGKILLs, runs by status ${JSON.stringify(statuses)}`);
    expect(kills, say('workers killed')).toBeGreaterThan(0);
    expect(redisKilled, say('Redis killed')).toBe(true);
  }, 200_000);
});
