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
  at: string;
  superseded: boolean;
  digest: string | null;
  products: AsJson<StoredProduct>[];
  groups: AsJson<StoredGroup>[];
  grace: AsJson<StoredGrace> | null;
  rules: AttributionRule[];
}

export interface ApplyState {
  /** The database clock as the state was read (ISO-8601 text): the stamp of this sync's writes. */
  at: string;
  /** A sync of this project whose fetch completed later than this run's has already applied. */
  superseded: boolean;
  /** The digest of the stored catalog (src/catalog/digest.ts), null when none is known. */
  digest: string | null;
  stored: StoredCatalog;
  /** The rule rows in force (effective_to is null): none before a project's first sync, else four. */
  inForce: AttributionRule[];
}

const withRemovedAt = <T>(record: AsJson<T>): T =>
  ({
    ...record,
    removedAt: record.removedAt === null ? null : new Date(record.removedAt),
  }) as T;

/**
 * What applying `runId`'s catalog needs, in one statement, read after the project's lock: the
 * database clock (so stamps are ordered like the commits, whatever the workers' clocks say),
 * whether the run is superseded, the stored catalog with its digest and the rules in force.
 *
 * Superseded: a sync of this project whose FETCH completed later than this run's
 * already applied. Ordering by fetch time, not start time: a sync that started first but fetched
 * after a catalog edit must not be discarded because a later-started sync fetched the older
 * catalog first, and an older fetch must never overwrite a newer one. A superseded run is
 * `succeeded` too, but one is superseded only by a newer applied fetch, so comparing with every
 * succeeded run is the same as comparing with the applied ones. A run without `fetched_at`
 * (written before this rule, or by a caller that did not record it) is never superseded.
 */
export async function loadApplyState(db: Db, projectId: string, runId: string): Promise<ApplyState> {
  const [row] = rowsOf<{ state: string }>(
    await db.execute(sql`
      select json_build_object(
        'at', to_json(clock_timestamp()) #>> '{}',
        'superseded', exists (
          select 1 from sync_runs newer
           where newer.project_id = ${projectId}
             and newer.id <> ${runId}::uuid
             and newer.status = 'succeeded'
             and newer.fetched_at > (select fetched_at from sync_runs where id = ${runId}::uuid)),
        'digest', (select digest from catalog_digests where project_id = ${projectId}),
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
    at: state.at,
    superseded: state.superseded,
    digest: state.digest,
    stored: {
      products: state.products.map(withRemovedAt<StoredProduct>),
      groups: state.groups.map(withRemovedAt<StoredGroup>),
      grace: state.grace === null ? null : withRemovedAt<StoredGrace>(state.grace),
    },
    inForce: state.rules,
  };
}
