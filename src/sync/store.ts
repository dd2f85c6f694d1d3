import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import type { StoredCatalog, StoredGrace, StoredGroup, StoredProduct } from '../catalog/model.ts';
import type { AttributionRule } from '../catalog/rules.ts';

/*
 * Reading what Postgres holds for a project, as the catalog model. One statement per table,
 * whatever the catalog's size. Works on a Db or inside a transaction (a transaction is a Db).
 *
 * The catalog read is every sync's hot path (a 100-product re-sync reads 100 rows and usually
 * writes nothing), so it is plain SQL returning raw rows, mapped here field by field: drizzle's
 * generic row mapping (per column: entity checks, decoder lookup) cost more than the rest of it.
 * The column lists must follow db/schema.ts; test/integration/sync covers every field.
 */

type Timestamp = string | Date | null;
/** postgres-js hands timestamps through as text (drizzle's setting), PGlite as Date. */
const toDate = (value: Timestamp): Date | null => (value === null ? null : new Date(value));

interface ProductRow {
  apple_id: string;
  product_id: string;
  kind: StoredProduct['kind'];
  reference_name: string;
  state: string;
  family_sharable: boolean | null;
  content_hosting: boolean | null;
  subscription_period: string | null;
  group_apple_id: string | null;
  group_level: number | null;
  raw: Record<string, unknown>;
  removed_at: Timestamp;
}

interface GroupRow {
  apple_id: string;
  reference_name: string;
  raw: Record<string, unknown>;
  removed_at: Timestamp;
}

interface GraceRow {
  apple_id: string;
  opt_in: boolean;
  sandbox_opt_in: boolean;
  duration: string;
  duration_days: number;
  renewal_type: string;
  raw: Record<string, unknown>;
  removed_at: Timestamp;
}

export async function loadStoredCatalog(db: Db, projectId: string): Promise<StoredCatalog> {
  const productRows = rowsOf<ProductRow>(
    await db.execute(sql`select apple_id, product_id, kind, reference_name, state, family_sharable,
        content_hosting, subscription_period, group_apple_id, group_level, raw, removed_at
      from products where project_id = ${projectId}`),
  );
  const groupRows = rowsOf<GroupRow>(
    await db.execute(
      sql`select apple_id, reference_name, raw, removed_at from subscription_groups where project_id = ${projectId}`,
    ),
  );
  const [graceRow] = rowsOf<GraceRow>(
    await db.execute(sql`select apple_id, opt_in, sandbox_opt_in, duration, duration_days, renewal_type, raw,
        removed_at
      from grace_period_settings where project_id = ${projectId}`),
  );
  const storedProducts = new Array<StoredProduct>(productRows.length);
  for (let i = 0; i < productRows.length; i++) {
    const row = productRows[i]!;
    storedProducts[i] = {
      appleId: row.apple_id,
      productId: row.product_id,
      kind: row.kind,
      referenceName: row.reference_name,
      state: row.state,
      familySharable: row.family_sharable,
      contentHosting: row.content_hosting,
      subscriptionPeriod: row.subscription_period,
      groupAppleId: row.group_apple_id,
      groupLevel: row.group_level,
      raw: row.raw,
      removedAt: toDate(row.removed_at),
    };
  }
  return {
    products: storedProducts,
    groups: groupRows.map(
      (row): StoredGroup => ({
        appleId: row.apple_id,
        referenceName: row.reference_name,
        raw: row.raw,
        removedAt: toDate(row.removed_at),
      }),
    ),
    grace: graceRow
      ? ({
          appleId: graceRow.apple_id,
          optIn: graceRow.opt_in,
          sandboxOptIn: graceRow.sandbox_opt_in,
          duration: graceRow.duration,
          durationDays: graceRow.duration_days,
          renewalType: graceRow.renewal_type,
          raw: graceRow.raw,
          removedAt: toDate(graceRow.removed_at),
        } satisfies StoredGrace)
      : null,
  };
}

interface RuleRow {
  environment: AttributionRule['environment'];
  renewal_kind: AttributionRule['renewalKind'];
  grace_days: number;
  recovered_revenue_dated_to: AttributionRule['recoveredRevenueDatedTo'];
  access_during_grace: boolean;
  unrecovered_churn_at: AttributionRule['unrecoveredChurnAt'];
}

/**
 * The rule rows in force (effective_to is null): none before a project's first sync, else four.
 * Plain SQL with only the six columns compared, like the catalog read: every sync runs it, and
 * drizzle's `select()` built and mapped all eleven columns (timestamps to Date) for nothing.
 */
export async function loadRulesInForce(db: Db, projectId: string): Promise<AttributionRule[]> {
  const rows = rowsOf<RuleRow>(
    await db.execute(sql`select environment, renewal_kind, grace_days, recovered_revenue_dated_to,
        access_during_grace, unrecovered_churn_at
      from revenue_attribution_rules where project_id = ${projectId} and effective_to is null`),
  );
  return rows.map((row) => ({
    environment: row.environment,
    renewalKind: row.renewal_kind,
    graceDays: row.grace_days,
    recoveredRevenueDatedTo: row.recovered_revenue_dated_to,
    accessDuringGrace: row.access_during_grace,
    unrecoveredChurnAt: row.unrecovered_churn_at,
  }));
}
