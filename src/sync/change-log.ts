import { type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import type { Change } from '../catalog/diff.ts';

/*
 * The change log's one writer: the structure sync (apply.ts) and the detail refresh
 * (src/details/store.ts) append their diffs through here, in the caller's transaction, as one
 * statement whose rows travel as one jsonb parameter, in the diff's order.
 */

/** A JSON value as a jsonb parameter. */
export const jsonb = (value: unknown): SQL => sql`${JSON.stringify(value)}::jsonb`;
/** An ISO time (the transaction's clock, read once) as a timestamptz parameter. */
export const ts = (at: string): SQL => sql`${at}::timestamptz`;

export async function appendChangeRows(
  tx: Db,
  target: { projectId: string; runId: string; at: string },
  changes: readonly Change<unknown>[],
): Promise<void> {
  if (changes.length === 0) return;
  const rows = changes.map((change, ord) => ({
    ord,
    entity: change.entity,
    entityId: change.entityId,
    action: change.action,
    changedFields: change.changedFields,
    before: change.before,
    after: change.after,
  }));
  await tx.execute(sql`
    insert into catalog_changes
      (project_id, run_id, entity, entity_id, action, changed_fields, before, after, detected_at)
    select ${target.projectId}, ${target.runId}::uuid, x.entity, x."entityId", x.action, x."changedFields",
           x.before, x.after, ${ts(target.at)}
      from jsonb_to_recordset(${jsonb(rows)}) as x(
        ord integer, entity text, "entityId" text, action text, "changedFields" text[], before jsonb, after jsonb)
     order by x.ord`);
}
