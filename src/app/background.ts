import { asAppError } from '../database/errors.ts';
import { type DetailAgeDistribution, detailAgeDistribution } from '../details/refresh.ts';
import { failureReason } from '../errors.ts';
import {
  type DeliveryOutcome,
  type Dispatcher,
  outboxOldestAgeSeconds,
  startDispatcher,
} from '../events/dispatcher.ts';
import { lastHealthTotals } from '../events/emit.ts';
import { mapPool } from '../queue/pool.ts';
import { enqueueSync } from '../queue/producer.ts';
import type { CatalogQueue, QueueHandle } from '../queue/queue.ts';
import { pendingSyncRequests } from '../queue/requests.ts';
import { reconcileSchedules } from '../queue/schedules.ts';
import { sweepAbandonedRuns } from '../sync/sweep.ts';
import type { AppContext } from './context.ts';

export { closeSharedAgents } from '../appstore/index.ts';
export { healthIssueKinds } from '../details/health.ts';
export type { DeliveryOutcome, DetailAgeDistribution };

/*
 * What a worker runs beside its jobs: the sweep of runs a dead worker left `running`, the mirror
 * of schedules from Postgres into Redis, the re-queue of sync requests Redis lost, and the
 * delivery of the events outbox. One call starts them all; the worker only says which of its
 * processes owns the schedules.
 */

/** What the background work reports (the worker's metrics satisfy this). */
export interface BackgroundObserver {
  runsAbandoned(count: number): void;
  requestsRequeued(count: number): void;
  webhookDelivery(outcome: DeliveryOutcome): void;
}

export interface BackgroundOptions {
  /** The worker's own open queue (its Redis connection is watched for reconnects). */
  handle: QueueHandle;
  /** Whether this process mirrors schedules and re-queues requests (one per group). */
  ownsSchedules: boolean;
  observer?: BackgroundObserver | undefined;
}

export interface Background {
  /** Stops the timers and the dispatcher; waits for a round in progress. */
  stop(): Promise<void>;
}

export interface RequeueResult {
  pending: number;
  added: number;
}

/*
 * Sync requests survive a Redis that lost its data: every producer records a request in Postgres
 * before adding the job, and a worker re-enqueues every pending one at start-up, whenever its Redis
 * connection becomes ready again, and periodically. The add is deduplicated per project, so a
 * request whose job Redis still holds adds nothing; one whose job is running adds exactly one
 * follow-up (harmless: a second sync of an unchanged catalog writes nothing).
 */
export async function requeuePendingSyncs(ctx: AppContext, queue: CatalogQueue): Promise<RequeueResult> {
  const pending = await pendingSyncRequests(ctx.db);
  const outcomes = await mapPool(pending, 64, (request) =>
    enqueueSync(queue, request.projectId, request.trigger).then((enqueued) => enqueued.outcome),
  );
  const added = outcomes.filter((outcome) => outcome === 'added').length;
  const result = { pending: pending.length, added };
  (added > 0 ? ctx.logger.info : ctx.logger.debug).call(
    ctx.logger,
    result,
    added > 0
      ? 'pending sync requests re-enqueued from Postgres (Redis had lost them)'
      : 'pending sync requests checked',
  );
  return result;
}

/**
 * Starts the background work. Resolves once the first round has run: schedules mirrored (by the
 * owner), abandoned runs swept, lost requests re-queued. Start-up fails if Postgres or Redis cannot
 * be read then (a worker without its schedules is wrong); later rounds only log their failures.
 */
export async function startBackground(ctx: AppContext, options: BackgroundOptions): Promise<Background> {
  const { config, logger } = ctx;
  const { handle, ownsSchedules, observer } = options;
  let reconciling: Promise<unknown> | undefined;
  const reconcile = (why: string) => {
    reconciling ??= reconcileSchedules(ctx, handle)
      .catch((error: unknown) =>
        logger.error({ why, reason: failureReason(asAppError(error)) }, 'reconciling schedules failed'),
      )
      // Requests Redis may have lost (restarted empty) come back from Postgres.
      .then(() => requeuePendingSyncs(ctx, handle.queue))
      .then((requeued) => {
        if (requeued && requeued.added > 0) observer?.requestsRequeued(requeued.added);
      })
      .catch((error: unknown) =>
        logger.error(
          { why, reason: failureReason(asAppError(error)) },
          're-enqueuing pending sync requests failed',
        ),
      )
      .finally(() => {
        reconciling = undefined;
      });
    return reconciling;
  };
  let sweeping: Promise<unknown> | undefined;
  const sweep = () => {
    sweeping ??= sweepAbandonedRuns(ctx.db, config.worker.runStaleAfterMs)
      .then(({ abandoned }) => {
        if (abandoned.length === 0) return;
        observer?.runsAbandoned(abandoned.length);
        logger.warn({ runs: abandoned }, 'sync runs that stopped reporting progress were marked abandoned');
      })
      .catch((error: unknown) =>
        logger.warn({ reason: failureReason(asAppError(error)) }, 'sweeping abandoned sync runs failed'),
      )
      .finally(() => {
        sweeping = undefined;
      });
    return sweeping;
  };

  if (ownsSchedules) {
    const result = await reconcileSchedules(ctx, handle);
    logger.info(result, 'schedules in Redis mirror Postgres');
  } else {
    // Still proves Postgres answers before taking jobs, as the reconcile would have.
    await pendingSyncRequests(ctx.db);
  }
  // Runs left `running` by a dead worker end now, and requests a lost Redis dropped come back.
  await sweep();
  if (ownsSchedules) {
    const requeued = await requeuePendingSyncs(ctx, handle.queue);
    if (requeued.added > 0) observer?.requestsRequeued(requeued.added);
  }

  // Delivers the outbox (webhooks, and the events queue when EVENTS_QUEUE is on).
  const dispatcher: Dispatcher = startDispatcher({
    ctx,
    redis: handle.redis,
    prefix: handle.prefix,
    onDelivery: (outcome) => observer?.webhookDelivery(outcome),
  });
  const onReady = () => void reconcile('redis reconnected');
  let reconcileTimer: NodeJS.Timeout | undefined;
  if (ownsSchedules && config.worker.scheduleReconcileIntervalMs > 0) {
    reconcileTimer = setInterval(
      () => void reconcile('periodic check'),
      config.worker.scheduleReconcileIntervalMs,
    );
    reconcileTimer.unref();
  }
  let sweepTimer: NodeJS.Timeout | undefined;
  if (config.worker.runSweepIntervalMs > 0) {
    sweepTimer = setInterval(() => void sweep(), config.worker.runSweepIntervalMs);
    sweepTimer.unref();
  }
  if (ownsSchedules) handle.redis.on('ready', onReady);

  return {
    async stop() {
      clearInterval(reconcileTimer);
      clearInterval(sweepTimer);
      handle.redis.off('ready', onReady);
      await reconciling;
      await dispatcher.close().catch(() => {});
      await sweeping;
    },
  };
}

/** What the worker's metrics read at scrape time (Postgres). */
export function workerGaugeSources(ctx: AppContext) {
  return {
    detailAges: (bounds: readonly number[]): Promise<DetailAgeDistribution> =>
      detailAgeDistribution(ctx, bounds),
    healthTotals: () => lastHealthTotals(ctx.db),
    outboxOldestAgeSeconds: () => outboxOldestAgeSeconds(ctx.db),
  };
}
