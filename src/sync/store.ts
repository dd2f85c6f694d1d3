import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import {
  gracePeriodSettings,
  products,
  revenueAttributionRules,
  subscriptionGroups,
} from '../../db/schema.ts';
import type { StoredCatalog, StoredGrace, StoredGroup, StoredProduct } from '../catalog/model.ts';
import type { AttributionRule } from '../catalog/rules.ts';

/*
 * Reading what Postgres holds for a project, as the catalog model. One statement per table,
 * whatever the catalog's size. Works on a Db or inside a transaction (a transaction is a Db).
 */

export async function loadStoredCatalog(db: Db, projectId: string): Promise<StoredCatalog> {
  const productRows = await db.select().from(products).where(eq(products.projectId, projectId));
  const groupRows = await db
    .select()
    .from(subscriptionGroups)
    .where(eq(subscriptionGroups.projectId, projectId));
  const [graceRow] = await db
    .select()
    .from(gracePeriodSettings)
    .where(eq(gracePeriodSettings.projectId, projectId));
  return {
    products: productRows.map(
      (row): StoredProduct => ({
        appleId: row.appleId,
        productId: row.productId,
        kind: row.kind,
        referenceName: row.referenceName,
        state: row.state,
        familySharable: row.familySharable,
        contentHosting: row.contentHosting,
        subscriptionPeriod: row.subscriptionPeriod,
        groupAppleId: row.groupAppleId,
        groupLevel: row.groupLevel,
        raw: row.raw,
        removedAt: row.removedAt,
      }),
    ),
    groups: groupRows.map(
      (row): StoredGroup => ({
        appleId: row.appleId,
        referenceName: row.referenceName,
        raw: row.raw,
        removedAt: row.removedAt,
      }),
    ),
    grace: graceRow
      ? ({
          appleId: graceRow.appleId,
          optIn: graceRow.optIn,
          sandboxOptIn: graceRow.sandboxOptIn,
          duration: graceRow.duration,
          durationDays: graceRow.durationDays,
          renewalType: graceRow.renewalType,
          raw: graceRow.raw,
          removedAt: graceRow.removedAt,
        } satisfies StoredGrace)
      : null,
  };
}

/** The rule rows in force (effective_to is null): none before a project's first sync, else four. */
export async function loadRulesInForce(db: Db, projectId: string): Promise<AttributionRule[]> {
  const rows = await db
    .select()
    .from(revenueAttributionRules)
    .where(
      and(eq(revenueAttributionRules.projectId, projectId), isNull(revenueAttributionRules.effectiveTo)),
    );
  return rows.map((row) => ({
    environment: row.environment,
    renewalKind: row.renewalKind,
    graceDays: row.graceDays,
    recoveredRevenueDatedTo: row.recoveredRevenueDatedTo as AttributionRule['recoveredRevenueDatedTo'],
    accessDuringGrace: row.accessDuringGrace,
    unrecoveredChurnAt: row.unrecoveredChurnAt as AttributionRule['unrecoveredChurnAt'],
  }));
}
