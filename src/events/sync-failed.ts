import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { syncRuns } from '../../db/schema.ts';
import { errorKind, errorMessage } from '../errors.ts';
import { emit } from './emit.ts';
import { buildSyncFailed } from './payloads.ts';

/**
 * `sync.failed`, once a sync job has no attempt left (or will not be retried). The run row the
 * sync marked failed says what happened (kind and a scrubbed message); the error itself is the
 * fallback when the sync failed before it could write one.
 */
export async function emitSyncFailed(
  db: Db,
  input: {
    projectId: string;
    jobId: string | null;
    trigger: string | null;
    attempts: number;
    error: unknown;
  },
): Promise<string> {
  return db.transaction(async (tx) => {
    const [run] = input.jobId
      ? await tx
          .select({ id: syncRuns.id, errorKind: syncRuns.errorKind, errorMessage: syncRuns.errorMessage })
          .from(syncRuns)
          .where(and(eq(syncRuns.projectId, input.projectId), eq(syncRuns.jobId, input.jobId)))
          .orderBy(desc(syncRuns.startedAt))
          .limit(1)
      : [];
    return emit(tx, {
      type: 'sync.failed',
      projectId: input.projectId,
      payload: buildSyncFailed({
        runId: run?.id ?? null,
        jobId: input.jobId,
        trigger: input.trigger,
        attempts: input.attempts,
        errorKind: run?.errorKind ?? errorKind(input.error),
        errorMessage: run?.errorMessage ?? errorMessage(input.error),
      }),
    });
  });
}
