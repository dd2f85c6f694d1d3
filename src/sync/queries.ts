import { and, asc, desc, eq, gt, gte, isNull, lte, or, sql } from 'drizzle-orm';
import {
  appStoreCredentials,
  catalogChanges,
  type Environment,
  gracePeriodSettings,
  products,
  type RenewalKind,
  revenueAttributionRules,
  subscriptionGroups,
  syncRuns,
} from '../../db/schema.ts';
import type { ServiceContext } from '../context.ts';
import { requireProject } from '../projects/store.ts';

/*
 * Read side of what the sync stores: the answers the CLI, the platform and the tests need.
 */

export type RuleRow = typeof revenueAttributionRules.$inferSelect;
export type ProductRow = typeof products.$inferSelect;
export type ChangeRow = typeof catalogChanges.$inferSelect;
export type SyncRunRow = typeof syncRuns.$inferSelect;
export type GroupRow = typeof subscriptionGroups.$inferSelect;

/**
 * The rule in force for a project, environment and renewal kind at time `at`
 * (effective_from inclusive, effective_to exclusive); null before the project's first sync.
 */
export async function rulesAt(
  ctx: ServiceContext,
  projectId: string,
  environment: Environment,
  renewalKind: RenewalKind,
  at: Date,
): Promise<RuleRow | null> {
  const [row] = await ctx.db
    .select()
    .from(revenueAttributionRules)
    .where(
      and(
        eq(revenueAttributionRules.projectId, projectId),
        eq(revenueAttributionRules.environment, environment),
        eq(revenueAttributionRules.renewalKind, renewalKind),
        lte(revenueAttributionRules.effectiveFrom, at),
        or(isNull(revenueAttributionRules.effectiveTo), gt(revenueAttributionRules.effectiveTo, at)),
      ),
    )
    .orderBy(desc(revenueAttributionRules.effectiveFrom), desc(revenueAttributionRules.id))
    .limit(1);
  return row ?? null;
}

/** The four rules in force (production then sandbox; paid_to_paid then offer_to_paid). */
export async function rulesInForce(ctx: ServiceContext, projectId: string): Promise<RuleRow[]> {
  const project = await requireProject(ctx, projectId);
  return ctx.db
    .select()
    .from(revenueAttributionRules)
    .where(
      and(eq(revenueAttributionRules.projectId, project.id), isNull(revenueAttributionRules.effectiveTo)),
    )
    .orderBy(
      sql`case ${revenueAttributionRules.environment} when 'production' then 0 else 1 end`,
      sql`case ${revenueAttributionRules.renewalKind} when 'paid_to_paid' then 0 else 1 end`,
    );
}

/** Stored products: present ones first (by kind, then product id), then removed ones. */
export async function listProducts(
  ctx: ServiceContext,
  projectId: string,
  options: { includeRemoved?: boolean } = {},
): Promise<ProductRow[]> {
  const project = await requireProject(ctx, projectId);
  return ctx.db
    .select()
    .from(products)
    .where(
      options.includeRemoved
        ? eq(products.projectId, project.id)
        : and(eq(products.projectId, project.id), isNull(products.removedAt)),
    )
    .orderBy(sql`${products.removedAt} is not null`, asc(products.kind), asc(products.productId));
}

export async function listGroups(ctx: ServiceContext, projectId: string): Promise<GroupRow[]> {
  const project = await requireProject(ctx, projectId);
  return ctx.db
    .select()
    .from(subscriptionGroups)
    .where(eq(subscriptionGroups.projectId, project.id))
    .orderBy(asc(subscriptionGroups.referenceName), asc(subscriptionGroups.appleId));
}

/**
 * The change log since `since` (all of it without), oldest first; `after` continues after the row
 * with that id (a page's cursor); `runId` keeps one sync's rows.
 */
export async function listChanges(
  ctx: ServiceContext,
  projectId: string,
  options: {
    since?: Date | undefined;
    limit?: number | undefined;
    after?: number | undefined;
    runId?: string | undefined;
  } = {},
): Promise<ChangeRow[]> {
  const project = await requireProject(ctx, projectId);
  const { after } = options;
  const query = ctx.db
    .select()
    .from(catalogChanges)
    .where(
      and(
        eq(catalogChanges.projectId, project.id),
        options.since ? gte(catalogChanges.detectedAt, options.since) : undefined,
        options.runId ? eq(catalogChanges.runId, options.runId) : undefined,
        after
          ? // The cursor row's own time, as stored (microseconds; a JS Date would round it).
            sql`(${catalogChanges.detectedAt}, ${catalogChanges.id}) > (select c.detected_at, c.id from catalog_changes c where c.id = ${after})`
          : undefined,
      ),
    )
    .orderBy(asc(catalogChanges.detectedAt), asc(catalogChanges.id));
  return options.limit ? query.limit(options.limit) : query;
}

export interface StatusRows {
  project: {
    id: string;
    appStoreId: string | null;
    bundleId: string | null;
    appName: string | null;
    scheduleEverySeconds: number | null;
    scheduleCron: string | null;
  };
  /** Never the key itself. Null when no key was saved. */
  credentials: {
    keyId: string;
    issuerId: string;
    status: string;
    statusDetail: string | null;
    verifiedAt: Date | null;
  } | null;
  catalog: { products: number; removedProducts: number; groups: number; graceOptIn: boolean | null };
  runs: SyncRunRow[];
}

/** Credential status, the stored catalog's size and the last runs (newest first). */
export async function projectStatus(
  ctx: ServiceContext,
  projectId: string,
  options: { runs?: number } = {},
): Promise<StatusRows> {
  const project = await requireProject(ctx, projectId);
  const [credentials] = await ctx.db
    .select({
      keyId: appStoreCredentials.keyId,
      issuerId: appStoreCredentials.issuerId,
      status: appStoreCredentials.status,
      statusDetail: appStoreCredentials.statusDetail,
      verifiedAt: appStoreCredentials.verifiedAt,
    })
    .from(appStoreCredentials)
    .where(eq(appStoreCredentials.projectId, project.id));
  const [counts] = await ctx.db
    .select({
      products: sql<number>`count(*) filter (where ${products.removedAt} is null)`.mapWith(Number),
      removedProducts: sql<number>`count(*) filter (where ${products.removedAt} is not null)`.mapWith(Number),
    })
    .from(products)
    .where(eq(products.projectId, project.id));
  const [groups] = await ctx.db
    .select({ groups: sql<number>`count(*)`.mapWith(Number) })
    .from(subscriptionGroups)
    .where(and(eq(subscriptionGroups.projectId, project.id), isNull(subscriptionGroups.removedAt)));
  const [grace] = await ctx.db
    .select({ optIn: gracePeriodSettings.optIn, removedAt: gracePeriodSettings.removedAt })
    .from(gracePeriodSettings)
    .where(eq(gracePeriodSettings.projectId, project.id));
  const rows = await ctx.db
    .select({
      run: syncRuns,
      stale: sql<boolean>`${syncRuns.heartbeatAt} < now() - make_interval(secs => ${ctx.config.worker.runStaleAfterMs / 1000})`,
    })
    .from(syncRuns)
    .where(eq(syncRuns.projectId, project.id))
    .orderBy(desc(syncRuns.startedAt))
    .limit(options.runs ?? 10);
  // Only live runs show as running: one whose heartbeat stopped is abandoned, even
  // before a worker's sweep has written it so.
  const runs: SyncRunRow[] = rows.map(({ run, stale }) =>
    run.status === 'running' && stale === true
      ? {
          ...run,
          status: 'abandoned',
          errorKind: 'abandoned',
          errorMessage:
            'The sync stopped reporting progress (its worker died or lost the database); nothing of it was applied.',
        }
      : run,
  );
  return {
    project: {
      id: project.id,
      appStoreId: project.appStoreId,
      bundleId: project.bundleId,
      appName: project.appName,
      scheduleEverySeconds: project.scheduleEverySeconds,
      scheduleCron: project.scheduleCron,
    },
    credentials: credentials ?? null,
    catalog: {
      products: counts?.products ?? 0,
      removedProducts: counts?.removedProducts ?? 0,
      groups: groups?.groups ?? 0,
      graceOptIn: grace && grace.removedAt === null ? grace.optIn : null,
    },
    runs,
  };
}
