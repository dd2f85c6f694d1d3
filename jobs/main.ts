import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { type Database, openDatabase } from '../db/client.ts';
import {
  type AppContext,
  type Background,
  closeSharedAgents,
  type DataContext,
  jobContext,
  startBackground,
  workerGaugeSources,
} from '../src/app/index.ts';
import type { Config } from '../src/config/env.ts';
import type { ConsoleServer } from '../src/console/index.ts';
import { AppError } from '../src/errors.ts';
import type { Logger } from '../src/log/logger.ts';
import { type CatalogQueue, openQueue, type QueueHandle } from '../src/queue/queue.ts';
import { type CheckResult, type HealthServer, runChecks, startHealthServer } from './health.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { workerPoolSize } from './pool.ts';
import { type SlotWatch, watchSlots } from './slots.ts';
import { type CatalogWorker, createWorker } from './worker.ts';

/** A worker that stopped because it could not mend itself (EX_SOFTWARE): restart it. */
export const EXIT_UNRECOVERABLE = 70;

export interface WorkerService {
  worker: CatalogWorker;
  queue: CatalogQueue;
  metrics: WorkerMetrics;
  /** The health server's port, or null when METRICS_PORT is 0. */
  healthPort: number | null;
  /** Stops taking jobs, lets active ones finish (up to config.worker.shutdownTimeoutMs), closes everything it opened. */
  close(reason?: string): Promise<void>;
  /** Resolves once closed. */
  closed: Promise<void>;
  /** Runs the readiness checks (Redis, Postgres, the worker's own slots), as /readyz does. */
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
  /**
   * Called when the worker finds it cannot take jobs any more and cannot mend itself; /readyz
   * says so from then on. The entry point stops the process so that its supervisor (or the
   * process manager) starts a fresh one.
   */
  onUnrecoverable?: (reason: string) => void;
}

/** Of SHUTDOWN_TIMEOUT_MS, what is kept for closing connections after the jobs' drain. */
export function drainBudgetMs(shutdownTimeoutMs: number): number {
  return Math.max(0, shutdownTimeoutMs - Math.min(3_000, Math.floor(shutdownTimeoutMs / 3)));
}

/**
 * Starts the worker side on an open database: the background work (schedules mirrored from
 * Postgres, abandoned runs swept, lost requests re-queued, the outbox delivered: src/app), the
 * BullMQ worker over the job table, the watch over its slots, and the health server.
 */
export async function startWorkerService(
  ctx: DataContext,
  options: WorkerServiceOptions = {},
): Promise<WorkerService> {
  const { config, logger } = ctx;
  const handle: QueueHandle = await openQueue(config, 'worker');
  const metrics = createWorkerMetrics({
    keyIdLabels: config.metrics.keyIdLabels,
    processIndex: options.processIndex,
  });
  // The processors run the application layer with this process's own queue connection.
  const app: AppContext = {
    ...ctx,
    queue: async () => handle,
    queueEvents: () =>
      Promise.reject(new AppError('unsupported', 'A job cannot wait for another job inside the worker.')),
  };
  let slotWatch: SlotWatch | undefined;
  let stopping = false;
  const checks = {
    redis: () => handle.redis.ping(),
    postgres: () => ctx.db.execute(sql`select 1`),
    // Whether this process takes jobs: not before its worker has started, not while it drains,
    // and not once its slots are lost (jobs/slots.ts).
    worker: async () => {
      if (stopping) throw new Error('the worker is shutting down: it takes no new jobs');
      if (!slotWatch) throw new Error('the worker is starting: it takes no jobs yet');
      slotWatch.assertHealthy();
    },
  };
  metrics.observeQueue({
    schedules: () => handle.queue.getJobSchedulersCount(),
    jobCounts: () => handle.queue.getJobCounts(),
  });
  const gauges = workerGaugeSources(app);
  metrics.observeDetailAges(gauges.detailAges);
  metrics.observeHealth(gauges.healthTotals);
  metrics.observeOutbox(gauges.outboxOldestAgeSeconds);

  let health: HealthServer | undefined;
  let consoleServer: ConsoleServer | undefined;
  let worker: CatalogWorker | undefined;
  let background: Background | undefined;

  const cleanup = async () => {
    slotWatch?.stop();
    await background?.stop();
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
    background = await startBackground(app, {
      handle,
      ownsSchedules: options.reconcileSchedules ?? true,
      observer: metrics,
    });
    const jobs = jobContext(app, { connection: handle.redis, prefix: handle.prefix, observer: metrics });
    worker = createWorker(jobs, { connection: handle.redis, prefix: handle.prefix });
    await worker.waitUntilReady();
    slotWatch = watchSlots({
      worker,
      queue: handle.queue,
      redis: handle.redis,
      logger,
      graceMs: config.worker.lockDurationMs,
      onLetGo: (count) => metrics.jobsLetGo(count),
      onUnrecoverable: (reason) => options.onUnrecoverable?.(reason),
    });
  } catch (error) {
    await worker?.close(true).catch(() => {});
    await cleanup();
    throw error;
  }
  const running = worker;
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
    stopping = true;
    closing ??= (async () => {
      const timeoutMs = config.worker.shutdownTimeoutMs;
      const drainMs = drainBudgetMs(timeoutMs);
      logger.info({ reason, timeoutMs }, 'shutting down: taking no new jobs, letting active ones finish');
      const finished = await Promise.race([
        running.close().then(() => true),
        sleep(drainMs, false, { ref: false }),
      ]);
      if (!finished) {
        // Their locks lapse and another worker's stalled-job check picks them up again; a job
        // whose record Redis lost is served again from its request in Postgres.
        logger.warn(
          { drainMs, jobs: [...running.slots.keys()] },
          'active jobs did not finish in time; leaving them to stalled-job recovery',
        );
        running.cancelAllJobs('worker shutting down');
        for (const jobId of [...running.slots.keys()]) running.letGo(jobId);
      }
      // Closing connections to a Redis or Postgres that is gone must not hold the process.
      const closedInTime = await Promise.race([
        (async () => {
          await cleanup();
          await options.onClosed?.();
          return true;
        })(),
        sleep(Math.max(500, timeoutMs - drainMs), false, { ref: false }),
      ]);
      if (!closedInTime) logger.warn('connections did not close in time; leaving them');
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
  let exitCode = 0;
  let hardExit: NodeJS.Timeout | undefined;
  const stop = (why: string) => {
    if (stopRequested) {
      logger.warn({ why }, 'already shutting down');
      return;
    }
    stopRequested = why;
    // However the drain goes (a job that cannot finish, a Redis or Postgres that does not answer
    // a close), the process ends within SHUTDOWN_TIMEOUT_MS.
    hardExit = setTimeout(() => {
      logger.error(
        { timeoutMs: config.worker.shutdownTimeoutMs },
        'shutdown took longer than SHUTDOWN_TIMEOUT_MS: exiting now',
      );
      process.exit(exitCode);
    }, config.worker.shutdownTimeoutMs);
    hardExit.unref();
    if (service) void service.close(why);
    else logger.info({ why }, 'stop requested during start-up; stopping once started');
  };
  const onSignal = (signal: NodeJS.Signals) => stop(signal);
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
          onUnrecoverable: (reason) => {
            logger.error(
              { reason },
              'the worker cannot take jobs any more: stopping so that it is started afresh',
            );
            exitCode = EXIT_UNRECOVERABLE;
            stop('unrecoverable');
          },
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
    return exitCode;
  } finally {
    // The drain finished in time: the process (a test runner, say) may live on.
    clearTimeout(hardExit);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // The process is done with Apple: close the keep-alive sockets all syncs shared.
    closeSharedAgents();
  }
}
