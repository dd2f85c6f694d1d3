import { Queue, QueueEvents } from 'bullmq';
import type { Config } from '../config/env.ts';
import {
  defaultJobOptions,
  type JobName,
  QUEUE_NAME,
  type SyncCatalogPayload,
  type VerifyCredentialsPayload,
} from './contract.ts';
import { closeRedis, connectRedis, createRedis, type RedisConnection, type RedisRole } from './redis.ts';

export type JobPayload = SyncCatalogPayload | VerifyCredentialsPayload;
export type CatalogQueue = Queue<JobPayload, unknown, JobName>;

export interface QueueHandle {
  queue: CatalogQueue;
  /** The connection the queue uses; also for locks and health checks. */
  redis: RedisConnection;
  /** The BullMQ prefix (REDIS_PREFIX). */
  prefix: string;
  close(): Promise<void>;
}

/** Opens the `catalog-sync` queue on a connection of its own, failing fast when Redis is down. */
export async function openQueue(
  config: Pick<Config, 'redis' | 'worker'>,
  role: RedisRole = 'client',
): Promise<QueueHandle> {
  const redis = createRedis(config.redis, role);
  try {
    await connectRedis(redis, config.redis.url);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const queue: CatalogQueue = new Queue<JobPayload, unknown, JobName>(QUEUE_NAME, {
    connection: redis,
    prefix: config.redis.prefix,
    defaultJobOptions: defaultJobOptions(config.worker.syncAttempts),
  });
  queue.on('error', () => {});
  return {
    queue,
    redis,
    prefix: config.redis.prefix,
    close: async () => {
      await queue.close().catch(() => {});
      await closeRedis(redis);
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

/** A key of our own next to BullMQ's, under the same prefix (and hash tag on Redis Cluster). */
export function queueKey(prefix: string, suffix: string): string {
  return `${prefix}:${QUEUE_NAME}:${suffix}`;
}
