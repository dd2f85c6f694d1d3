import { and, eq, isNull, sql } from 'drizzle-orm';
import { rowsOf } from '../../db/client.ts';
import { detailSchedule, products, projects, syncRuns } from '../../db/schema.ts';
import { type AppStoreClient, AppStoreError, type ResponseEvent } from '../appstore/index.ts';
import type { ServiceContext } from '../context.ts';
import { type ClientOverrides, loadClientForProject } from '../credentials/index.ts';
import { errorKind, errorMessage } from '../errors.ts';
import { untilNextSyncMs } from '../queue/schedules.ts';
import type { DetailsBudget } from './budget.ts';
import { fetchGroupDetails, fetchProductDetails } from './fetch.ts';
import {
  type DetailShape,
  detailRequestLowerBound,
  estimatedDetailRequests,
  groupRequestLowerBound,
} from './plan.ts';
import { applyGroupDetails, applyProductDetails } from './store.ts';

/*
 * The rolling refresh of details, run right after a project's structure sync, in the same job
 * (the structure is always read first, every run, so details can never starve it): new products
 * first, then products whose structure changed since their details were read, then the stalest
 * past the maximum age — each only while the key's details share (budget.ts) has room. What is
 * left over stays stale and is picked up by the next run (the status and a metric report it).
 * Each product is read and then written in its own transaction: all of its details or none.
 */

export type RefreshReason = 'new' | 'changed' | 'scheduled' | 'recent' | 'stale';

export interface RefreshCandidate {
  appleId: string;
  kind: string;
  updatedAt: Date;
  detailsReadAt: Date | null;
  detailsRequests: number | null;
  /** The product's subscription group (subscriptions), whose metadata is read once per run. */
  groupAppleId?: string | null;
  /** When its details last changed (null: never seen to change). */
  changedAt?: Date | null;
  /** The day its next scheduled price takes effect, as of the last read (YYYY-MM-DD). */
  nextChangeOn?: string | null;
}

/** Details that changed within this long are "recent": re-read at a quarter of the maximum age. */
export const RECENT_CHANGE_MS = 7 * 24 * 3_600_000;
/** The share of the maximum age after which a recently changed product is due. */
export const RECENT_AGE_SHARE = 0.25;

/**
 * Products due for a read, in the order they are read (pure):
 * - new (never read), then changed (the structure changed since the read);
 * - scheduled: a scheduled price took effect since the read (its day has come) — re-read just
 *   after, so the price in force and the change are seen the day they happen;
 * - stale: past the maximum age, the oldest first;
 * - recent: details changed in the last week and a quarter of the maximum age has passed —
 *   what changed lately tends to change again (a price tested, an offer adjusted). Last, so
 *   under a binding budget it only spends what the maximum age leaves over.
 * Details are read only after a sync, so a product is due once it would pass its age before
 * the project's next sync (`leadMs`, from its schedule; 0 without one).
 */
export function refreshOrder(
  candidates: readonly RefreshCandidate[],
  now: Date,
  maxAgeMs: number,
  leadMs = 0,
): Array<RefreshCandidate & { reason: RefreshReason }> {
  const dueAgeMs = Math.max(0, maxAgeMs - leadMs);
  const recentAgeMs = Math.max(0, maxAgeMs * RECENT_AGE_SHARE - leadMs);
  const today = now.toISOString().slice(0, 10);
  // Past the maximum age comes before "recent": the age is the promise, recency a bonus.
  const rank: Record<RefreshReason, number> = { new: 0, changed: 1, scheduled: 2, stale: 3, recent: 4 };
  const due: Array<RefreshCandidate & { reason: RefreshReason }> = [];
  for (const candidate of candidates) {
    const read = candidate.detailsReadAt;
    let reason: RefreshReason | null = null;
    const age = read === null ? 0 : now.getTime() - read.getTime();
    const changed = candidate.changedAt ?? null;
    if (read === null) reason = 'new';
    else if (candidate.updatedAt.getTime() > read.getTime()) reason = 'changed';
    else if (candidate.nextChangeOn && candidate.nextChangeOn <= today) reason = 'scheduled';
    else if (age >= dueAgeMs) reason = 'stale';
    else if (changed && now.getTime() - changed.getTime() <= RECENT_CHANGE_MS && age >= recentAgeMs)
      reason = 'recent';
    if (reason) due.push({ ...candidate, reason });
  }
  return due.sort(
    (a, b) =>
      rank[a.reason] - rank[b.reason] ||
      (a.detailsReadAt?.getTime() ?? 0) - (b.detailsReadAt?.getTime() ?? 0) ||
      (a.appleId < b.appleId ? -1 : a.appleId > b.appleId ? 1 : 0),
  );
}

export interface RefreshOptions {
  projectId: string;
  /** The sync run the detail changes are recorded under. */
  runId: string;
  /** The key's shared details budget; null reads every due product (inline CLI, tests). */
  budget: DetailsBudget | null;
  maxAgeMs?: number;
  /** At most this many products in this run (default: no cap beyond the budget). */
  maxProducts?: number;
  client?: ClientOverrides;
  /** Observes every detail response (metrics). */
  onResponse?: (event: ResponseEvent) => void;
  now?: Date;
}

export interface ProductRefresh {
  appleId: string;
  reason: RefreshReason;
  requests: number;
  lowerBound: number;
  shape: DetailShape;
  changes: Record<string, number>;
}

export interface GroupRefresh {
  groupAppleId: string;
  requests: number;
  lowerBound: number;
  changes: Record<string, number>;
}

export interface RefreshSummary {
  projectId: string;
  /** Subscription groups whose metadata (localizations, versions) was read, once per run. */
  groups: GroupRefresh[];
  /** Products due (new, changed, older than the maximum age) when the refresh started. */
  due: number;
  refreshed: ProductRefresh[];
  /** Products left for a later run because the key's details share was spent. */
  deferred: number;
  /** Products whose read failed (not found, schema): logged, retried next run. */
  failed: Array<{ appleId: string; kind: string; error: string }>;
  requests: number;
  requestsByCallSite: Record<string, number>;
  changes: Record<string, number>;
  /** Why the run stopped early, if it did. */
  stoppedBy: 'budget' | 'rate_limited' | 'auth' | null;
  /** With `stoppedBy: 'budget'`: how long until the key's details share has room again. */
  retryInMs: number | null;
  /** The project's Key ID (not a secret, but never a metric label: see budget.ts keyLabel); null before it is loaded. */
  keyId: string | null;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

export async function refreshDetails(ctx: ServiceContext, options: RefreshOptions): Promise<RefreshSummary> {
  const { projectId, runId, budget } = options;
  const logger = ctx.logger.child({ projectId, runId, part: 'details' });
  const maxAgeMs = options.maxAgeMs ?? ctx.config.details.maxAgeMs;
  const rows = await ctx.db
    .select({
      appleId: products.appleId,
      kind: products.kind,
      updatedAt: products.updatedAt,
      detailsReadAt: products.detailsReadAt,
      detailsRequests: products.detailsRequests,
      groupAppleId: products.groupAppleId,
      changedAt: detailSchedule.changedAt,
      nextChangeOn: detailSchedule.nextChangeOn,
    })
    .from(products)
    .leftJoin(
      detailSchedule,
      and(
        eq(detailSchedule.projectId, products.projectId),
        eq(detailSchedule.ownerAppleId, products.appleId),
      ),
    )
    .where(and(eq(products.projectId, projectId), isNull(products.removedAt)));
  const now = options.now ?? new Date();
  const [schedule] = await ctx.db
    .select({ scheduleEverySeconds: projects.scheduleEverySeconds, scheduleCron: projects.scheduleCron })
    .from(projects)
    .where(eq(projects.id, projectId));
  const leadMs = (schedule && untilNextSyncMs(schedule, now)) ?? 0;
  const due = refreshOrder(rows, now, maxAgeMs, leadMs).slice(
    0,
    options.maxProducts ?? Number.POSITIVE_INFINITY,
  );
  const summary: RefreshSummary = {
    projectId,
    groups: [],
    due: due.length,
    refreshed: [],
    deferred: 0,
    failed: [],
    requests: 0,
    requestsByCallSite: {},
    changes: {},
    stoppedBy: null,
    retryInMs: null,
    keyId: null,
  };
  if (due.length === 0) return summary;

  let client: AppStoreClient | undefined;
  let keyId = '';
  const corrections: Promise<void>[] = [];
  try {
    ({
      client,
      credentials: { keyId },
    } = await loadClientForProject(ctx, projectId, {
      ...options.client,
      onResponse: (event) => {
        options.client?.onResponse?.(event);
        options.onResponse?.(event);
        if (budget && event.rateLimit) {
          corrections.push(
            budget.correct(event.keyId, event.rateLimit).catch((error) => {
              logger.warn({ err: error }, 'could not correct the details budget from X-Rate-Limit');
            }),
          );
        }
      },
    }));
    summary.keyId = keyId;
    const groupsRead = new Set<string>();
    for (const [index, product] of due.entries()) {
      // A subscription's group metadata (localizations, versions) is read once per run, with
      // the first of its subscriptions: never per product.
      const group = product.groupAppleId;
      if (group && !groupsRead.has(group)) {
        groupsRead.add(group);
        if (budget) {
          await Promise.all(corrections.splice(0));
          const grant = await budget.reserve(keyId, 1);
          if (!grant.granted) {
            summary.deferred = due.length - index;
            summary.stoppedBy = 'budget';
            summary.retryInMs = grant.msBeforeNext;
            break;
          }
        }
        const before = client.stats();
        try {
          const fetched = await fetchGroupDetails(client, group);
          const requests = client.stats().requests - before.requests;
          if (budget) await budget.settle(keyId, 1, requests);
          const outcome = await ctx.db.transaction((tx) =>
            applyGroupDetails(tx, { projectId, runId, details: fetched.details }),
          );
          summary.groups.push({
            groupAppleId: group,
            requests,
            lowerBound: groupRequestLowerBound(fetched.shape),
            changes: outcome.counts,
          });
          addCounts(summary.changes, outcome.counts);
        } catch (error) {
          const spent = client.stats().requests - before.requests;
          if (budget) await budget.settle(keyId, 1, spent);
          if (error instanceof AppStoreError && error.kind === 'rate_limited') {
            summary.deferred = due.length - index;
            summary.stoppedBy = 'rate_limited';
            break;
          }
          if (error instanceof AppStoreError && (error.kind === 'auth' || error.kind === 'forbidden')) {
            summary.deferred = due.length - index;
            summary.stoppedBy = 'auth';
            throw error;
          }
          summary.failed.push({ appleId: group, kind: errorKind(error), error: errorMessage(error) });
          logger.warn(
            { groupAppleId: group, kind: errorKind(error), error: errorMessage(error) },
            "could not read a subscription group's metadata; it stays as it was and is retried next run",
          );
        }
      }
      const estimate = estimatedDetailRequests(
        product.kind === 'auto_renewable_subscription' ? 'subscription' : 'iap',
      );
      const reserved = product.detailsRequests ?? estimate;
      if (budget) {
        await Promise.all(corrections.splice(0));
        const grant = await budget.reserve(keyId, reserved);
        if (!grant.granted) {
          summary.deferred = due.length - index;
          summary.stoppedBy = 'budget';
          summary.retryInMs = grant.msBeforeNext;
          logger.info(
            { deferred: summary.deferred, retryInMs: grant.msBeforeNext },
            'details budget of the key is spent for now: the rest waits for a later run',
          );
          break;
        }
      }
      const before = client.stats();
      try {
        const fetched = await fetchProductDetails(client, product);
        const after = client.stats();
        const requests = after.requests - before.requests;
        if (budget) await budget.settle(keyId, reserved, requests);
        const outcome = await ctx.db.transaction((tx) =>
          applyProductDetails(tx, { projectId, runId, details: fetched.details, requests }),
        );
        summary.refreshed.push({
          appleId: product.appleId,
          reason: product.reason,
          requests,
          lowerBound: detailRequestLowerBound(fetched.shape),
          shape: fetched.shape,
          changes: outcome.counts,
        });
        addCounts(summary.changes, outcome.counts);
      } catch (error) {
        const spent = client.stats().requests - before.requests;
        if (budget) await budget.settle(keyId, reserved, spent);
        if (error instanceof AppStoreError && error.kind === 'rate_limited') {
          summary.deferred = due.length - index;
          summary.stoppedBy = 'rate_limited';
          logger.warn({ deferred: summary.deferred }, 'rate limited while reading details: the rest waits');
          break;
        }
        if (error instanceof AppStoreError && (error.kind === 'auth' || error.kind === 'forbidden')) {
          summary.deferred = due.length - index;
          summary.stoppedBy = 'auth';
          throw error;
        }
        summary.failed.push({ appleId: product.appleId, kind: errorKind(error), error: errorMessage(error) });
        logger.warn(
          { appleId: product.appleId, kind: errorKind(error), error: errorMessage(error) },
          "could not read a product's details; it stays as it was and is retried next run",
        );
      }
    }
  } finally {
    client?.close();
    await Promise.all(corrections.splice(0));
    if (client) {
      const stats = client.stats();
      summary.requests = stats.requests;
      summary.requestsByCallSite = stats.byCallSite;
    }
    await recordOnRun(ctx, runId, summary).catch((error) =>
      logger.warn({ err: error }, 'could not add the details to the sync run'),
    );
  }
  logger.info(
    {
      refreshed: summary.refreshed.length,
      deferred: summary.deferred,
      failed: summary.failed.length,
      requests: summary.requests,
      changes: summary.changes,
    },
    'details refreshed',
  );
  return summary;
}

/** Adds the details' requests and change counts to the sync run they belong to. */
async function recordOnRun(ctx: ServiceContext, runId: string, summary: RefreshSummary): Promise<void> {
  if (summary.requests === 0 && Object.keys(summary.changes).length === 0) return;
  await ctx.db
    .update(syncRuns)
    .set({
      requestsMade: sql`${syncRuns.requestsMade} + ${summary.requests}`,
      requestCounts: sql`coalesce(${syncRuns.requestCounts}, '{}'::jsonb) || ${JSON.stringify(summary.requestsByCallSite)}::jsonb`,
      counts: sql`coalesce(${syncRuns.counts}, '{}'::jsonb) || ${JSON.stringify(summary.changes)}::jsonb`,
    })
    .where(eq(syncRuns.id, runId));
}

/** The ages of the present products' details at one moment, as a Prometheus histogram reads them. */
export interface DetailAgeDistribution {
  /** Present products. */
  count: number;
  /** Their ages added up, in seconds. */
  sum: number;
  /** The oldest age, in seconds (0 without products). */
  oldest: number;
  /** For each bound (seconds), how many are at most that old: cumulative, like a histogram's buckets. */
  atMost: number[];
}

/**
 * The ages (seconds) of every present product's details (never read: since first seen), counted
 * in Postgres into `bounds`: one row whatever the fleet's size. A row per product would have
 * made each scrape of each worker process read and keep 100,000 rows for 1,000 apps of 100
 * products (the fleet benchmark's scrapes held a third of a worker's peak heap).
 */
export async function detailAgeDistribution(
  ctx: Pick<ServiceContext, 'db'>,
  bounds: readonly number[],
): Promise<DetailAgeDistribution> {
  const atMost = bounds.map((bound) => sql`count(*) filter (where age <= ${bound}::float8)`);
  const [row] = rowsOf<{ count: number; sum: number; oldest: number; at_most: string }>(
    await ctx.db.execute(sql`
      with ages as (
        select greatest(0, extract(epoch from (now() - coalesce(details_read_at, first_seen_at))))::float8 as age
          from products where removed_at is null)
      select count(*)::int as count, coalesce(sum(age), 0)::float8 as sum,
             coalesce(max(age), 0)::float8 as oldest,
             json_build_array(${sql.join(atMost, sql`, `)})::text as at_most
        from ages`),
  );
  if (!row) throw new Error('the detail age query returned no row');
  return {
    count: Number(row.count),
    sum: Number(row.sum),
    oldest: Number(row.oldest),
    atMost: (JSON.parse(row.at_most) as number[]).map(Number),
  };
}
