import { Worker } from 'bullmq';
import type { AppContext } from '../src/app/context.ts';
import { createDetailsBudget } from '../src/details/budget.ts';
import { defaultJobOptions, QUEUE_NAME } from '../src/queue/contract.ts';
import type { RedisConnection } from '../src/queue/redis.ts';
import type { WorkerMetrics } from './metrics.ts';
import { createProcessor } from './processors.ts';

export interface CreateWorkerOptions {
  /** A connection with `maxRetriesPerRequest: null` (createRedis(url, 'worker')); BullMQ duplicates it for blocking reads. */
  connection: RedisConnection;
  /** BullMQ prefix (REDIS_PREFIX). */
  prefix: string;
  /** Jobs this process runs at once; default config.worker.concurrency. */
  concurrency?: number;
  /** How long a job's lock lives without renewal; a killed worker's job is recovered after about this long. */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (whose worker died) and puts them back. */
  stalledIntervalMs?: number;
  metrics?: WorkerMetrics;
  /** Issue 12: refresh catalog details after each sync (default: when DETAILS_BUDGET_SHARE > 0). */
  details?: boolean;
  /** Start taking jobs at once (default true). */
  autorun?: boolean;
}

/**
 * The BullMQ worker for `catalog-sync`. Several processes (one host or many) may share the queue:
 * job locks keep each job on one worker, and stalled-job recovery hands a dead worker's job to
 * another. Finished jobs are removed by age and count even when a producer set no options.
 */
export function createWorker(ctx: AppContext, options: CreateWorkerOptions): Worker {
  const removal = defaultJobOptions(ctx.config.worker.syncAttempts);
  const lockDuration = options.lockDurationMs ?? ctx.config.worker.lockDurationMs;
  const { details } = ctx.config;
  const detailsBudget =
    (options.details ?? details.budgetShare > 0)
      ? createDetailsBudget(options.connection, {
          hourlyLimit: details.hourlyLimit,
          share: details.budgetShare,
          windowSeconds: details.windowSeconds,
          prefix: options.prefix,
        })
      : undefined;
  const worker = new Worker(QUEUE_NAME, createProcessor({ ctx, metrics: options.metrics, detailsBudget }), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency ?? ctx.config.worker.concurrency,
    lockDuration,
    stalledInterval: options.stalledIntervalMs ?? ctx.config.worker.stalledIntervalMs,
    // One stall (a worker killed mid-job) is recovered; a job that kills every worker it touches fails.
    maxStalledCount: 2,
    removeOnComplete: removal.removeOnComplete as { age: number; count: number },
    removeOnFail: removal.removeOnFail as { age: number; count: number },
    autorun: options.autorun ?? true,
  });
  const logger = ctx.logger;
  worker.on('error', (error) => logger.error({ err: error }, 'worker error'));
  worker.on('stalled', (jobId) =>
    logger.warn({ jobId }, 'job stalled (its worker stopped renewing the lock): put back in the queue'),
  );
  worker.on('failed', (job, error) => {
    if (!job) return;
    logger.debug({ jobId: job.id, jobName: job.name, reason: error.message }, 'job attempt failed');
  });
  return worker;
}
