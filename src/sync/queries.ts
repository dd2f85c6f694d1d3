import { and, asc, desc, eq, gt, gte, isNull, lte, or, sql } from 'drizzle-orm';
import {
  appStoreCredentials,
  catalogChanges,
  type Environment,
  gracePeriodSettings,
  products,
  projects,
  type RenewalKind,
  revenueAttributionRules,
  subscriptionGroups,
  syncRuns,
} from '../../db/schema.ts';
import type { ServiceContext } from '../context.ts';
import { parseProjectId } from '../credentials/index.ts';
import { projectNotFound } from '../credentials/store.ts';
import { InvalidInputError } from '../errors.ts';

/*
 * Read side of what the sync stores: the answers the CLI, the platform and the tests need.
 */

export type RuleRow = typeof revenueAttributionRules.$inferSelect;
export type ProductRow = typeof products.$inferSelect;
export type ChangeRow = typeof catalogChanges.$inferSelect;
export type SyncRunRow = typeof syncRuns.$inferSelect;
export type GroupRow = typeof subscriptionGroups.$inferSelect;

async function requireProject(ctx: ServiceContext, projectIdInput: string) {
  const projectId = parseProjectId(projectIdInput);
  const [project] = await ctx.db.select().from(projects).where(eq(projects.id, projectId));
  if (!project) throw projectNotFound(projectId);
  return project;
}

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

/** The change log since `since` (all of it without), oldest first. */
export async function listChanges(
  ctx: ServiceContext,
  projectId: string,
  options: { since?: Date | undefined; limit?: number | undefined } = {},
): Promise<ChangeRow[]> {
  const project = await requireProject(ctx, projectId);
  const query = ctx.db
    .select()
    .from(catalogChanges)
    .where(
      options.since
        ? and(eq(catalogChanges.projectId, project.id), gte(catalogChanges.detectedAt, options.since))
        : eq(catalogChanges.projectId, project.id),
    )
    .orderBy(asc(catalogChanges.detectedAt), asc(catalogChanges.id));
  return options.limit ? query.limit(options.limit) : query;
}

export interface ProjectStatus {
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
): Promise<ProjectStatus> {
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
  const runs = await ctx.db
    .select()
    .from(syncRuns)
    .where(eq(syncRuns.projectId, project.id))
    .orderBy(desc(syncRuns.startedAt))
    .limit(options.runs ?? 10);
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

const DURATION_UNITS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * `--since`: an ISO date-time (`2026-01-31T12:00:00Z`, or a date `2026-01-31`) or a duration
 * back from `now` such as `90m`, `24h`, `7d`, `2w`.
 */
/** The range `--since` may name: nothing in the catalog is older than 1970 (nor newer than 9999). */
const SINCE_MIN_MS = 0;
const SINCE_MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

function inRange(date: Date, text: string): Date {
  const ms = date.getTime();
  if (Number.isNaN(ms) || ms < SINCE_MIN_MS || ms > SINCE_MAX_MS) {
    throw new InvalidInputError(
      '--since',
      `${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)} reaches outside 1970-01-01 … 9999-12-31; give a shorter duration (e.g. 30d) or a date in that range.`,
    );
  }
  return date;
}

export function parseSince(text: string, now: Date = new Date()): Date {
  const trimmed = text.trim();
  const duration = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(trimmed);
  if (duration) {
    const ms = Number(duration[1]) * DURATION_UNITS[duration[2]!.toLowerCase()]!;
    return inRange(new Date(now.getTime() - ms), text);
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)) {
    const date = new Date(trimmed);
    if (!Number.isNaN(date.getTime())) return inRange(date, text);
  }
  throw new InvalidInputError(
    '--since',
    `${JSON.stringify(text)} is neither an ISO date-time (2026-01-31T12:00:00Z) nor a duration such as 30m, 24h, 7d or 2w.`,
  );
}
