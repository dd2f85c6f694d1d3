import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import {
  appStoreCredentials,
  catalogChanges,
  gracePeriodSettings,
  products,
  projects,
  revenueAttributionRules,
  subscriptionGroups,
  syncRuns,
} from '../../db/schema.ts';
import type { DataContext } from '../app/context.ts';
import {
  type CatalogHealth,
  catalogHealth,
  listOffers,
  listPrices,
  type OfferRow,
  type PriceRow,
} from '../app/details.ts';
import { type DeliveryListItem, listDeliveries } from '../app/events.ts';
import { listWebhooks } from '../app/webhooks.ts';
import { NotFoundError } from '../errors.ts';

/*
 * The console's reads. The projects list is ONE statement per page whatever the fleet's size:
 * credentials joined, the last run through a lateral join on sync_runs(project_id, started_at),
 * the totals through window functions. No query per row.
 */

export const PAGE_SIZE = 50;
export const SORTS = ['project', 'app', 'credentials', 'last_sync', 'duration'] as const;
export type Sort = (typeof SORTS)[number];
export type Direction = 'asc' | 'desc';

export interface ProjectListQuery {
  /** Matches project id, bundle id, app name (substring, case-insensitive) or App Store id. */
  search?: string | undefined;
  /** Only failing projects (credentials not valid, or last run failed). */
  failingOnly?: boolean | undefined;
  sort: Sort;
  direction: Direction;
  /** 1-based. */
  page: number;
  pageSize?: number;
}

export interface ProjectListRow {
  id: string;
  appStoreId: string | null;
  bundleId: string | null;
  appName: string | null;
  scheduleEverySeconds: number | null;
  scheduleCron: string | null;
  credentialStatus: string | null;
  credentialDetail: string | null;
  verifiedAt: Date | null;
  runStatus: string | null;
  runTrigger: string | null;
  runStartedAt: Date | null;
  runDurationMs: number | null;
  runCounts: Record<string, number> | null;
  runErrorKind: string | null;
  runErrorMessage: string | null;
  failing: boolean;
}

export interface ProjectListPage {
  rows: ProjectListRow[];
  /** Projects matching the search (all pages). */
  total: number;
  /** Of those, how many are failing. */
  failing: number;
}

const SORT_SQL: Record<Sort, ReturnType<typeof sql>> = {
  project: sql`p.id`,
  app: sql`p.bundle_id`,
  credentials: sql`c.status`,
  last_sync: sql`r.started_at`,
  duration: sql`r.duration_ms`,
};

/** `%` and `_` in the search text are literal. */
const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

interface RawListRow {
  id: string;
  app_store_id: string | null;
  bundle_id: string | null;
  app_name: string | null;
  schedule_every_seconds: number | null;
  schedule_cron: string | null;
  credential_status: string | null;
  credential_detail: string | null;
  verified_at: Date | string | null;
  run_status: string | null;
  run_trigger: string | null;
  run_started_at: Date | string | null;
  run_duration_ms: number | null;
  run_counts: Record<string, number> | null;
  run_error_kind: string | null;
  run_error_message: string | null;
  failing: boolean;
  total: number | string;
  failing_total: number | string;
}

const toDate = (value: Date | string | null) => (value === null ? null : new Date(value));

export async function listProjectsPage(db: Db, query: ProjectListQuery): Promise<ProjectListPage> {
  const pageSize = query.pageSize ?? PAGE_SIZE;
  const offset = (query.page - 1) * pageSize;
  const search = query.search?.trim();
  const where = search
    ? sql`where (p.id ilike ${likePattern(search)} or p.bundle_id ilike ${likePattern(search)}
        or p.app_name ilike ${likePattern(search)} or p.app_store_id = ${search})`
    : sql``;
  const direction = query.direction === 'desc' ? sql`desc` : sql`asc`;
  // Nulls (never synced, no app) go last either way; the id breaks ties so pages are stable.
  const order = sql`f.failing desc, ${SORT_SQL[query.sort]} ${direction} nulls last, p.id asc`;
  const statement = sql`
    select p.id, p.app_store_id, p.bundle_id, p.app_name, p.schedule_every_seconds, p.schedule_cron,
           c.status as credential_status, c.status_detail as credential_detail, c.verified_at,
           r.status as run_status, r.trigger as run_trigger, r.started_at as run_started_at,
           r.duration_ms as run_duration_ms, r.counts as run_counts,
           r.error_kind as run_error_kind, r.error_message as run_error_message,
           f.failing,
           count(*) over () as total,
           count(*) filter (where f.failing) over () as failing_total
    from projects p
    left join app_store_credentials c on c.project_id = p.id
    left join lateral (
      select s.status, s.trigger, s.started_at, s.duration_ms, s.counts, s.error_kind, s.error_message
      from sync_runs s
      where s.project_id = p.id
      order by s.started_at desc
      limit 1
    ) r on true
    cross join lateral (
      select (coalesce(c.status in ('invalid', 'forbidden', 'no_apps'), false)
              or coalesce(r.status = 'failed', false)) as failing
    ) f
    ${where}
    ${query.failingOnly ? (search ? sql`and f.failing` : sql`where f.failing`) : sql``}
    order by ${order}
    limit ${pageSize} offset ${offset}`;
  const raw = rowsOf<RawListRow>(await db.execute(statement));
  const first = raw[0];
  return {
    total: first ? Number(first.total) : 0,
    failing: first ? Number(first.failing_total) : 0,
    rows: raw.map((r) => ({
      id: r.id,
      appStoreId: r.app_store_id,
      bundleId: r.bundle_id,
      appName: r.app_name,
      scheduleEverySeconds: r.schedule_every_seconds,
      scheduleCron: r.schedule_cron,
      credentialStatus: r.credential_status,
      credentialDetail: r.credential_detail,
      verifiedAt: toDate(r.verified_at),
      runStatus: r.run_status,
      runTrigger: r.run_trigger,
      runStartedAt: toDate(r.run_started_at),
      runDurationMs: r.run_duration_ms,
      runCounts: r.run_counts,
      runErrorKind: r.run_error_kind,
      runErrorMessage: r.run_error_message,
      failing: r.failing,
    })),
  };
}

// ── One project ──────────────────────────────────────────────────────────────────────────────

export const DETAIL_LIMITS = { products: 500, changes: 100, rules: 200, runs: 20 } as const;

export async function loadProjectDetail(
  db: Db,
  projectId: string,
  options: { changesBefore?: number | undefined } = {},
) {
  const [project] = await db
    .select({
      id: projects.id,
      appStoreId: projects.appStoreId,
      bundleId: projects.bundleId,
      appName: projects.appName,
      scheduleEverySeconds: projects.scheduleEverySeconds,
      scheduleCron: projects.scheduleCron,
      scheduleUpdatedAt: projects.scheduleUpdatedAt,
      createdAt: projects.createdAt,
    })
    .from(projects)
    .where(eq(projects.id, projectId));
  if (!project) return null;
  // Never the sealed key: only what an operator may see.
  const credentialsQuery = db
    .select({
      keyId: appStoreCredentials.keyId,
      issuerId: appStoreCredentials.issuerId,
      status: appStoreCredentials.status,
      statusDetail: appStoreCredentials.statusDetail,
      verifiedAt: appStoreCredentials.verifiedAt,
      updatedAt: appStoreCredentials.updatedAt,
    })
    .from(appStoreCredentials)
    .where(eq(appStoreCredentials.projectId, projectId));
  const productsQuery = db
    .select({
      appleId: products.appleId,
      productId: products.productId,
      kind: products.kind,
      referenceName: products.referenceName,
      state: products.state,
      subscriptionPeriod: products.subscriptionPeriod,
      groupAppleId: products.groupAppleId,
      groupLevel: products.groupLevel,
      updatedAt: products.updatedAt,
      removedAt: products.removedAt,
    })
    .from(products)
    .where(eq(products.projectId, projectId))
    .orderBy(
      sql`${products.removedAt} is not null`,
      asc(products.kind),
      asc(products.groupAppleId),
      asc(products.groupLevel),
      asc(products.productId),
    )
    .limit(DETAIL_LIMITS.products + 1);
  const productCountQuery = db
    .select({ n: sql<number>`count(*)`.mapWith(Number) })
    .from(products)
    .where(eq(products.projectId, projectId));
  const groupsQuery = db
    .select({
      appleId: subscriptionGroups.appleId,
      referenceName: subscriptionGroups.referenceName,
      removedAt: subscriptionGroups.removedAt,
    })
    .from(subscriptionGroups)
    .where(eq(subscriptionGroups.projectId, projectId))
    .orderBy(asc(subscriptionGroups.referenceName));
  const graceQuery = db
    .select({
      optIn: gracePeriodSettings.optIn,
      sandboxOptIn: gracePeriodSettings.sandboxOptIn,
      duration: gracePeriodSettings.duration,
      durationDays: gracePeriodSettings.durationDays,
      renewalType: gracePeriodSettings.renewalType,
      updatedAt: gracePeriodSettings.updatedAt,
      removedAt: gracePeriodSettings.removedAt,
    })
    .from(gracePeriodSettings)
    .where(eq(gracePeriodSettings.projectId, projectId));
  const changesQuery = db
    .select({
      id: catalogChanges.id,
      runId: catalogChanges.runId,
      entity: catalogChanges.entity,
      entityId: catalogChanges.entityId,
      action: catalogChanges.action,
      changedFields: catalogChanges.changedFields,
      before: catalogChanges.before,
      after: catalogChanges.after,
      detectedAt: catalogChanges.detectedAt,
    })
    .from(catalogChanges)
    .where(
      options.changesBefore
        ? and(eq(catalogChanges.projectId, projectId), lt(catalogChanges.id, options.changesBefore))
        : eq(catalogChanges.projectId, projectId),
    )
    .orderBy(desc(catalogChanges.id))
    .limit(DETAIL_LIMITS.changes + 1);
  const rulesQuery = db
    .select()
    .from(revenueAttributionRules)
    .where(eq(revenueAttributionRules.projectId, projectId))
    .orderBy(
      sql`${revenueAttributionRules.effectiveTo} is not null`,
      asc(revenueAttributionRules.environment),
      asc(revenueAttributionRules.renewalKind),
      desc(revenueAttributionRules.effectiveFrom),
    )
    .limit(DETAIL_LIMITS.rules);
  const runsQuery = db
    .select({
      id: syncRuns.id,
      trigger: syncRuns.trigger,
      jobId: syncRuns.jobId,
      status: syncRuns.status,
      startedAt: syncRuns.startedAt,
      finishedAt: syncRuns.finishedAt,
      durationMs: syncRuns.durationMs,
      requestsMade: syncRuns.requestsMade,
      counts: syncRuns.counts,
      errorKind: syncRuns.errorKind,
      errorMessage: syncRuns.errorMessage,
    })
    .from(syncRuns)
    .where(eq(syncRuns.projectId, projectId))
    .orderBy(desc(syncRuns.startedAt))
    .limit(DETAIL_LIMITS.runs);
  const [credentials, productRows, productCount, groups, grace, changes, rules, runs] = await Promise.all([
    credentialsQuery,
    productsQuery,
    productCountQuery,
    groupsQuery,
    graceQuery,
    changesQuery,
    rulesQuery,
    runsQuery,
  ]);
  return {
    project,
    credentials: credentials[0] ?? null,
    products: productRows.slice(0, DETAIL_LIMITS.products),
    productCount: productCount[0]?.n ?? 0,
    groups,
    grace: grace[0] ?? null,
    changes: changes.slice(0, DETAIL_LIMITS.changes),
    olderChanges: changes.length > DETAIL_LIMITS.changes ? changes[DETAIL_LIMITS.changes - 1]!.id : null,
    rules,
    runs,
  };
}

export type ProjectDetail = NonNullable<Awaited<ReturnType<typeof loadProjectDetail>>>;

// ── The project's detail sections (prices, offers, health, webhook deliveries) ────────────────

/*
 * Read through the application layer (src/app), never with SQL of their own. Each section
 * settles on its own: a failure shows a short message in that section, not an error page.
 */

export const SECTION_LIMITS = { prices: 200, offers: 200, issues: 200, deliveries: 20 } as const;

export type Section<T> = { ok: true; data: T } | { ok: false; error: string };

export interface Bounded<T> {
  rows: T[];
  /** All there are (rows holds at most the section's limit). */
  total: number;
}

export interface DeliveryView extends DeliveryListItem {
  /** The endpoint's URL (never its secret); null when the endpoint is gone. */
  endpointUrl: string | null;
}

export interface ProjectSections {
  prices: Section<Bounded<PriceRow>>;
  offers: Section<Bounded<OfferRow>>;
  health: Section<CatalogHealth>;
  deliveries: Section<DeliveryView[]>;
}

const bounded = <T>(rows: T[], limit: number): Bounded<T> => ({
  rows: rows.slice(0, limit),
  total: rows.length,
});

export async function loadProjectSections(
  ctx: DataContext,
  projectId: string,
  now: Date = new Date(),
): Promise<ProjectSections> {
  const settle = async <T>(name: string, load: () => Promise<T>): Promise<Section<T>> => {
    try {
      return { ok: true, data: await load() };
    } catch (error) {
      // No such project: the page answers 404 by itself.
      if (!(error instanceof NotFoundError)) {
        ctx.logger.error({ err: error, projectId, section: name }, 'console: a project section failed');
      }
      return { ok: false, error: `The ${name} could not be read; the worker\u2019s log has the details.` };
    }
  };
  const [prices, offers, health, deliveries] = await Promise.all([
    settle('prices', async () =>
      bounded((await listPrices(ctx, { projectId, at: now })).prices, SECTION_LIMITS.prices),
    ),
    settle('offers', async () =>
      bounded((await listOffers(ctx, { projectId })).offers, SECTION_LIMITS.offers),
    ),
    settle('catalog health', () => catalogHealth(ctx, { projectId, now })),
    settle('webhook deliveries', async () => {
      const [list, endpoints] = await Promise.all([
        listDeliveries(ctx, { projectId, limit: SECTION_LIMITS.deliveries }),
        listWebhooks(ctx, { projectId }),
      ]);
      const urls = new Map(endpoints.map((e) => [e.id, e.url]));
      return list.map((d) => ({ ...d, endpointUrl: urls.get(d.endpointId) ?? null }));
    }),
  ]);
  return { prices, offers, health, deliveries };
}
