import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { projects } from '../../../db/schema.ts';
import type { AppContext } from '../../../src/app/context.ts';
import { schedule } from '../../../src/app/schedules.ts';
import { getStatus } from '../../../src/app/status.ts';
import { requestSync } from '../../../src/app/sync.ts';
import { saveCredentials } from '../../../src/credentials/index.ts';
import { AppError } from '../../../src/errors.ts';
import { type TestContext, testContext } from '../../support/context.ts';
import {
  freePort,
  type LogLine,
  serviceEnv,
  spawnWorker,
  until,
  useJobsHarness,
  type WorkerProcess,
} from '../jobs/support.ts';

/*
 * The budget scenario with real processes: 20 projects sharing ONE key, `worker
 * --processes 2` (a supervisor over two worker processes, four jobs at a time each),
 * the simulator over HTTP in this process, real Postgres and Redis.
 *
 * How it is scaled. The issue has 20 projects × 500 products on a key allowed 3600 requests per
 * rolling hour, half of it for details. Here: 20 projects × 4 products (2 in-app purchases, 2
 * subscriptions; ~5 detail requests each, ~400 for the fleet and a newcomer), the "hour" is
 * WINDOW_S = 2 seconds in the simulator's rolling window and in the workers' budget
 * (DETAILS_BUDGET_WINDOW_SECONDS), and the key allows LIMIT = 240 requests a window, SHARE = 0.5
 * of it for details. Every project is scheduled every SCHEDULE_S = 3 s (a structure sync costs
 * 2–3 requests: ~35 a window). What the issue asks depends on ratios, and these keep them:
 * - the detail backlog (~400) is more than the key's whole window (240), so details that
 *   ignored their share WOULD meet 429s (with SHARE = 1 this file fails on the 429 count), and
 *   it takes several windows of the share left by the structure (~85), so the budget binds;
 * - the structure syncs stay inside the reserve LIMIT × (1 − SHARE) = 120, and so does a
 *   newcomer's;
 * - the maximum age (MAX_AGE_S = 25 s) is longer than the backlog takes at the details share
 *   (the budget allows it: ~10–15 s), and shorter than the starved phase.
 * The budget binds only if the workers read faster than it allows (~45 requests a second here):
 * on a machine so loaded that two workers cannot, the wait for the first refused refresh times
 * out — the scenario did not happen, and the file says so rather than passing.
 * All 20 projects, the newcomer and both processes use the one key and one budget in Redis.
 *
 * Phase 1 (the budget binds but suffices): once a refresh has stopped on the spent share, a new
 * project on the same key asks for its first sync; it must finish within ONBOARDING_WINDOWS
 * budget windows and before the backlog is done (a refresh that waited for the budget in a
 * worker slot, or a 429 — the job would be delayed a minute — fails that). Then every product's
 * details are read and none is older than the maximum age. Phase 2 (the budget does not
 * suffice): Apple's limit for the key drops to STARVED_LIMIT (as when another consumer shares
 * the key): the structure syncs still fit, the details' share is all but gone, reads age past
 * the maximum, and `status` (getStatus, what the CLI prints) and the group's /metrics report it
 * — with Postgres's numbers, not each child's added up. Throughout: zero 429s from Apple.
 */

const PROJECTS = Array.from({ length: 20 }, (_, i) => `fleet-${String(i).padStart(2, '0')}`);
const APPS = PROJECTS.map((_, i) => String(4_100_000_001 + i));
const NEWCOMER = 'newcomer';
const NEWCOMER_APP = '4100000999';
const PRODUCTS = { iaps: 2, groups: 1, subscriptionsPerGroup: 2 };

const WINDOW_S = 2;
const LIMIT = 240;
const SHARE = 0.5;
const SCHEDULE_S = 3;
const MAX_AGE_S = 25;
/**
 * Phase 2: the key's limit per window. The 20 schedules' ~35 structure requests a window fit in
 * its reserve (50), and the details are left a trickle (~15 a window, 3 products) while all 84
 * products come due every MAX_AGE_S.
 */
const STARVED_LIMIT = 100;
const ONBOARDING_WINDOWS = 2;

const harness = useJobsHarness({
  catalog: {
    seed: 12,
    apps: [...APPS, NEWCOMER_APP].map((id) => ({ id, ...PRODUCTS, grace: {} })),
    // Five territories instead of 175: a product costs Apple the same requests (one page each)
    // and the workers' CPU far less, so a busy machine still reads faster than the budget allows.
    details: { territories: 5, locales: 2 },
  },
  queue: 'client',
});
const { db: getDb, sim, services, handle } = harness;

/** The workers' settings; the test's own context (status) judges staleness by the same maximum age. */
const budgetEnv = {
  DETAILS_BUDGET_SHARE: String(SHARE),
  APP_STORE_CONNECT_HOURLY_LIMIT: String(LIMIT),
  DETAILS_BUDGET_WINDOW_SECONDS: String(WINDOW_S),
  DETAILS_MAX_AGE: String(MAX_AGE_S),
};
let context: TestContext;
const ctx = () => context;

let group: WorkerProcess;
let metricsUrl: string;
let key: Awaited<ReturnType<ReturnType<typeof sim>['createKey']>>;

/** Saves the one key for a project and binds it to its app, as onboarding does. */
async function saveKey(projectId: string, appId: string) {
  await saveCredentials(ctx(), projectId, {
    keyId: key.keyId,
    issuerId: key.issuerId,
    privateKey: key.privateKeyPem,
  });
  await ctx().db.update(projects).set({ appStoreId: appId }).where(eq(projects.id, projectId));
}

const groupStarted = (line: LogLine) => line.msg === 'worker group started';

beforeAll(async () => {
  context = testContext(getDb().db, { ...serviceEnv(services(), budgetEnv), LOG_LEVEL: 'silent' });
  sim().setRateLimit({ perHour: LIMIT, windowMs: WINDOW_S * 1000 });
  key = await sim().createKey();
  for (const [i, projectId] of PROJECTS.entries()) await saveKey(projectId, APPS[i]!);
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  group = spawnWorker(
    serviceEnv(services(), {
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      ...budgetEnv,
      // Four jobs at a time per process (eight across the group) keep the group's database
      // connections few on a shared Postgres; the dispatcher has no webhooks to send here.
      WORKER_CONCURRENCY: '4',
      EVENTS_DISPATCH_CONCURRENCY: '1',
      LOG_LEVEL: 'info',
    }),
    ['--processes', '2'],
  );
  await group.waitForLog(groupStarted, 110_000);
}, 120_000);

afterAll(async () => {
  if (group && group.child.exitCode === null && group.child.signalCode === null) {
    group.child.kill('SIGTERM');
    await group.exited;
  }
});

function app(): AppContext {
  return {
    ...ctx(),
    queue: async () => handle(),
    queueEvents: () => Promise.reject(new AppError('unsupported', 'not in this test')),
  };
}

async function scrape(): Promise<string> {
  return (await fetch(metricsUrl)).text();
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : undefined;
}

/**
 * Every product of the fleet (the newcomer included): how many, how many read, the age of the
 * oldest details (never read: since first seen), and the time since the first product was seen.
 */
async function readCounts() {
  const [row] = rowsOf<{
    total: number;
    read: number;
    oldest: number;
    sinceFirstSeen: number;
  }>(
    await getDb().db.execute(sql`
      select count(*)::int as total,
             count(details_read_at)::int as read,
             coalesce(extract(epoch from now() - min(coalesce(details_read_at, first_seen_at))), 0)::float8 as oldest,
             coalesce(extract(epoch from now() - min(first_seen_at)), 0)::float8 as "sinceFirstSeen"
        from products where removed_at is null`),
  );
  return row!;
}

const count429 = () => sim().statusCounts({ keyId: key.keyId })['429'] ?? 0;

describe('20 projects on one key, two worker processes, a binding details budget', () => {
  it('never meets a 429, onboards a newcomer promptly, refreshes within the maximum age when the budget allows and reports staleness when not', async () => {
    for (const projectId of PROJECTS) await schedule(app(), { projectId, every: SCHEDULE_S });

    // ── Phase 1: the budget binds (the backlog needs several windows) but suffices. ──
    // The details say when a refresh stops because the key's share of the window is spent
    // (a refresh that overspent would meet a 429 first: that fails here, at once).
    await until(
      async () =>
        count429() > 0 ||
        group.logs.some((l) => String(l.msg).startsWith('details budget of the key is spent')),
      "a refresh stopped by the key's spent details share",
    );
    expect(count429()).toBe(0);
    const backlog = await readCounts();
    expect(backlog.read).toBeLessThan(backlog.total);

    // A new project on the same key asks for its first sync now, while the details saturate it.
    await saveKey(NEWCOMER, NEWCOMER_APP);
    const asked = Date.now();
    await requestSync(app(), { projectId: NEWCOMER, trigger: 'credentials-saved' });
    // Its details that do not fit now are read by its later runs, as for every project.
    await schedule(app(), { projectId: NEWCOMER, every: SCHEDULE_S });
    const onboarded = await until(async () => {
      const [run] = rowsOf<{ finished: Date }>(
        await getDb().db.execute(
          sql`select finished_at as finished from sync_runs where project_id = ${NEWCOMER} and status = 'succeeded'`,
        ),
      );
      return run;
    }, "the newcomer's first sync");
    const atOnboarding = await readCounts();
    const onboardingMs = new Date(onboarded.finished).getTime() - asked;
    // Not behind the detail backlog: it finished while products were still waiting for their
    // first read, and within a couple of budget windows (a refresh never waits for the budget
    // while holding a worker slot, and a 429 would have delayed the job by a minute).
    expect(atOnboarding.read).toBeLessThan(atOnboarding.total);
    expect(onboardingMs).toBeLessThan(ONBOARDING_WINDOWS * WINDOW_S * 1000);

    const drained = await until(async () => {
      const counts = await readCounts();
      return counts.read === counts.total && counts;
    }, 'every product read');
    // Every product's details were read within the maximum age of the first product being
    // seen (so none waited longer than that for its first read), and none is older now.
    expect(drained.sinceFirstSeen).toBeLessThan(MAX_AGE_S);
    expect(drained.oldest).toBeLessThan(MAX_AGE_S);
    expect(count429()).toBe(0);
    const statuses = await Promise.all(
      [...PROJECTS, NEWCOMER].map((projectId) => getStatus(app(), { projectId })),
    );
    expect(statuses.map((s) => s.catalogHealth.staleProducts)).toEqual(statuses.map(() => 0));

    // ── Phase 2: the budget does not suffice. ──
    // Apple's limit for the key drops to STARVED_LIMIT (lowered once the rolling window holds
    // less than that, as a key shared with another consumer would see it): the structure syncs
    // still fit in its reserve, the details' share is all but gone, and reads age past the max.
    await until(
      async () => LIMIT - sim().budget(key.keyId).remaining <= STARVED_LIMIT / 2,
      'a quiet moment of the key',
    );
    sim().setRateLimit({ perHour: STARVED_LIMIT });
    // Which projects' details the trickle still reaches is the budget's choice (a project whose
    // refresh runs first in a window keeps its details fresh), so any project's status will do.
    const stale = await until(async () => {
      for (const projectId of PROJECTS) {
        const status = await getStatus(app(), { projectId });
        const old = status.catalogHealth.issues.filter(
          (i) => i.kind === 'stale_details' && i.message.includes('older than the maximum age'),
        );
        if (old.length > 0) return status;
      }
      return undefined;
    }, "a project's status to report details older than the maximum age");
    expect(stale.catalogHealth.staleProducts).toBeGreaterThan(0);
    expect(Date.now() - new Date(stale.catalogHealth.oldestDetailsReadAt ?? 0).getTime()).toBeGreaterThan(
      MAX_AGE_S * 1000,
    );

    // The group's /metrics says the same: the oldest details are past the maximum age, and the
    // numbers are the fleet's own (two children reading one table are not added up).
    const metrics = await until(async () => {
      const text = await scrape();
      return (metricValue(text, 'catalog_sync_details_age_oldest_seconds') ?? 0) > MAX_AGE_S && text;
    }, '/metrics to report details older than the maximum age');
    const truth = await readCounts();
    expect(metricValue(metrics, 'catalog_sync_details_age_oldest_seconds')).toBeGreaterThan(truth.oldest - 5);
    expect(metricValue(metrics, 'catalog_sync_details_age_oldest_seconds')).toBeLessThan(truth.oldest + 5);
    expect(metricValue(metrics, 'catalog_sync_details_age_seconds_count')).toBe(truth.total);
    expect(count429()).toBe(0);
  });
});
