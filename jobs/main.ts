import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'bullmq';
import { sql } from 'drizzle-orm';
import { type Database, openDatabase } from '../db/client.ts';
import { closeSharedAgents } from '../src/appstore/index.ts';
import type { Config } from '../src/config/env.ts';
import type { ConsoleServer } from '../src/console/index.ts';
import type { ServiceContext } from '../src/context.ts';
import type { Logger } from '../src/log/logger.ts';
import { type HealthServer, startHealthServer } from './health.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { type CatalogQueue, openQueue, type QueueHandle } from './queue.ts';
import { reconcileSchedules } from './schedules.ts';
import { createWorker } from './worker.ts';

export interface WorkerService {
  worker: Worker;
  queue: CatalogQueue;
  metrics: WorkerMetrics;
  /** The health server's port, or null when METRICS_PORT is 0. */
  healthPort: number | null;
  /** Stops taking jobs, lets active ones finish (up to config.worker.shutdownTimeoutMs), closes everything it opened. */
  close(reason?: string): Promise<void>;
  /** Resolves once closed. */
  closed: Promise<void>;
}

export interface WorkerServiceOptions {
  /** Overrides config.metrics.port (0 = no server). */
  metricsPort?: number;
  /** Run after everything else is closed (the entry point closes the database here). */
  onClosed?: () => Promise<void>;
}

/**
 * Starts the worker side on an open database: reconciles schedules from Postgres into Redis,
 * starts the BullMQ worker and the health server, and re-reconciles periodically and whenever
 * the Redis connection comes back (a Redis restarted without persistence lost its schedulers).
 */
export async function startWorkerService(
  ctx: ServiceContext,
  options: WorkerServiceOptions = {},
): Promise<WorkerService> {
  const { config, logger } = ctx;
  const handle: QueueHandle = await openQueue(config, 'worker');
  const metrics = createWorkerMetrics();
  metrics.observeQueue({
    schedules: () => handle.queue.getJobSchedulersCount(),
    jobCounts: () => handle.queue.getJobCounts(),
  });

  let health: HealthServer | undefined;
  let consoleServer: ConsoleServer | undefined;
  let worker: Worker | undefined;
  let timer: NodeJS.Timeout | undefined;
  let reconciling: Promise<unknown> | undefined;
  const reconcile = (why: string) => {
    reconciling ??= reconcileSchedules(ctx, handle)
      .catch((error: unknown) => logger.error({ err: error, why }, 'reconciling schedules failed'))
      .finally(() => {
        reconciling = undefined;
      });
    return reconciling;
  };
  const onReady = () => void reconcile('redis reconnected');

  const cleanup = async () => {
    clearInterval(timer);
    handle.redis.off('ready', onReady);
    await reconciling;
    await health?.close().catch(() => {});
    await consoleServer?.close().catch(() => {});
    await handle.close();
  };

  try {
    const port = options.metricsPort ?? config.metrics.port;
    if (port > 0) {
      // The operator console shares the port of /metrics, under /console (off unless a token is set).
      // Loaded only when on: express and Bull Board stay out of a worker that does not serve it.
      if (config.console.enabled) {
        const { createConsole } = await import('../src/console/index.ts');
        consoleServer = await createConsole({ ctx, access: config.console, queue: handle });
      }
      health = await startHealthServer({
        routes: consoleServer ? [{ prefix: '/console', handle: consoleServer.handle }] : [],
        port,
        host: config.metrics.host,
        registry: metrics.registry,
        logger,
        checks: {
          redis: () => handle.redis.ping(),
          postgres: () => ctx.db.execute(sql`select 1`),
        },
      });
    }
    // Start-up fails if Postgres or Redis cannot be read: a worker without its schedules is wrong.
    const result = await reconcileSchedules(ctx, handle);
    logger.info(result, 'schedules in Redis mirror Postgres');
    worker = createWorker(ctx, { connection: handle.redis, prefix: handle.prefix, metrics });
    await worker.waitUntilReady();
  } catch (error) {
    await worker?.close(true).catch(() => {});
    await cleanup();
    throw error;
  }
  const running = worker;

  if (config.worker.scheduleReconcileIntervalMs > 0) {
    timer = setInterval(() => void reconcile('periodic check'), config.worker.scheduleReconcileIntervalMs);
    timer.unref();
  }
  handle.redis.on('ready', onReady);
  logger.info(
    { concurrency: running.concurrency, prefix: handle.prefix, healthPort: health?.port ?? null },
    'worker started',
  );

  let closing: Promise<void> | undefined;
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });

  const close = (reason = 'close') => {
    closing ??= (async () => {
      const timeoutMs = config.worker.shutdownTimeoutMs;
      logger.info({ reason, timeoutMs }, 'shutting down: taking no new jobs, letting active ones finish');
      const finished = await Promise.race([
        running.close().then(() => true),
        sleep(timeoutMs, false, { ref: false }),
      ]);
      if (!finished) {
        // Their locks lapse and another worker's stalled-job check picks them up again.
        logger.warn(
          { timeoutMs },
          'active jobs did not finish in time; leaving them to stalled-job recovery',
        );
        running.cancelAllJobs('worker shutting down');
      }
      await cleanup();
      await options.onClosed?.();
      logger.info('worker stopped');
    })()
      .catch((error: unknown) => logger.error({ err: error }, 'error while shutting down'))
      .finally(resolveClosed);
    return closing;
  };

  return {
    worker: running,
    queue: handle.queue,
    metrics,
    healthPort: health?.port ?? null,
    close,
    closed,
  };
}

/**
 * The entry point of `catalog-sync worker` and `npm start`: opens the database from the config,
 * runs the worker until SIGTERM/SIGINT, and closes everything. Resolves with the exit code.
 */
export async function runWorker(config: Config, logger: Logger): Promise<number> {
  // Installed first, so a signal during start-up stops the worker cleanly once it is up.
  let service: WorkerService | undefined;
  let stopRequested: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) {
      logger.warn({ signal }, 'already shutting down');
      return;
    }
    stopRequested = signal;
    if (service) void service.close(signal);
    else logger.info({ signal }, 'stop requested during start-up; stopping once started');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const database: Database = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      // Jobs in flight plus reconcile and health checks.
      max: config.worker.concurrency + 3,
      // The worker's own shutdown closes it, after active syncs finish.
      exitOnSignal: false,
    });
    try {
      service = await startWorkerService(
        { db: database.db, config, logger },
        { onClosed: () => database.close() },
      );
    } catch (error) {
      await database.close();
      throw error;
    }
    logger.info({ database: database.location }, 'worker ready');
    if (stopRequested) void service.close(stopRequested);
    await service.closed;
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // The process is done with Apple: close the keep-alive sockets all syncs shared.
    closeSharedAgents();
  }
}
