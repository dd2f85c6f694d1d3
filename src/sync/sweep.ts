import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';

/*
 * Runs always end. A `running` row whose heartbeat (run.ts) is older than the
 * threshold belongs to a sync that can no longer finish it: its process was killed, its event
 * loop stalled past its job lock, or the database went away and the failure could not be written.
 * The sweep marks such rows `abandoned`. Nothing of theirs was applied (the apply transaction
 * commits together with the `succeeded` status), so this only tells the truth about them. Every
 * worker runs it at start-up and every SYNC_RUN_SWEEP_INTERVAL_MS; concurrent sweeps are harmless
 * (the update is idempotent).
 */

export interface SweepResult {
  abandoned: { id: string; projectId: string; jobId: string | null }[];
}

export async function sweepAbandonedRuns(db: Db, staleAfterMs: number): Promise<SweepResult> {
  const rows = rowsOf<{ id: string; project_id: string; job_id: string | null }>(
    await db.execute(sql`
      update sync_runs
         set status = 'abandoned',
             finished_at = clock_timestamp(),
             duration_ms = (extract(epoch from clock_timestamp() - started_at) * 1000)::int,
             error_kind = 'abandoned',
             error_message = 'The sync stopped reporting progress (its worker was killed, lost its job lock, '
               || 'or lost the database) and was ended by the sweep; nothing of it was applied. '
               || 'A retried or later sync brings the catalog up to date.'
       where status = 'running'
         and coalesce(heartbeat_at, started_at) < clock_timestamp() - make_interval(secs => ${staleAfterMs / 1000})
      returning id, project_id, job_id`),
  );
  return { abandoned: rows.map((r) => ({ id: r.id, projectId: r.project_id, jobId: r.job_id })) };
}
