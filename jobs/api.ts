import type { Router } from 'express';
import type { AppContext, DataContext } from '../src/app/context.ts';
import type { Config } from '../src/config/env.ts';
import { AppError } from '../src/errors.ts';
import type { Logger } from '../src/log/logger.ts';
import type { QueueHandle } from '../src/queue/queue.ts';

/*
 * The HTTP API as the worker serves it beside /metrics (API_IN_WORKER). A single worker lends it
 * its database and queue; a group's supervisor, which holds neither, opens its own.
 */

const noWaiting = () =>
  Promise.reject(
    new AppError('unsupported', 'The worker’s API does not wait for jobs; poll the status route.'),
  );

/** The API over a worker's own database and queue. */
export async function workerApi(ctx: DataContext, handle: QueueHandle): Promise<Router> {
  const { apiRouter } = await import('../src/http/api/index.ts');
  const app: AppContext = { ...ctx, queue: async () => handle, queueEvents: noWaiting };
  return apiRouter({ ctx: app });
}

/** The API for a group's supervisor: its own database and (lazily) queue, closed by `close()`. */
export async function supervisorApi(
  config: Config,
  logger: Logger,
): Promise<{ router: Router; close(): Promise<void> }> {
  const { openDatabase } = await import('../db/client.ts');
  const { lazyQueue } = await import('../src/app/context.ts');
  const { apiRouter } = await import('../src/http/api/index.ts');
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const queue = lazyQueue(config);
  const ctx: AppContext = {
    db: database.db,
    config,
    logger: logger.child({ component: 'api' }),
    queue: queue.queue,
    queueEvents: noWaiting,
    redis: queue.redis,
  };
  return {
    router: apiRouter({ ctx }),
    close: async () => {
      await queue.close();
      await database.close();
    },
  };
}
