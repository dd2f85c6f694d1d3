import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../src/config/env.ts';
import type { Logger } from '../src/log/logger.ts';
import { availableCores } from './cores.ts';
import { type CheckResult, type HealthServer, startHealthServer, withoutErrorText } from './health.ts';
import { runWorker, type WorkerService } from './main.ts';

/*
 * `catalog-sync worker --processes N`: one supervisor and N worker processes (node:cluster), so a
 * host's every core runs syncs. The supervisor holds no database or Redis connection: it forks the
 * children, restarts a crashed one with backoff, forwards SIGTERM/SIGINT so each drains as a single
 * worker does, and serves /healthz, /readyz and /metrics for the whole group (children answer over
 * IPC; their metrics are summed by prom-client's AggregatorRegistry). Only child 0 mirrors the
 * schedules into Redis. `--processes 1` is today's single process, with no supervisor.
 */

const INDEX_ENV = 'CATALOG_SYNC_WORKER_INDEX';
const IPC_TIMEOUT_MS = 3_000;
/** First restart delay; doubles per crash in a row, up to the cap. */
const RESTART_BASE_MS = 500;
const RESTART_CAP_MS = 30_000;
/** How long after SHUTDOWN_TIMEOUT_MS a child that has not ended is killed. */
const CHILD_KILL_MARGIN_MS = 1_000;
/** How often a child checks that its supervisor is still its parent. */
const PARENT_CHECK_MS = 1_000;
/** How long a child whose supervisor is gone may take to stop. */
const ORPHAN_EXIT_MS = 3_000;
/** A child that ran this long before crashing starts its backoff from the beginning again. */
const HEALTHY_RUN_MS = 60_000;

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
type Request = { type: 'catalog-sync:metrics' | 'catalog-sync:checks'; id: number };
type Reply =
  | { type: 'catalog-sync:started' }
  | { type: 'catalog-sync:metrics'; id: number; metrics: MetricsJson }
  | { type: 'catalog-sync:checks'; id: number; checks: Record<string, CheckResult> };

function isReply(message: unknown): message is Reply {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { type?: unknown }).type === 'string' &&
    (message as { type: string }).type.startsWith('catalog-sync:')
  );
}

export interface WorkerGroupOptions {
  /** `--processes`; default WORKER_PROCESSES, else the cores available (cgroup quota aware). */
  processes?: number | undefined;
}

/** How many processes `worker` runs for these options and config. */
export function resolveProcesses(config: Config, options: WorkerGroupOptions = {}): number {
  return options.processes ?? config.worker.processes ?? availableCores();
}

/**
 * The entry point of `catalog-sync worker`: in a group's child, runs one worker; otherwise runs one
 * worker (`--processes 1`) or a supervisor over N. Resolves with the exit code.
 */
export async function runWorkerGroup(
  config: Config,
  logger: Logger,
  options: WorkerGroupOptions = {},
): Promise<number> {
  if (cluster.isWorker) return runWorkerChild(config, logger);
  const processes = resolveProcesses(config, options);
  if (processes <= 1) return runWorker(config, logger);
  return supervise(config, logger, processes);
}

/** One child of a group: a worker without its own health server, answering its supervisor over IPC. */
export async function runWorkerChild(config: Config, parentLogger: Logger): Promise<number> {
  const index = Number(process.env[INDEX_ENV] ?? '0');
  const logger = parentLogger.child({ workerProcess: index });
  let service: WorkerService | undefined;
  const onMessage = (message: unknown) => {
    const { type, id } = (message ?? {}) as Partial<Request>;
    if (!service || typeof id !== 'number') return;
    const running = service;
    if (type === 'catalog-sync:metrics') {
      void running.metrics.registry
        .getMetricsAsJSON()
        .then((metrics) => process.send?.({ type, id, metrics } satisfies Reply))
        .catch((error: unknown) => logger.warn({ err: error }, 'metrics collection failed'));
    } else if (type === 'catalog-sync:checks') {
      void running.checks().then((checks) => process.send?.({ type, id, checks } satisfies Reply));
    }
  };
  // The supervisor is gone (killed without passing on a signal), whatever this child is doing
  // (starting, running, draining): it stops within a few seconds rather than run orphaned. The IPC
  // channel's end says so at once; a changed parent pid catches what that might miss.
  const parent = process.ppid;
  let orphaned = false;
  const onOrphaned = (why: string) => {
    if (orphaned) return;
    orphaned = true;
    logger.warn({ why }, 'supervisor gone: stopping');
    setTimeout(() => process.exit(1), ORPHAN_EXIT_MS).unref();
    void service?.close('supervisor gone');
  };
  const onDisconnect = () => onOrphaned('IPC channel closed');
  const parentCheck = setInterval(() => {
    if (process.ppid !== parent) onOrphaned('parent process changed');
  }, PARENT_CHECK_MS);
  parentCheck.unref();
  process.on('message', onMessage);
  process.on('disconnect', onDisconnect);
  try {
    return await runWorker(config, logger, {
      metricsPort: 0,
      reconcileSchedules: index === 0,
      processIndex: index,
      onStarted: (started) => {
        service = started;
        process.send?.({ type: 'catalog-sync:started' } satisfies Reply);
      },
    });
  } finally {
    clearInterval(parentCheck);
    process.off('message', onMessage);
    process.off('disconnect', onDisconnect);
  }
}

interface Slot {
  index: number;
  child?: ClusterWorker | undefined;
  started: boolean;
  startedAt: number;
  crashes: number;
  restartTimer?: NodeJS.Timeout | undefined;
}

async function supervise(config: Config, logger: Logger, processes: number): Promise<number> {
  const slots: Slot[] = Array.from({ length: processes }, (_, index) => ({
    index,
    started: false,
    startedAt: 0,
    crashes: 0,
  }));
  const own = new Registry();
  new Gauge({
    name: 'catalog_sync_worker_processes',
    help: 'Worker processes of this group that are running and taking jobs',
    registers: [own],
    collect() {
      this.set(slots.filter((slot) => slot.started).length);
    },
  });
  const restarts = new Counter({
    name: 'catalog_sync_worker_process_restarts_total',
    help: 'Worker processes the supervisor restarted after they exited unexpectedly',
    registers: [own],
  });

  let nextId = 0;
  const pending = new Map<number, (reply: Reply) => void>();
  /** Asks every running child; children that do not answer in time are left out. */
  const ask = async <T extends Reply>(type: Request['type']): Promise<Array<{ slot: Slot; reply?: T }>> =>
    Promise.all(
      slots.map(async (slot) => {
        const child = slot.child;
        if (!child || !slot.started || !child.isConnected()) return { slot };
        const id = nextId++;
        const reply = await Promise.race([
          new Promise<T>((resolve) => {
            pending.set(id, resolve as (reply: Reply) => void);
            child.send({ type, id } satisfies Request);
          }),
          sleep(IPC_TIMEOUT_MS, undefined, { ref: false }),
        ]);
        pending.delete(id);
        return { slot, reply };
      }),
    );

  let stopping: string | undefined;
  let resolveAllExited: () => void = () => {};
  const allExited = new Promise<void>((resolve) => {
    resolveAllExited = resolve;
  });
  let failedCode = 0;
  let startupFailure: ((reason: string) => void) | undefined;
  const live = () => slots.filter((slot) => slot.child);

  const fork = (slot: Slot) => {
    slot.restartTimer = undefined;
    slot.started = false;
    slot.startedAt = Date.now();
    const child = cluster.fork({ [INDEX_ENV]: String(slot.index) });
    slot.child = child;
    child.on('message', (message: unknown) => {
      if (!isReply(message)) return;
      if (message.type === 'catalog-sync:started') {
        slot.started = true;
        logger.info({ workerProcess: slot.index, pid: child.process.pid }, 'worker process started');
        return;
      }
      pending.get(message.id)?.(message);
    });
    child.on('exit', (code, signal) => {
      slot.child = undefined;
      const wasStarted = slot.started;
      slot.started = false;
      if (stopping) {
        if (code !== 0 && signal !== 'SIGTERM') failedCode = 1;
        logger.info({ workerProcess: slot.index, code, signal }, 'worker process stopped');
        if (live().length === 0) resolveAllExited();
        return;
      }
      if (!wasStarted && startupFailure) {
        startupFailure(
          `worker process ${slot.index} exited during start-up (code ${code}, signal ${signal})`,
        );
        return;
      }
      if (Date.now() - slot.startedAt > HEALTHY_RUN_MS) slot.crashes = 0;
      const delayMs = Math.min(RESTART_BASE_MS * 2 ** slot.crashes, RESTART_CAP_MS);
      slot.crashes += 1;
      restarts.inc();
      logger.error(
        { workerProcess: slot.index, code, signal, restartInMs: delayMs },
        'worker process exited unexpectedly; restarting it',
      );
      slot.restartTimer = setTimeout(() => {
        if (!stopping) fork(slot);
      }, delayMs);
    });
  };

  const stop = (reason: string) => {
    if (stopping) {
      logger.warn({ reason }, 'already shutting down');
      return;
    }
    stopping = reason;
    logger.info(
      { reason, processes },
      'shutting down the worker group: every process drains its active jobs',
    );
    for (const slot of slots) clearTimeout(slot.restartTimer);
    // Each child drains as a single worker does (its own SHUTDOWN_TIMEOUT_MS); a SIGINT from a
    // terminal reaches the children too, and a second signal is harmless to them.
    for (const slot of live()) slot.child?.process.kill('SIGTERM');
    if (live().length === 0) resolveAllExited();
    // Each child ends itself within SHUTDOWN_TIMEOUT_MS; one that has not (stuck in native code)
    // is killed just after, its jobs left to stalled-job recovery.
    setTimeout(() => {
      for (const slot of live()) {
        logger.warn({ workerProcess: slot.index }, 'worker process did not stop in time; killing it');
        slot.child?.process.kill('SIGKILL');
      }
    }, config.worker.shutdownTimeoutMs + CHILD_KILL_MARGIN_MS).unref();
  };
  const onSignal = (signal: NodeJS.Signals) => stop(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // Children start from a lean entry of their own rather than re-running the whole CLI. Its file
  // name follows this module's (.ts in a checkout, .js when compiled). They inherit this process's
  // node flags: the worker's heap settings, which bin/catalog-sync.js starts `worker` with.
  cluster.setupPrimary({
    execArgv: process.execArgv,
    exec: fileURLToPath(
      new URL(`./worker-process${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
    ),
    args: [],
  });

  let health: HealthServer | undefined;
  let api: { router: import('express').Router; close(): Promise<void> } | undefined;
  try {
    if (config.metrics.port > 0) {
      // The HTTP API under /api/v1 (API_IN_WORKER): the supervisor holds no database, so it opens one
      // (Postgres only: the embedded database allows one opener, and the children are openers).
      if (config.api.inWorker && config.databaseUrl) {
        api = await (await import('./api.ts')).supervisorApi(config, logger);
      }
      health = await startHealthServer({
        api: api?.router,
        port: config.metrics.port,
        host: config.metrics.host,
        logger,
        metrics: async () => {
          const replies = await ask<Extract<Reply, { type: 'catalog-sync:metrics' }>>('catalog-sync:metrics');
          const all = replies.flatMap(({ reply }) => (reply ? [reply.metrics] : []));
          const aggregated = AggregatorRegistry.aggregate([...all, await own.getMetricsAsJSON()]);
          return { contentType: aggregated.contentType, text: await aggregated.metrics() };
        },
        readiness: async () => {
          const replies = await ask<Extract<Reply, { type: 'catalog-sync:checks' }>>('catalog-sync:checks');
          const members = replies.map(({ slot, reply }) => ({
            index: slot.index,
            pid: slot.child?.process.pid ?? null,
            started: slot.started,
            checks: reply?.checks ? withoutErrorText(reply.checks) : null,
          }));
          const ready =
            !stopping &&
            members.every((m) => m.started && m.checks && Object.values(m.checks).every((c) => c.ok));
          return { ready, processes: members };
        },
      });
    }

    // Start-up: every child must come up once; one that fails then fails the group (exit 1), as a
    // single worker that cannot reach Postgres or Redis does.
    const startup = new Promise<void>((resolve, reject) => {
      startupFailure = (reason) => reject(new Error(reason));
      const check = setInterval(() => {
        if (slots.every((slot) => slot.started) || stopping) {
          clearInterval(check);
          resolve();
        }
      }, 50);
    });
    for (const slot of slots) fork(slot);
    try {
      await startup;
    } catch (error) {
      logger.error({ err: error }, 'the worker group could not start');
      failedCode = 1;
      if (!stopping) stop('start-up failed');
      await allExited;
      return 1;
    } finally {
      startupFailure = undefined;
    }
    if (!stopping) {
      logger.info(
        { processes, pids: slots.map((s) => s.child?.process.pid), healthPort: health?.port ?? null },
        'worker group started',
      );
    }
    await allExited;
    logger.info({ code: failedCode }, 'worker group stopped');
    return failedCode;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await health?.close();
    await api?.close();
  }
}
