import { catalogHealth } from '../src/app/details.ts';
import type { ResponseEvent } from '../src/appstore/index.ts';
import type { ServiceContext } from '../src/context.ts';
import { type DetailsBudget, keyLabel } from '../src/details/budget.ts';
import { refreshDetails } from '../src/details/refresh.ts';
import { errorKind, errorMessage } from '../src/errors.ts';
import { emitHealthIfChanged } from '../src/events/emit.ts';
import { scrubSecrets } from '../src/log/logger.ts';
import type { WorkerMetrics } from './metrics.ts';

/*
 * Issue 12: after a project's structure sync has committed, the same job refreshes the
 * project's due details inside the key's details budget. The sync already succeeded, so a
 * failure here never fails the job: it is logged, and the products stay due for the next run.
 */

export interface DetailsJobSummary {
  due: number;
  refreshed: number;
  deferred: number;
  failed: number;
  requests: number;
  changes: Record<string, number>;
  stoppedBy: string | null;
  error?: string;
}

export async function refreshAfterSync(
  deps: {
    ctx: ServiceContext;
    metrics: WorkerMetrics | undefined;
    budget: DetailsBudget;
    onResponse: (event: ResponseEvent) => void;
  },
  projectId: string,
  runId: string,
): Promise<DetailsJobSummary> {
  const { ctx, metrics, budget } = deps;
  let keyId: string | undefined;
  try {
    const summary = await refreshDetails(ctx, {
      projectId,
      runId,
      budget,
      onResponse: (event) => {
        keyId = event.keyId;
        deps.onResponse(event);
      },
    });
    const health = await catalogHealth(ctx, { projectId }).catch(() => undefined);
    // The platform hears when the catalog's health changes (not on every sync).
    if (health) {
      await emitHealthIfChanged(ctx.db, projectId, health).catch((error: unknown) =>
        ctx.logger.warn(
          { projectId, reason: scrubSecrets(errorMessage(error)) },
          'could not record the catalog.health_changed event',
        ),
      );
    }
    const state = keyId ? await budget.state(keyId).catch(() => undefined) : undefined;
    metrics?.detailsRefreshed({
      projectId,
      requestsByCallSite: summary.requestsByCallSite,
      key: keyId ? keyLabel(keyId) : undefined,
      budget: state,
      health: health?.counts,
    });
    return {
      due: summary.due,
      refreshed: summary.refreshed.length,
      deferred: summary.deferred,
      failed: summary.failed.length,
      requests: summary.requests,
      changes: summary.changes,
      stoppedBy: summary.stoppedBy,
    };
  } catch (error) {
    const message = scrubSecrets(errorMessage(error));
    ctx.logger.warn(
      { projectId, runId, kind: errorKind(error), error: message },
      'details refresh failed; retried next run',
    );
    return {
      due: 0,
      refreshed: 0,
      deferred: 0,
      failed: 0,
      requests: 0,
      changes: {},
      stoppedBy: null,
      error: message,
    };
  }
}
