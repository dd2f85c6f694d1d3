import type { DetailsRefreshResult } from '../src/app/refresh-details.ts';
import type { WorkerMetrics } from './metrics.ts';

/*
 * Issue 12: what a sync job reports of the detail refresh the application layer ran after its
 * structure sync (src/app/refresh-details.ts, shared with `sync --inline`), and the metrics it
 * feeds. A failure there never fails the job: the products stay due for the next run.
 */

export interface DetailsJobSummary {
  due: number;
  refreshed: number;
  deferred: number;
  failed: number;
  requests: number;
  changes: Record<string, number>;
  stoppedBy: string | null;
  /** Products of the project still older than the maximum age (or never read). */
  stale: number | null;
  error?: string;
}

/** Feeds the worker's metrics with one refresh, and returns the job's account of it. */
export function reportDetails(
  metrics: WorkerMetrics | undefined,
  result: DetailsRefreshResult,
): DetailsJobSummary {
  if (result.error === null) {
    metrics?.detailsRefreshed({
      requestsByCallSite: result.requestsByCallSite,
      key: result.key ?? undefined,
      budget: result.budget ?? undefined,
    });
  }
  return {
    due: result.due,
    refreshed: result.refreshed,
    deferred: result.deferred,
    failed: result.failed,
    requests: result.requests,
    changes: result.changes,
    stoppedBy: result.stoppedBy,
    stale: result.stale,
    ...(result.error === null ? {} : { error: result.error }),
  };
}
