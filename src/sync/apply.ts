import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import { type CatalogDiff, type Change, countChanges, diffCatalog, isEmptyDiff } from '../catalog/diff.ts';
import type { Catalog, CatalogGroup, CatalogProduct, GracePeriod, StoredCatalog } from '../catalog/model.ts';
import { type AttributionRule, deriveRules, rulesEqual } from '../catalog/rules.ts';
import { AppError } from '../errors.ts';
import { appendChangeRows, jsonb, ts } from './change-log.ts';
import { type LockMode, SYNC_LOCK_NAMESPACE, syncInProgressError } from './lock.ts';
import { loadApplyState } from './store.ts';

/*
 * Applying one fetched catalog to Postgres, inside the caller's transaction.
 *
 * Writes are batched: each kind of write is one statement whose rows travel as one jsonb
 * parameter (`jsonb_to_recordset`), so a sync issues the same number of statements for 10
 * products as for 10 000 — at most: the fetch time with the lock, 1 load with the clock
 * (store.ts), 2 group writes, 2 product writes, 1 grace write, 1 change-log insert, 2 rule writes,
 * 1 digest (plus the caller's run statements: the run
 * opened, and its end with the request it served). An unchanged re-sync whose digest is stored
 * does not come here at all (unchanged.ts).
 * Nothing is deleted: what disappeared gets `removed_at`.
 */

export interface ApplyInput {
  projectId: string;
  runId: string;
  catalog: Catalog;
  /** The catalog's digest (src/catalog/digest.ts), stored with it when this apply writes. */
  digest: string;
  /** In-app purchases fetched (stored beside the digest: the next fetch's plan reads it). */
  iaps: number;
  /** What a second sync of the project does while this one holds the lock (lock.ts). */
  lock?: LockMode;
  /** What started the sync, carried in the `catalog.changed` event. */
  trigger?: string;
}

export interface ApplyOutcome {
  /** When the changes were stamped (database clock, read after the lock was granted). */
  at: Date;
  /**
   * True when a sync whose fetch completed after this one's had already applied it while this
   * one waited for the lock: this (older) fetch was not applied, and nothing was written.
   */
  superseded: boolean;
  diff: CatalogDiff;
  /** `<entity>.<action>` counts, plus `revenue_attribution_rule.opened` when rules were versioned. */
  counts: Record<string, number>;
  rulesVersioned: boolean;
  /** Nothing written: empty diff and the rules in force already right (or superseded). */
  unchanged: boolean;
}

const EMPTY_DIFF: CatalogDiff = { products: [], groups: [], grace: null };

/**
 * Stamps the run's fetch time and takes the project's lock, in one statement. The stamp is taken
 * as the statement starts, before any wait for the lock (SET is evaluated before RETURNING), so it
 * is when the fetch completed: that, not when the run started, decides which of two overlapping
 * syncs holds the newer catalog (loadApplyState's supersession). It commits with the changes; an
 * uncommitted stamp is never needed by another sync, which compares only with `succeeded` runs.
 * A stamp already there is kept: the unchanged path (unchanged.ts) stamped it when the fetch
 * completed, then found the digest gone and sent the sync here. It also marks the transaction as
 * the apply's (catalog_sync.applying): the catalog tables' triggers leave the digest to it
 * (migration 0005), as it writes the digest itself after its other writes.
 */
async function stampFetchAndLock(tx: Db, projectId: string, runId: string, mode: LockMode): Promise<void> {
  const lock =
    mode === 'wait'
      ? sql`(select true from pg_advisory_xact_lock(${SYNC_LOCK_NAMESPACE}, hashtext(${projectId})))`
      : sql`pg_try_advisory_xact_lock(${SYNC_LOCK_NAMESPACE}, hashtext(${projectId}))`;
  const [row] = rowsOf<{ locked: boolean }>(
    await tx.execute(sql`update sync_runs
      set fetched_at = coalesce(fetched_at, clock_timestamp()), heartbeat_at = clock_timestamp()
      where id = ${runId}::uuid
      returning ${lock} as locked, set_config('catalog_sync.applying', 'on', true) as applying`),
  );
  if (!row) throw new Error(`sync run ${runId} is missing: it cannot be stamped or applied`);
  if (!row.locked) throw syncInProgressError(projectId);
}

/** The model after each change that leaves the entity present (added, updated, restored). */
function present<T>(changes: readonly Change<T>[]): T[] {
  return changes.filter((c) => c.action !== 'removed' && c.after !== null).map((c) => c.after as T);
}

const removedIds = (changes: readonly Change<unknown>[]) =>
  changes.filter((c) => c.action === 'removed').map((c) => c.entityId);

async function writeGroups(tx: Db, projectId: string, at: string, changes: Change<CatalogGroup>[]) {
  const upserts = present(changes);
  if (upserts.length > 0) {
    await tx.execute(sql`
      insert into subscription_groups
        (project_id, apple_id, reference_name, raw, first_seen_at, updated_at, removed_at)
      select ${projectId}, x."appleId", x."referenceName", x.raw, ${ts(at)}, ${ts(at)}, null
        from jsonb_to_recordset(${jsonb(upserts)}) as x("appleId" text, "referenceName" text, raw jsonb)
      on conflict (project_id, apple_id) do update set
        reference_name = excluded.reference_name, raw = excluded.raw,
        updated_at = excluded.updated_at, removed_at = null`);
  }
  const removed = removedIds(changes);
  if (removed.length > 0) {
    await tx.execute(sql`
      update subscription_groups set removed_at = ${ts(at)}, updated_at = ${ts(at)}
       where project_id = ${projectId}
         and apple_id in (select jsonb_array_elements_text(${jsonb(removed)}))`);
  }
}

async function writeProducts(tx: Db, projectId: string, at: string, changes: Change<CatalogProduct>[]) {
  const upserts = present(changes);
  if (upserts.length > 0) {
    await tx.execute(sql`
      insert into products
        (project_id, apple_id, product_id, kind, reference_name, state, family_sharable, content_hosting,
         subscription_period, group_apple_id, group_level, raw, first_seen_at, updated_at, removed_at)
      select ${projectId}, x."appleId", x."productId", x.kind, x."referenceName", x.state, x."familySharable",
             x."contentHosting", x."subscriptionPeriod", x."groupAppleId", x."groupLevel", x.raw,
             ${ts(at)}, ${ts(at)}, null
        from jsonb_to_recordset(${jsonb(upserts)}) as x(
          "appleId" text, "productId" text, kind text, "referenceName" text, state text,
          "familySharable" boolean, "contentHosting" boolean, "subscriptionPeriod" text,
          "groupAppleId" text, "groupLevel" integer, raw jsonb)
      on conflict (project_id, apple_id) do update set
        product_id = excluded.product_id, kind = excluded.kind, reference_name = excluded.reference_name,
        state = excluded.state, family_sharable = excluded.family_sharable,
        content_hosting = excluded.content_hosting, subscription_period = excluded.subscription_period,
        group_apple_id = excluded.group_apple_id, group_level = excluded.group_level, raw = excluded.raw,
        updated_at = excluded.updated_at, removed_at = null`);
  }
  const removed = removedIds(changes);
  if (removed.length > 0) {
    await tx.execute(sql`
      update products set removed_at = ${ts(at)}, updated_at = ${ts(at)}
       where project_id = ${projectId}
         and apple_id in (select jsonb_array_elements_text(${jsonb(removed)}))`);
  }
}

async function writeGrace(tx: Db, projectId: string, at: string, change: Change<GracePeriod> | null) {
  if (change === null) return;
  if (change.action === 'removed' || change.after === null) {
    await tx.execute(sql`
      update grace_period_settings set removed_at = ${ts(at)}, updated_at = ${ts(at)}
       where project_id = ${projectId}`);
    return;
  }
  const g = change.after;
  await tx.execute(sql`
    insert into grace_period_settings
      (project_id, apple_id, opt_in, sandbox_opt_in, duration, duration_days, renewal_type, raw, updated_at, removed_at)
    values (${projectId}, ${g.appleId}, ${g.optIn}, ${g.sandboxOptIn}, ${g.duration}, ${g.durationDays},
            ${g.renewalType}, ${jsonb(g.raw)}, ${ts(at)}, null)
    on conflict (project_id) do update set
      apple_id = excluded.apple_id, opt_in = excluded.opt_in, sandbox_opt_in = excluded.sandbox_opt_in,
      duration = excluded.duration, duration_days = excluded.duration_days,
      renewal_type = excluded.renewal_type, raw = excluded.raw, updated_at = excluded.updated_at,
      removed_at = null`);
}

/** The digest of the catalog the tables now hold (unchanged.ts reads it), with its IAP count. */
async function writeDigest(tx: Db, { projectId, runId, digest, iaps }: ApplyInput) {
  await tx.execute(sql`
    insert into catalog_digests (project_id, digest, iaps, run_id, written_at)
    values (${projectId}, ${digest}, ${iaps}, ${runId}::uuid, clock_timestamp())
    on conflict (project_id) do update set
      digest = excluded.digest, iaps = excluded.iaps, run_id = excluded.run_id,
      written_at = excluded.written_at`);
}

/** Groups, then products, then grace: each in the diff's order (by Apple id), ids ascending. */
function appendChanges(tx: Db, projectId: string, runId: string, at: string, diff: CatalogDiff) {
  const all: Change<unknown>[] = [...diff.groups, ...diff.products, ...(diff.grace ? [diff.grace] : [])];
  return appendChangeRows(tx, { projectId, runId, at }, all);
}

/**
 * Closes the rules in force and opens the derived ones, only when they differ (the first
 * sync finds none in force and opens four). Returns whether it wrote.
 */
async function versionRules(
  tx: Db,
  projectId: string,
  runId: string,
  at: string,
  inForce: AttributionRule[],
  derived: AttributionRule[],
): Promise<boolean> {
  if (inForce.length > 0 && rulesEqual(inForce, derived)) return false;
  if (inForce.length > 0) {
    await tx.execute(sql`
      update revenue_attribution_rules set effective_to = ${ts(at)}
       where project_id = ${projectId} and effective_to is null`);
  }
  await tx.execute(sql`
    insert into revenue_attribution_rules
      (project_id, environment, renewal_kind, grace_days, recovered_revenue_dated_to, access_during_grace,
       unrecovered_churn_at, source_run_id, effective_from, effective_to)
    select ${projectId}, x.environment, x."renewalKind", x."graceDays", x."recoveredRevenueDatedTo",
           x."accessDuringGrace", x."unrecoveredChurnAt", ${runId}::uuid, ${ts(at)}, null
      from jsonb_to_recordset(${jsonb(derived)}) as x(
        environment text, "renewalKind" text, "graceDays" integer, "recoveredRevenueDatedTo" text,
        "accessDuringGrace" boolean, "unrecoveredChurnAt" text)`);
  return true;
}

/**
 * App Store Connect never reuses a product id, and `products` is unique by (project, product id),
 * removed rows included. A new Apple id carrying a stored product id would fail the upsert with a
 * bare constraint error; say what happened instead (the transaction rolls back either way).
 */
function refuseReusedProductIds(stored: StoredCatalog, diff: CatalogDiff): void {
  const holders = new Map(stored.products.map((p) => [p.productId, p]));
  for (const change of diff.products) {
    if (change.after === null) continue;
    const holder = holders.get(change.after.productId);
    if (holder && holder.appleId !== change.entityId) {
      throw new AppError(
        'inconsistent_catalog',
        `App Store Connect lists product id ${JSON.stringify(change.after.productId)} under Apple id ${change.entityId}, ` +
          `but this project already stored it for Apple id ${holder.appleId}${holder.removedAt ? ' (since removed)' : ''}. ` +
          'Apple never reuses product ids, so the catalog was not applied; check both products in App Store Connect.',
      );
    }
  }
}

/**
 * Lock, check for a newer applied fetch, load, diff, write. Must run inside a transaction
 * (`db.transaction`): the lock is transaction-scoped and every write commits or none does.
 */
export async function applyCatalog(tx: Db, input: ApplyInput): Promise<ApplyOutcome> {
  const { projectId, runId, catalog } = input;
  // Sent together (one write to the connection) but run one after the other: the load is its own
  // statement, so its snapshot is taken when it starts, after the lock was granted. In the lock's
  // statement it would read what the previous holder had not yet committed.
  const [, { at: stamp, superseded, stored, inForce, digest: storedDigest }] = await Promise.all([
    stampFetchAndLock(tx, projectId, runId, input.lock ?? 'wait'),
    loadApplyState(tx, projectId, runId),
  ]);
  const at = new Date(stamp);
  if (superseded) {
    return { at, superseded: true, diff: EMPTY_DIFF, counts: {}, rulesVersioned: false, unchanged: true };
  }
  const diff = diffCatalog(stored, catalog);
  refuseReusedProductIds(stored, diff);
  if (!isEmptyDiff(diff)) {
    await writeGroups(tx, projectId, stamp, diff.groups);
    await writeProducts(tx, projectId, stamp, diff.products);
    await writeGrace(tx, projectId, stamp, diff.grace);
    await appendChanges(tx, projectId, runId, stamp, diff);
  }
  const derived = deriveRules(catalog.grace);
  const rulesVersioned = await versionRules(tx, projectId, runId, stamp, inForce, derived);
  const counts = countChanges(diff);
  if (rulesVersioned) counts['revenue_attribution_rule.opened'] = derived.length;
  const unchanged = isEmptyDiff(diff) && !rulesVersioned;
  // The run's `catalog.changed` is written when the run is complete, details included
  // (src/events/announce.ts), from the change rows this transaction commits.
  // Last, after every other write: the digest then describes what the tables hold (the catalog
  // tables' triggers leave the apply's own writes to this; migration 0005).
  if (!unchanged || storedDigest !== input.digest) {
    await writeDigest(tx, input);
  }
  return {
    at,
    superseded: false,
    diff,
    counts,
    rulesVersioned,
    unchanged,
  };
}
