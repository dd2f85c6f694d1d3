import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import type { StoredCatalog, StoredGrace, StoredGroup, StoredProduct } from '../catalog/model.ts';
import type { AttributionRule } from '../catalog/rules.ts';

/*
 * Reading what Postgres holds for a project, as the catalog model, with the revenue-attribution
 * rules in force. Works on a Db or inside a transaction (a transaction is a Db).
 *
 * This is every sync's hot read (a 100-product re-sync reads 100 rows and usually writes
 * nothing), so it is ONE plain-SQL statement whatever the catalog's size: Postgres builds one
 * JSON text whose objects already have the model's field names, and the worker parses it once.
 * Four statements returning rows (products, groups, grace, rules) cost a round trip each, and
 * per row and column the driver's decoding and the mapping to the model (drizzle's generic row
 * mapping cost more still). Text, not a json column, so postgres-js and PGlite hand over the same
 * thing. The field lists must follow db/schema.ts and the model; test/integration/sync covers
 * every field.
 */

/** A stored record as the JSON text has it: removedAt is ISO-8601 text (or null) until parsed. */
type AsJson<T> = Omit<T, 'removedAt'> & { removedAt: string | null };

interface StoredState {
  products: AsJson<StoredProduct>[];
  groups: AsJson<StoredGroup>[];
  grace: AsJson<StoredGrace> | null;
  rules: AttributionRule[];
}

export interface ApplyState {
  stored: StoredCatalog;
  /** The rule rows in force (effective_to is null): none before a project's first sync, else four. */
  inForce: AttributionRule[];
}

const withRemovedAt = <T>(record: AsJson<T>): T =>
  ({
    ...record,
    removedAt: record.removedAt === null ? null : new Date(record.removedAt),
  }) as T;

/** The stored catalog and the rules in force, in one statement. */
export async function loadApplyState(db: Db, projectId: string): Promise<ApplyState> {
  const [row] = rowsOf<{ state: string }>(
    await db.execute(sql`
      select json_build_object(
        'products', coalesce((
          select json_agg(json_build_object(
            'appleId', apple_id, 'productId', product_id, 'kind', kind, 'referenceName', reference_name,
            'state', state, 'familySharable', family_sharable, 'contentHosting', content_hosting,
            'subscriptionPeriod', subscription_period, 'groupAppleId', group_apple_id,
            'groupLevel', group_level, 'raw', raw, 'removedAt', removed_at))
          from products where project_id = ${projectId}), '[]'),
        'groups', coalesce((
          select json_agg(json_build_object(
            'appleId', apple_id, 'referenceName', reference_name, 'raw', raw, 'removedAt', removed_at))
          from subscription_groups where project_id = ${projectId}), '[]'),
        'grace', (
          select json_build_object(
            'appleId', apple_id, 'optIn', opt_in, 'sandboxOptIn', sandbox_opt_in, 'duration', duration,
            'durationDays', duration_days, 'renewalType', renewal_type, 'raw', raw, 'removedAt', removed_at)
          from grace_period_settings where project_id = ${projectId}),
        'rules', coalesce((
          select json_agg(json_build_object(
            'environment', environment, 'renewalKind', renewal_kind, 'graceDays', grace_days,
            'recoveredRevenueDatedTo', recovered_revenue_dated_to,
            'accessDuringGrace', access_during_grace, 'unrecoveredChurnAt', unrecovered_churn_at))
          from revenue_attribution_rules where project_id = ${projectId} and effective_to is null), '[]')
      )::text as state`),
  );
  if (!row) throw new Error('loading the stored catalog returned no row');
  const state = JSON.parse(row.state) as StoredState;
  return {
    stored: {
      products: state.products.map(withRemovedAt<StoredProduct>),
      groups: state.groups.map(withRemovedAt<StoredGroup>),
      grace: state.grace === null ? null : withRemovedAt<StoredGrace>(state.grace),
    },
    inForce: state.rules,
  };
}
