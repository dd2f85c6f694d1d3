import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import { jsonb } from './change-log.ts';
import { type LockMode, SYNC_LOCK_NAMESPACE } from './lock.ts';

/*
 * The unchanged re-sync, most syncs of a catalog that changes a few times a month, in ONE
 * statement instead of a transaction: the database function catalog_sync_finish_unchanged
 * (migration 0005) stamps the fetch time, takes the project's lock as the apply does, checks
 * under it that the stored catalog's digest is the fetched one's (src/catalog/digest.ts), and
 * ends the run. The worker neither loads nor diffs the stored catalog, and sends one statement
 * where the full path sends five round trips (BEGIN, lock and load, end, COMMIT). It is a
 * function because the digest must be read after the lock is granted (a statement's snapshot
 * is taken before it waits; each statement inside a function takes its own).
 *
 * The digest row exists only while the catalog tables hold exactly what that digest describes:
 * the apply writes it last in its transaction, and triggers delete it on any other change to
 * those tables (migration 0005). So "unchanged" here is what the full diff would have said.
 */

export type UnchangedOutcome =
  /** The stored catalog is the fetched one; the run is finished, nothing else written. */
  | 'unchanged'
  /** As 'unchanged', and a sync whose fetch completed later has applied already. */
  | 'superseded'
  /** The digest differs or is gone (another sync or a write got there first): apply in full. */
  | 'changed'
  /** `skip` mode and another sync holds the project's lock: nothing finished. */
  | 'busy';

export interface UnchangedInput {
  projectId: string;
  runId: string;
  digest: string;
  lock: LockMode;
  durationMs: number;
  requests: number;
  requestCounts: Record<string, number>;
}

export async function finishIfUnchanged(db: Db, input: UnchangedInput): Promise<UnchangedOutcome> {
  const [row] = rowsOf<{ outcome: UnchangedOutcome }>(
    await db.execute(sql`select catalog_sync_finish_unchanged(
      ${input.projectId}, ${input.runId}::uuid, ${input.digest}, ${SYNC_LOCK_NAMESPACE},
      ${input.lock === 'wait'}, ${input.durationMs}, ${input.requests}, ${jsonb(input.requestCounts)}) as outcome`),
  );
  if (!row) throw new Error('catalog_sync_finish_unchanged returned no row');
  return row.outcome;
}
