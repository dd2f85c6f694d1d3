import type { Logger } from '../src/log/logger.ts';
import type { CatalogQueue } from '../src/queue/queue.ts';
import type { RedisConnection } from '../src/queue/redis.ts';
import type { CatalogWorker } from './worker.ts';

/*
 * The watch over a worker's slots. Two things go wrong when Redis dies (or comes back empty) while
 * jobs run, and neither shows in BullMQ's own state:
 * - a job's processor returned, but its outcome cannot be recorded: the job is let go after
 *   `graceMs` (its slot freed, its lock no longer renewed; a sync's request is still pending in
 *   Postgres and is queued again);
 * - the worker stops taking jobs although it has free slots and jobs wait: it is wedged. Nothing
 *   inside the process mends that, so it says so (readiness fails) and asks to be restarted.
 */

export interface SlotState {
  /** Jobs waiting in the queue (not delayed, not paused). */
  waiting: number;
  /** This worker's slots in use, and how many it has. */
  busy: number;
  concurrency: number;
}

/** Whether a worker in this state should be taking a job now (pure). */
export function hasIdleSlotWithWork(state: SlotState): boolean {
  return state.waiting > 0 && state.busy < state.concurrency;
}

export interface SlotWatch {
  /** Throws (readiness fails) once the worker is wedged. */
  assertHealthy(): void;
  stop(): void;
}

export interface SlotWatchOptions {
  worker: CatalogWorker;
  queue: CatalogQueue;
  redis: RedisConnection;
  logger: Logger;
  /** How long a job's outcome may take to be recorded after its processor returned. */
  graceMs: number;
  /** How long free slots may sit beside waiting jobs before the worker counts as wedged. */
  wedgedAfterMs?: number;
  intervalMs?: number;
  onLetGo?: (count: number) => void;
  onUnrecoverable: (reason: string) => void;
}

export function watchSlots(options: SlotWatchOptions): SlotWatch {
  const { worker, queue, redis, logger } = options;
  const wedgedAfterMs = options.wedgedAfterMs ?? Math.max(30_000, options.graceMs * 2);
  const intervalMs = options.intervalMs ?? Math.min(5_000, Math.max(500, Math.floor(options.graceMs / 3)));
  let idleWithWorkSince: number | null = null;
  let wedged: string | undefined;
  let checking = false;
  let lastSampleAt: number | null = null;

  const check = async () => {
    const unrecorded = worker.unrecorded(options.graceMs);
    for (const jobId of unrecorded) {
      if (!worker.letGo(jobId)) continue;
      logger.warn(
        { jobId, graceMs: options.graceMs },
        'job let go: its outcome could not be recorded in Redis; a sync request stays pending in Postgres and is served again',
      );
    }
    if (unrecorded.length > 0) options.onLetGo?.(unrecorded.length);
    // Only a Redis that answers can tell whether jobs wait; while it is away nothing is wedged.
    if (redis.status !== 'ready' || wedged || checking) {
      if (redis.status !== 'ready') {
        idleWithWorkSince = null;
        lastSampleAt = null;
      }
      return;
    }
    checking = true;
    try {
      const [waiting, paused] = await Promise.all([queue.getWaitingCount(), queue.isPaused()]);
      // A verdict needs samples that kept coming: after a gap (a Redis that froze or crawled,
      // answering late) the watch starts again rather than join two moments as one stretch.
      const sampledAt = Date.now();
      if (lastSampleAt !== null && sampledAt - lastSampleAt > 2 * intervalMs) idleWithWorkSince = null;
      lastSampleAt = sampledAt;
      const state = {
        waiting: paused ? 0 : waiting,
        busy: worker.busySlots,
        concurrency: worker.concurrency,
      };
      const closing = Boolean((worker as unknown as { closing?: unknown }).closing);
      if (closing || worker.isPaused() || !worker.isRunning() || !hasIdleSlotWithWork(state)) {
        idleWithWorkSince = null;
        return;
      }
      idleWithWorkSince ??= Date.now();
      if (Date.now() - idleWithWorkSince < wedgedAfterMs) return;
      wedged = `jobs have waited ${Math.round((Date.now() - idleWithWorkSince) / 1000)} s while ${state.concurrency - state.busy} of ${state.concurrency} slots stayed free`;
      logger.error({ ...state }, `worker wedged: ${wedged}`);
      options.onUnrecoverable(wedged);
    } catch {
      // Redis went away mid-check: the next round sees it.
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return {
    assertHealthy() {
      if (wedged) throw new Error(`the worker takes no jobs: ${wedged}`);
    },
    stop: () => clearInterval(timer),
  };
}
