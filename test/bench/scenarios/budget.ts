import { sql } from 'drizzle-orm';
import { rowsOf } from '../../../db/client.ts';
import { projects as projectsTable } from '../../../db/schema.ts';
import { enqueueSync } from '../../../src/queue/producer.ts';
import { openQueue } from '../../../src/queue/queue.ts';
import { reconcileSchedules } from '../../../src/queue/schedules.ts';
import {
  generateCatalog,
  generateKeyPair,
  randomIssuerId,
  randomKeyId,
} from '../../../src/simulator/index.ts';
import { benchConfig, benchEnv, openBenchDatabase, serviceContext } from '../lib/context.ts';
import { type SeedProject, seedProjects } from '../lib/projects.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { createScratchDatabase } from '../lib/services.ts';
import { startSimulatorProcess } from '../lib/sim-process.ts';
import { round } from '../lib/stats.ts';
import { startWorkerGroup } from '../lib/worker-group.ts';

/*
 * The shared key budget at the size it was designed for: 20 projects × 500 products on ONE key,
 * `worker --processes 2`, the simulator's hourly budget binding. The hour is scaled to WINDOW_S
 * seconds in the simulator and in the workers (DETAILS_BUDGET_WINDOW_SECONDS); the key allows
 * LIMIT requests a window, half for details. A full pass of details needs ~10,000 × the lower
 * bound ≈ 60,000 requests — dozens of windows — so the budget binds for the whole measurement.
 *
 * Measured over MEASURE_WINDOWS windows: 429s from Apple (target 0), structure syncs that failed
 * (target 0), a project onboarded while the key is saturated (time to its first structure sync,
 * and to the first read of its details, in windows), products read per window against the
 * physical limit (the details share ÷ the measured requests per product), and the staleness the
 * workers report where the budget cannot keep up (the oldest details in /metrics-equivalent
 * Postgres figures). Details in 5 territories instead of 175: the same requests per product
 * (one page each), far less CPU for a shared machine.
 */

const WINDOW_S = 20;
const LIMIT = 3600;
const SHARE = 0.5;
const SCHEDULE_S = 10;
const MAX_AGE_S = 60;

export const budgetScenario: Scenario = {
  id: 12,
  key: 'details-budget',
  title: '20 projects × 500 products on one key, two worker processes, the hourly budget binding',
  async run(ctx) {
    const projectsCount = 20;
    const perApp = ctx.quick
      ? { iaps: 25, groups: 1, subscriptionsPerGroup: 25 }
      : { iaps: 250, groups: 5, subscriptionsPerGroup: 50 };
    const measureWindows = ctx.quick ? 3 : 5;
    const prefix = `csbench-${ctx.services.runId}-budget`;
    ctx.progress(
      `generating ${projectsCount + 1} apps of ${perApp.iaps + perApp.groups * perApp.subscriptionsPerGroup} products`,
    );
    const catalog = generateCatalog({
      seed: 30,
      apps: Array.from({ length: projectsCount + 1 }, () => ({ ...perApp, grace: {} })),
      details: { territories: 5, locales: 2 },
    });
    const pair = generateKeyPair();
    const keyId = randomKeyId();
    const issuerId = randomIssuerId();
    catalog.keys = [
      {
        keyId,
        issuerId,
        publicKeyPem: pair.publicKeyPem,
        role: 'ADMIN',
        appIds: 'all',
        agreementsMissing: false,
      },
    ];
    const seeds: SeedProject[] = catalog.apps.map((app, i) => ({
      id: i < projectsCount ? `budget-${String(i).padStart(2, '0')}` : 'budget-newcomer',
      keyId,
      issuerId,
      privateKeyPem: pair.privateKeyPem,
      app: { appStoreId: app.id, bundleId: app.bundleId, name: app.name },
    }));
    const fleet = seeds.slice(0, projectsCount);
    const newcomer = seeds[projectsCount]!;

    ctx.progress('starting the simulator process');
    const simulator = await startSimulatorProcess(ctx.cleanup, catalog, {});
    await simulator.control('PUT', 'settings', { rateLimit: { perHour: LIMIT, windowMs: WINDOW_S * 1000 } });
    const scratch = await createScratchDatabase(ctx.services, ctx.cleanup, 'budget');
    const overrides = {
      DATABASE_URL: scratch.url,
      REDIS_URL: ctx.services.redisUrl,
      REDIS_PREFIX: prefix,
      APP_STORE_CONNECT_BASE_URL: simulator.baseUrl,
      DETAILS_BUDGET_SHARE: String(SHARE),
      APP_STORE_CONNECT_HOURLY_LIMIT: String(LIMIT),
      DETAILS_BUDGET_WINDOW_SECONDS: String(WINDOW_S),
      DETAILS_MAX_AGE: String(MAX_AGE_S),
      WORKER_CONCURRENCY: '4',
    };
    const config = benchConfig(overrides);
    const database = await openBenchDatabase(ctx.cleanup, scratch.url);
    const db = database.db;
    await seedProjects(db, config, fleet);
    const service = serviceContext(database, config);
    const handle = await openQueue(config);
    ctx.cleanup.defer('close queue', () => handle.close());
    await db.update(projectsTable).set({ scheduleEverySeconds: SCHEDULE_S });
    await reconcileSchedules(service, handle);

    ctx.progress('starting worker --processes 2');
    const group = await startWorkerGroup(ctx.cleanup, 2, benchEnv(overrides));
    ctx.cleanup.defer('stop workers', () => group.stop());
    const started = Date.now();
    const statuses = async () =>
      ((await simulator.control('GET', `statuses?keyId=${keyId}`)) as { statuses: Record<string, number> })
        .statuses;
    const counts = async () => {
      const [row] = rowsOf<{
        total: number;
        read: number;
        oldest: number;
        failed: number;
        succeeded: number;
      }>(
        await db.execute(sql`
          select (select count(*)::int from products where removed_at is null) as total,
                 (select count(details_read_at)::int from products where removed_at is null) as read,
                 (select coalesce(extract(epoch from now() - min(coalesce(details_read_at, first_seen_at))), 0)::float8
                    from products where removed_at is null) as oldest,
                 (select count(*)::int from sync_runs where status = 'failed') as failed,
                 (select count(*)::int from sync_runs where status = 'succeeded') as succeeded`),
      );
      return row!;
    };
    const readsSince = async (since: Date) => {
      const [row] = rowsOf<{ n: number }>(
        await db.execute(
          sql`select count(*)::int as n from products where details_read_at >= ${since.toISOString()}::timestamptz`,
        ),
      );
      return Number(row?.n ?? 0);
    };

    // Warm-up: the first structure syncs and the start of the detail backlog; then the budget binds.
    ctx.progress(`warming up for one window (${WINDOW_S} s)`);
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));

    // A newcomer on the same key while the details saturate it.
    await seedProjects(db, config, [newcomer]);
    const asked = new Date();
    await enqueueSync(handle.queue, newcomer.id, 'credentials-saved', { db });
    await db
      .update(projectsTable)
      .set({ scheduleEverySeconds: SCHEDULE_S })
      .where(sql`${projectsTable.id} = ${newcomer.id}`);
    await reconcileSchedules(service, handle, { projectIds: [newcomer.id] });

    ctx.progress(`measuring for ${measureWindows} windows`);
    const measureFrom = new Date();
    let newcomerSyncedMs: number | null = null;
    let newcomerDetailsMs: number | null = null;
    while (Date.now() - measureFrom.getTime() < measureWindows * WINDOW_S * 1000) {
      await new Promise((r) => setTimeout(r, 500));
      if (newcomerSyncedMs === null) {
        const [run] = rowsOf<{ finished: string }>(
          await db.execute(
            sql`select min(finished_at)::text as finished from sync_runs where project_id = ${newcomer.id} and status = 'succeeded'`,
          ),
        );
        if (run?.finished) newcomerSyncedMs = new Date(run.finished).getTime() - asked.getTime();
      }
      if (newcomerDetailsMs === null) {
        const [read] = rowsOf<{ first: string | null }>(
          await db.execute(
            sql`select min(details_read_at)::text as first from products where project_id = ${newcomer.id}`,
          ),
        );
        if (read?.first) newcomerDetailsMs = new Date(read.first).getTime() - asked.getTime();
      }
    }
    const measuredMs = Date.now() - measureFrom.getTime();
    const failures = rowsOf<{ kind: string | null; message: string | null; n: number }>(
      await db.execute(sql`select error_kind as kind, error_message as message, count(*)::int as n from sync_runs
                            where status = 'failed' group by 1, 2 order by 3 desc limit 3`),
    );
    const reads = await readsSince(measureFrom);
    const end = await counts();
    const status = await statuses();
    const tooMany = Number(status['429'] ?? 0);
    const byProduct = (await simulator.control('GET', `counts?keyId=${keyId}&byProduct=1`)) as {
      products: Record<string, Record<string, number>>;
    };
    const perProductCounts = Object.values(byProduct.products).map((endpoints) =>
      Object.values(endpoints).reduce((a, b) => a + b, 0),
    );
    const detailRequests = perProductCounts.reduce((a, b) => a + b, 0);
    const requestsPerProduct = detailRequests / Math.max(1, perProductCounts.length);
    const windows = measuredMs / (WINDOW_S * 1000);
    const perWindow = reads / windows;
    const physical = (LIMIT * SHARE) / Math.max(1, requestsPerProduct);
    const elapsedWindows = (Date.now() - started) / (WINDOW_S * 1000);

    const targets: TargetCheck[] = [
      { name: '429s from Apple', target: '0', actual: String(tooMany), met: tooMany === 0 },
      { name: 'structure syncs failed', target: '0', actual: String(end.failed), met: end.failed === 0 },
      {
        name: 'newcomer structure synced within one sync interval',
        target: `≤ ${SCHEDULE_S} s`,
        actual: newcomerSyncedMs === null ? 'not yet' : `${round(newcomerSyncedMs / 1000, 1)} s`,
        met: newcomerSyncedMs !== null && newcomerSyncedMs <= SCHEDULE_S * 1000,
      },
      {
        name: 'newcomer details started within the first budget window',
        target: `≤ ${WINDOW_S} s`,
        actual: newcomerDetailsMs === null ? 'not yet' : `${round(newcomerDetailsMs / 1000, 1)} s`,
        met: newcomerDetailsMs !== null && newcomerDetailsMs <= WINDOW_S * 1000,
      },
      {
        name: 'staleness reported where the budget cannot keep up',
        target: `oldest > ${MAX_AGE_S} s when a pass needs more than the max age`,
        actual: `oldest ${round(end.oldest, 0)} s; ${end.read} of ${end.total} read`,
        met: end.read === end.total || end.oldest > MAX_AGE_S,
      },
    ];
    const rows: ResultTable['rows'] = [
      [
        `${projectsCount} × ${perApp.iaps + perApp.groups * perApp.subscriptionsPerGroup}`,
        round(windows, 1),
        reads,
        round(perWindow, 1),
        round(requestsPerProduct, 2),
        round(physical, 1),
        `${round((100 * perWindow) / physical, 0)}%`,
      ],
    ];
    return {
      tables: [
        {
          title: `Products refreshed per budget window (${LIMIT} requests, share ${SHARE}, window ${WINDOW_S} s = one scaled hour)`,
          columns: [
            'projects × products',
            'windows measured',
            'products read',
            'per window',
            'requests per product',
            'physical limit per window',
            'of the limit',
          ],
          rows,
        },
      ],
      targets,
      notes: [
        `One key for all projects; worker --processes 2 (concurrency 4 each); schedules every ${SCHEDULE_S} s; maximum age ${MAX_AGE_S} s; ${round(elapsedWindows, 1)} windows in all.`,
        'Physical limit = the details share of a window ÷ the requests per product the simulator counted per product (groups not included).',
        ...failures.map((f) => `${f.n} failed syncs: ${f.kind}: ${f.message}`),
      ],
      data: {
        reads,
        windows,
        perWindow,
        physical,
        requestsPerProduct,
        end,
        tooMany,
        newcomerSyncedMs,
        newcomerDetailsMs,
      },
    } satisfies ScenarioResult;
  },
};
