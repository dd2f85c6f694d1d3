import { and, asc, eq, isNotNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { projects, syncRuns } from '../../db/schema.ts';
import type { SyncTrigger } from './contract.ts';

/*
 * Sync requests, recorded in Postgres. Redis holds the queued job; Postgres holds the
 * fact that a sync was asked for, so a Redis that comes back empty (restarted without
 * persistence) can be given every pending request again (src/app/background.ts). A request is served by
 * any sync of the project that *started* at or after it (so its fetch saw the state as of the
 * request) and ends: successfully (cleared in the sync's own transaction) or for good (cleared by
 * the processor when no attempt is left). The column keeps the latest request's time.
 */

/** Records (or refreshes) a pending sync request for the project. Unknown projects are ignored. */
export async function recordSyncRequest(db: Db, projectId: string, trigger: SyncTrigger): Promise<void> {
  await db
    .update(projects)
    .set({ syncRequestedAt: sql`clock_timestamp()`, syncRequestTrigger: trigger })
    .where(eq(projects.id, projectId));
}

/*
 * A successful sync clears the request itself, in the statement that ends its run: the database
 * function catalog_sync_run_succeeded (migration 0005) clears it if the run started at or after it.
 */

/**
 * After a job failed for good: clears the request if the job's latest run started at or after it
 * (a request made later stays pending). Without a run (it failed before one was written) it
 * clears a request made before `before`.
 */
export async function clearFailedSyncRequest(
  db: Db,
  projectId: string,
  jobId: string | undefined,
  before: Date,
): Promise<void> {
  const startedOfJob = jobId
    ? sql`(select max(${syncRuns.startedAt}) from ${syncRuns} where ${syncRuns.projectId} = ${projectId} and ${syncRuns.jobId} = ${jobId})`
    : sql`null::timestamptz`;
  await db
    .update(projects)
    .set({ syncRequestedAt: null, syncRequestTrigger: null })
    .where(
      and(
        eq(projects.id, projectId),
        sql`${projects.syncRequestedAt} <= coalesce(${startedOfJob}, ${before.toISOString()}::timestamptz)`,
      ),
    );
}

export interface PendingSyncRequest {
  projectId: string;
  trigger: SyncTrigger;
  requestedAt: Date;
}

/**
 * Every pending request, oldest first, except those a live run is serving right now (it started
 * at or after the request; re-enqueuing would only add a redundant follow-up).
 */
export async function pendingSyncRequests(db: Db): Promise<PendingSyncRequest[]> {
  const rows = await db
    .select({
      projectId: projects.id,
      trigger: projects.syncRequestTrigger,
      requestedAt: projects.syncRequestedAt,
    })
    .from(projects)
    .where(
      and(
        isNotNull(projects.syncRequestedAt),
        sql`not exists (select 1 from ${syncRuns} r where r.project_id = ${projects.id}
                           and r.status = 'running' and r.started_at >= ${projects.syncRequestedAt})`,
      ),
    )
    .orderBy(asc(projects.syncRequestedAt));
  return rows.map((row) => ({
    projectId: row.projectId,
    trigger: (row.trigger ?? 'manual') as SyncTrigger,
    requestedAt: row.requestedAt as Date,
  }));
}
