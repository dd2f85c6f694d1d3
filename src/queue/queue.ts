import { Queue, QueueEvents } from 'bullmq';
import type { Config } from '../config/env.ts';
import { openQueueConnection, type QueueConnection } from './connection.ts';
import {
  defaultJobOptions,
  type JobName,
  QUEUE_NAME,
  type SyncCatalogPayload,
  type VerifyCredentialsPayload,
} from './contract.ts';
import { closeRedis, createRedis, type RedisRole } from './redis.ts';

export type JobPayload = SyncCatalogPayload | VerifyCredentialsPayload;
export type CatalogQueue = Queue<JobPayload, unknown, JobName>;

export interface QueueHandle extends QueueConnection {
  queue: CatalogQueue;
}

/** Opens the `catalog-sync` queue on a connection of its own, failing fast when Redis is down. */
export async function openQueue(
  config: Pick<Config, 'redis' | 'worker'>,
  role: RedisRole = 'client',
): Promise<QueueHandle> {
  return queueOn(await openQueueConnection(config, role), config);
}

/** The `catalog-sync` queue on an open connection; closing the handle closes both. */
export function queueOn(connection: QueueConnection, config: Pick<Config, 'worker'>): QueueHandle {
  const queue: CatalogQueue = new Queue<JobPayload, unknown, JobName>(QUEUE_NAME, {
    connection: connection.redis,
    prefix: connection.prefix,
    defaultJobOptions: defaultJobOptions(config.worker.syncAttempts),
  });
  queue.on('error', () => {});
  return {
    queue,
    redis: connection.redis,
    prefix: connection.prefix,
    close: async () => {
      await queue.close().catch(() => {});
      await connection.close();
    },
  };
}

/** Queue events (a blocking connection of their own), for waiting on a job's result. */
export function openQueueEvents(config: Pick<Config, 'redis'>): QueueEvents {
  if (!config.redis.clusterNodes?.length) {
    const events = new QueueEvents(QUEUE_NAME, {
      connection: { url: config.redis.url, maxRetriesPerRequest: null },
      prefix: config.redis.prefix,
    });
    events.on('error', () => {});
    return events;
  }
  // A cluster is given as a connection (BullMQ duplicates it for its blocking reads); ours to close.
  const connection = createRedis(config.redis, 'worker', 'catalog-sync-events');
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix: config.redis.prefix });
  events.on('error', () => {});
  const close = events.close.bind(events);
  events.close = async () => {
    await close();
    await closeRedis(connection);
  };
  return events;
}
