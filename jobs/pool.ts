import type { Config } from '../src/config/env.ts';

/**
 * Postgres connections of one worker process: DATABASE_POOL_MAX, else one per job in flight up to
 * 16, plus reconcile and health checks and the events dispatcher. A sync holds a connection only
 * while its statements run (a few milliseconds of a sync that otherwise waits on Apple), so 16
 * serve many more jobs at once; a connection per job, multiplied by processes and hosts, ran into
 * Postgres's max_connections (100 by default): two processes at concurrency 50 were refused
 * connections ("too many clients") and their jobs failed and waited for a retry.
 */
export function workerPoolSize(config: Config): number {
  return (
    config.databasePoolMax ?? Math.min(config.worker.concurrency, 16) + 4 + config.events.dispatchConcurrency
  );
}
