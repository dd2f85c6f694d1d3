import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'bullmq';
import { sql } from 'drizzle-orm';
import { type Database, openDatabase } from '../db/client.ts';
import type { AppContext } from '../src/app/context.ts';
import { closeSharedAgents } from '../src/appstore/index.ts';
import type { Config } from '../src/config/env.ts';
import type { ConsoleServer } from '../src/console/index.ts';
import type { ServiceContext } from '../src/context.ts';
import { asAppError } from '../src/database/errors.ts';
import { detailAgeDistribution } from '../src/details/refresh.ts';
import { AppError, errorMessage } from '../src/errors.ts';
import { type Dispatcher, outboxOldestAgeSeconds, startDispatcher } from '../src/events/dispatcher.ts';
import { lastHealthTotals } from '../src/events/emit.ts';
import type { Logger } from '../src/log/logger.ts';
import { type CatalogQueue, openQueue, type QueueHandle } from '../src/queue/queue.ts';
import { reconcileSchedules } from '../src/queue/schedules.ts';
import { sweepAbandonedRuns } from '../src/sync/sweep.ts';
import { type CheckResult, type HealthServer, runChecks, startHealthServer } from './health.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { workerPoolSize } from './pool.ts';
import { requeuePendingSyncs } from './requeue.ts';
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
  /** Runs the readiness checks (Redis, Postgres), as /readyz does. */
  checks(): Promise<Record<string, CheckResult>>;
}

export interface WorkerServiceOptions {
  /** Overrides config.metrics.port (0 = no server). */
  metricsPort?: number;
  /** Run after everything else is closed (the entry point closes the database here). */
  onClosed?: () => Promise<void>;
  /**
   * Whether this process mirrors schedules from Postgres into Redis (at start, periodically, on
   * reconnect); default true. In a group of worker processes only one does, not N times over.
   */
  reconcileSchedules?: boolean;
  /** This process's index in a worker group (labels the per-process metrics). */
  processIndex?: number;
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
  const metrics = createWorkerMetrics({
    keyIdLabels: config.metrics.keyIdLabels,
    processIndex: options.processIndex,
  });
  // In a group of worker processes only one mirrors schedules and re-queues lost requests.
  const ownsSchedules = options.reconcileSchedules ?? true;
  const checks = {
    redis: () => handle.redis.ping(),
    postgres: () => ctx.db.execute(sql`select 1`),
  };
  metrics.observeQueue({
    schedules: () => handle.queue.getJobSchedulersCount(),
    jobCounts: () => handle.queue.getJobCounts(),
  });
  metrics.observeDetailAges((bounds) => detailAgeDistribution(ctx, bounds));
  metrics.observeHealth(() => lastHealthTotals(ctx.db));

  metrics.observeOutbox(() => outboxOldestAgeSeconds(ctx.db));

  let health: HealthServer | undefined;
  let consoleServer: ConsoleServer | undefined;
  let worker: Worker | undefined;
  let dispatcher: Dispatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let reconciling: Promise<unknown> | undefined;
  const reconcile = (why: string) => {
    reconciling ??= reconcileSchedules(ctx, handle)
      .catch((error: unknown) =>
        logger.error({ why, reason: errorMessage(asAppError(error)) }, 'reconciling schedules failed'),
      )
      // Requests Redis may have lost (restarted empty) come back from Postgres (issue 11).
      .then(() => requeuePendingSyncs(ctx, handle.queue))
      .then((requeued) => {
        if (requeued && requeued.added > 0) metrics.requestsRequeued(requeued.added);
      })
      .catch((error: unknown) =>
        logger.error(
          { why, reason: errorMessage(asAppError(error)) },
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
        metrics.runsAbandoned(abandoned.length);
        logger.warn({ runs: abandoned }, 'sync runs that stopped reporting progress were marked abandoned');
      })
      .catch((error: unknown) =>
        logger.warn({ reason: errorMessage(asAppError(error)) }, 'sweeping abandoned sync runs failed'),
      )
      .finally(() => {
        sweeping = undefined;
      });
    return sweeping;
  };
  const onReady = () => void reconcile('redis reconnected');

  const cleanup = async () => {
    clearInterval(timer);
    clearInterval(sweepTimer);
    handle.redis.off('ready', onReady);
    await reconciling;
    await dispatcher?.close().catch(() => {});
    await sweeping;
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
        routes: consoleServer
          ? [
              { prefix: '/console', handle: consoleServer.handle },
              { prefix: '/favicon.ico', handle: consoleServer.handle },
            ]
          : [],
        port,
        host: config.metrics.host,
        registry: metrics.registry,
        logger,
        token: config.metrics.token,
        checks,
        // The HTTP API under /api/v1 (API_IN_WORKER), on this process's database and queue.
        api: config.api.inWorker ? await (await import('./api.ts')).workerApi(ctx, handle) : undefined,
      });
    }
    // Start-up fails if Postgres or Redis cannot be read: a worker without its schedules is wrong.
    if (ownsSchedules) {
      const result = await reconcileSchedules(ctx, handle);
      logger.info(result, 'schedules in Redis mirror Postgres');
    } else {
      // Still proves Postgres answers before taking jobs, as the reconcile would have.
      await checks.postgres();
    }
    // Runs left `running` by a dead worker end now, and requests a lost Redis dropped come back.
    await sweep();
    if (ownsSchedules) {
      const requeued = await requeuePendingSyncs(ctx, handle.queue);
      if (requeued.added > 0) metrics.requestsRequeued(requeued.added);
    }
    // The processors run the application layer with this process's own queue connection.
    const app: AppContext = {
      ...ctx,
      queue: async () => handle,
      queueEvents: () =>
        Promise.reject(new AppError('unsupported', 'A job cannot wait for another job inside the worker.')),
    };
    worker = createWorker(app, { connection: handle.redis, prefix: handle.prefix, metrics });
    await worker.waitUntilReady();
    // Delivers the outbox (webhooks, and the events queue when EVENTS_QUEUE is on).
    dispatcher = startDispatcher({
      ctx,
      redis: handle.redis,
      prefix: handle.prefix,
      onDelivery: (outcome) => metrics.webhookDelivery(outcome),
    });
  } catch (error) {
    await worker?.close(true).catch(() => {});
    await cleanup();
    throw error;
  }
  const running = worker;

  if (ownsSchedules && config.worker.scheduleReconcileIntervalMs > 0) {
    timer = setInterval(() => void reconcile('periodic check'), config.worker.scheduleReconcileIntervalMs);
    timer.unref();
  }
  if (config.worker.runSweepIntervalMs > 0) {
    sweepTimer = setInterval(() => void sweep(), config.worker.runSweepIntervalMs);
    sweepTimer.unref();
  }
  if (ownsSchedules) handle.redis.on('ready', onReady);
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
    checks: () => runChecks(checks),
  };
}

/**
 * The entry point of `catalog-sync worker` and `npm start`: opens the database from the config,
 * runs the worker until SIGTERM/SIGINT, and closes everything. Resolves with the exit code.
 */
export async function runWorker(
  config: Config,
  logger: Logger,
  options: Pick<WorkerServiceOptions, 'metricsPort' | 'reconcileSchedules' | 'processIndex'> & {
    /** Called once the worker takes jobs (a group's child tells its supervisor here). */
    onStarted?: (service: WorkerService) => void;
  } = {},
): Promise<number> {
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
      max: workerPoolSize(config),
      // The worker's own shutdown closes it, after active syncs finish.
      exitOnSignal: false,
    });
    try {
      service = await startWorkerService(
        { db: database.db, config, logger },
        {
          onClosed: () => database.close(),
          metricsPort: options.metricsPort,
          reconcileSchedules: options.reconcileSchedules,
          processIndex: options.processIndex,
        },
      );
    } catch (error) {
      await database.close();
      throw error;
    }
    logger.info({ database: database.location }, 'worker ready');
    options.onStarted?.(service);
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
