import { and, asc, desc, eq, inArray, lt, ne, sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import {
  appStoreCredentials,
  catalogChanges,
  gracePeriodSettings,
  productLocalizations,
  productOffers,
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
import { errorMessage, InvalidInputError, NotFoundError } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';

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
  /** Only projects needing an operator: no key, no app, a key refused, or a failed last sync. */
  needsActionOnly?: boolean | undefined;
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
  /** What an operator must fix, most pressing first (empty: nothing). */
  needs: NeedsAction[];
}

/** Why a project needs an operator (the project page says how to fix each). */
export type NeedsAction =
  | 'no_key'
  | 'key_invalid'
  | 'key_forbidden'
  | 'key_no_apps'
  | 'no_app'
  | 'sync_failed';

export interface ProjectListPage {
  rows: ProjectListRow[];
  /** Projects matching the search (all pages). */
  total: number;
  /** Of those, how many are failing. */
  failing: number;
  /** Of those, how many need an operator. */
  needsAction: number;
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
  needs: NeedsAction[];
  total: number | string;
  failing_total: number | string;
  needs_total: number | string;
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
  const order = sql`cardinality(f.needs) > 0 desc, f.failing desc, ${SORT_SQL[query.sort]} ${direction} nulls last, p.id asc`;
  const statement = sql`
    select p.id, p.app_store_id, p.bundle_id, p.app_name, p.schedule_every_seconds, p.schedule_cron,
           c.status as credential_status, c.status_detail as credential_detail, c.verified_at,
           r.status as run_status, r.trigger as run_trigger, r.started_at as run_started_at,
           r.duration_ms as run_duration_ms, r.counts as run_counts,
           r.error_kind as run_error_kind, r.error_message as run_error_message,
           f.failing, f.needs,
           count(*) over () as total,
           count(*) filter (where f.failing) over () as failing_total,
           count(*) filter (where cardinality(f.needs) > 0) over () as needs_total
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
              or coalesce(r.status = 'failed', false)) as failing,
             array_remove(array[
               case when c.project_id is null then 'no_key' end,
               case when c.status = 'invalid' then 'key_invalid' end,
               case when c.status = 'forbidden' then 'key_forbidden' end,
               case when c.status = 'no_apps' then 'key_no_apps' end,
               case when p.app_store_id is null then 'no_app' end,
               case when r.status = 'failed' then 'sync_failed' end
             ], null)::text[] as needs
    ) f
    ${where}
    ${query.failingOnly ? (search ? sql`and f.failing` : sql`where f.failing`) : sql``}
    ${query.needsActionOnly ? (search || query.failingOnly ? sql`and cardinality(f.needs) > 0` : sql`where cardinality(f.needs) > 0`) : sql``}
    order by ${order}
    limit ${pageSize} offset ${offset}`;
  const raw = rowsOf<RawListRow>(await db.execute(statement));
  const first = raw[0];
  return {
    total: first ? Number(first.total) : 0,
    failing: first ? Number(first.failing_total) : 0,
    needsAction: first ? Number(first.needs_total) : 0,
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
      needs: r.needs,
    })),
  };
}

// ── One project ──────────────────────────────────────────────────────────────────────────────

export const DETAIL_LIMITS = { products: 500, changes: 100, rules: 200, runs: 20 } as const;

export interface DetailOptions {
  /** Changes older than this id (paging). */
  changesBefore?: number | undefined;
  /** Only this run's changes (the first sync's rows, summarised otherwise). */
  changesRun?: string | undefined;
}

/** The product a change concerns, by its Apple id: what names it on the page. */
export interface ChangeProduct {
  productId: string;
  referenceName: string;
}

/** One line per entity kind and action of the first sync, which would otherwise flood the timeline. */
export interface FirstSyncSummary {
  runId: string;
  detectedAt: Date;
  lines: { entity: string; action: string; count: number }[];
}

/** The Apple id of the product a change is about, when the change names it without a look-up. */
export function changeProductAppleId(change: { entity: string; entityId: string }): string | null {
  if (change.entity === 'product' || change.entity === 'availability') return change.entityId;
  if (change.entity === 'price') return change.entityId.split('/')[0] ?? null;
  return null;
}

export async function loadProjectDetail(db: Db, projectId: string, options: DetailOptions = {}) {
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
  // The run of the project's first change: its rows are summarised, not listed one by one.
  const [firstChange] = await db
    .select({ runId: catalogChanges.runId, detectedAt: catalogChanges.detectedAt })
    .from(catalogChanges)
    .where(eq(catalogChanges.projectId, projectId))
    .orderBy(asc(catalogChanges.id))
    .limit(1);
  const firstRunId = firstChange?.runId ?? null;
  const onlyRun =
    options.changesRun && /^[0-9a-f-]{36}$/i.test(options.changesRun) ? options.changesRun : null;
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
      and(
        eq(catalogChanges.projectId, projectId),
        options.changesBefore ? lt(catalogChanges.id, options.changesBefore) : undefined,
        onlyRun
          ? eq(catalogChanges.runId, onlyRun)
          : firstRunId
            ? ne(catalogChanges.runId, firstRunId)
            : undefined,
      ),
    )
    .orderBy(desc(catalogChanges.id))
    .limit(DETAIL_LIMITS.changes + 1);
  const firstSyncQuery = firstRunId
    ? db
        .select({
          entity: catalogChanges.entity,
          action: catalogChanges.action,
          count: sql<number>`count(*)`.mapWith(Number),
        })
        .from(catalogChanges)
        .where(and(eq(catalogChanges.projectId, projectId), eq(catalogChanges.runId, firstRunId)))
        .groupBy(catalogChanges.entity, catalogChanges.action)
        .orderBy(asc(catalogChanges.entity), asc(catalogChanges.action))
    : Promise.resolve([]);
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
  const [credentials, productRows, productCount, groups, grace, changes, rules, runs, firstSync] =
    await Promise.all([
      credentialsQuery,
      productsQuery,
      productCountQuery,
      groupsQuery,
      graceQuery,
      changesQuery,
      rulesQuery,
      runsQuery,
      firstSyncQuery,
    ]);
  const changeProducts = await productsOfChanges(db, projectId, changes);
  return {
    changeProducts,
    firstSync:
      firstChange && firstRunId && firstSync.length > 0
        ? ({
            runId: firstRunId,
            detectedAt: firstChange.detectedAt,
            lines: firstSync,
          } satisfies FirstSyncSummary)
        : null,
    changesRun: onlyRun,
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

/**
 * Changes name the entity by Apple's id; the page names the product (product id and name).
 * Prices and availability carry the product's Apple id; offers and localizations are looked up.
 */
async function productsOfChanges(
  db: Db,
  projectId: string,
  changes: { entity: string; entityId: string }[],
): Promise<{ byChange: Map<string, string>; products: Map<string, ChangeProduct> }> {
  const byChange = new Map<string, string>();
  const offerIds = changes.filter((c) => c.entity === 'offer').map((c) => c.entityId);
  const localizationIds = changes.filter((c) => c.entity === 'localization').map((c) => c.entityId);
  const [offers, localizations] = await Promise.all([
    offerIds.length
      ? db
          .selectDistinct({ appleId: productOffers.appleId, productAppleId: productOffers.productAppleId })
          .from(productOffers)
          .where(and(eq(productOffers.projectId, projectId), inArray(productOffers.appleId, offerIds)))
      : Promise.resolve([]),
    localizationIds.length
      ? db
          .selectDistinct({
            appleId: productLocalizations.appleId,
            productAppleId: productLocalizations.productAppleId,
          })
          .from(productLocalizations)
          .where(
            and(
              eq(productLocalizations.projectId, projectId),
              inArray(productLocalizations.appleId, localizationIds),
            ),
          )
      : Promise.resolve([]),
  ]);
  for (const o of offers) byChange.set(`offer:${o.appleId}`, o.productAppleId);
  for (const l of localizations) byChange.set(`localization:${l.appleId}`, l.productAppleId);
  for (const c of changes) {
    const direct = changeProductAppleId(c);
    if (direct) byChange.set(`${c.entity}:${c.entityId}`, direct);
  }
  const appleIds = [...new Set(byChange.values())];
  const rows = appleIds.length
    ? await db
        .select({
          appleId: products.appleId,
          productId: products.productId,
          referenceName: products.referenceName,
        })
        .from(products)
        .where(and(eq(products.projectId, projectId), inArray(products.appleId, appleIds)))
    : [];
  return {
    byChange,
    products: new Map(
      rows.map((r) => [r.appleId, { productId: r.productId, referenceName: r.referenceName }]),
    ),
  };
}

export type ProjectDetail = NonNullable<Awaited<ReturnType<typeof loadProjectDetail>>>;

// ── The project's detail sections (prices, offers, health, webhook deliveries) ────────────────

/*
 * Read through the application layer (src/app), never with SQL of their own. Each section
 * settles on its own: a failure shows a short message in that section, not an error page.
 */

export const SECTION_LIMITS = { prices: 50, offers: 50, issues: 200, deliveries: 20 } as const;

/** The prices and offers sections' filter and pages (query parameters of the project page). */
export interface SectionFilter {
  /** A product id (or Apple id). */
  product?: string | undefined;
  /** An ISO 3166-1 alpha-3 territory, e.g. FRA. */
  territory?: string | undefined;
  pricesPage: number;
  offersPage: number;
}

export type Section<T> = { ok: true; data: T } | { ok: false; error: string };

export interface Bounded<T> {
  /** One page of rows. */
  rows: T[];
  /** All there are with the filter (rows holds at most the section's limit). */
  total: number;
  /** 1-based, clamped to the last page. */
  page: number;
  pageSize: number;
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

const paged = <T>(rows: T[], page: number, pageSize: number): Bounded<T> => {
  const last = Math.max(1, Math.ceil(rows.length / pageSize));
  const current = Math.min(Math.max(1, page), last);
  return {
    rows: rows.slice((current - 1) * pageSize, current * pageSize),
    total: rows.length,
    page: current,
    pageSize,
  };
};

export async function loadProjectSections(
  ctx: DataContext,
  projectId: string,
  filter: SectionFilter = { pricesPage: 1, offersPage: 1 },
  now: Date = new Date(),
): Promise<ProjectSections> {
  const settle = async <T>(name: string, load: () => Promise<T>): Promise<Section<T>> => {
    try {
      return { ok: true, data: await load() };
    } catch (error) {
      // A filter naming no product, or a malformed territory: say what is wrong with it.
      if (error instanceof InvalidInputError || (error instanceof NotFoundError && filter.product)) {
        return { ok: false, error: scrubSecrets(errorMessage(error)) };
      }
      // No such project: the page answers 404 by itself.
      if (!(error instanceof NotFoundError)) {
        ctx.logger.error({ err: error, projectId, section: name }, 'console: a project section failed');
      }
      return { ok: false, error: `The ${name} could not be read; the worker\u2019s log has the details.` };
    }
  };
  const [prices, offers, health, deliveries] = await Promise.all([
    settle('prices', async () =>
      paged(
        (
          await listPrices(ctx, {
            projectId,
            at: now,
            productId: filter.product,
            territory: filter.territory,
          })
        ).prices,
        filter.pricesPage,
        SECTION_LIMITS.prices,
      ),
    ),
    settle('offers', async () => {
      const { offers } = await listOffers(ctx, { projectId });
      // The same filter as the prices: an offer concerns a territory by its own record
      // (introductory offers) or by a price there.
      const product = filter.product;
      const territory = filter.territory?.toUpperCase();
      const shown = offers.filter(
        (o) =>
          (!product || o.productId === product || o.productAppleId === product) &&
          (!territory || o.territory === territory || o.prices.some((p) => p.territory === territory)),
      );
      return paged(shown, filter.offersPage, SECTION_LIMITS.offers);
    }),
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

// ── The fleet: whose details are stale ───────────────────────────────────────────────────────

export interface StaleProjectRow {
  id: string;
  liveProducts: number;
  /** Live products whose details were never read or are older than the maximum age. */
  stale: number;
  neverRead: number;
  oldestReadAt: Date | null;
}

export const FLEET_LIMIT = 200;

/** Projects with stale details, most stale first: one statement over products. */
export async function listStaleProjects(
  db: Db,
  maxAgeMs: number,
  now: Date = new Date(),
): Promise<{ rows: StaleProjectRow[]; total: number }> {
  const cutoff = sql`${new Date(now.getTime() - maxAgeMs).toISOString()}::timestamptz`;
  const raw = rowsOf<{
    id: string;
    live: number | string;
    stale: number | string;
    never_read: number | string;
    oldest: Date | string | null;
    total: number | string;
  }>(
    await db.execute(sql`
      select project_id as id, count(*) as live,
             count(*) filter (where details_read_at is null or details_read_at < ${cutoff}) as stale,
             count(*) filter (where details_read_at is null) as never_read,
             min(details_read_at) as oldest,
             count(*) over () as total
      from products
      where removed_at is null
      group by project_id
      having count(*) filter (where details_read_at is null or details_read_at < ${cutoff}) > 0
      order by stale desc, project_id
      limit ${FLEET_LIMIT}`),
  );
  return {
    total: raw[0] ? Number(raw[0].total) : 0,
    rows: raw.map((r) => ({
      id: r.id,
      liveProducts: Number(r.live),
      stale: Number(r.stale),
      neverRead: Number(r.never_read),
      oldestReadAt: toDate(r.oldest),
    })),
  };
}
