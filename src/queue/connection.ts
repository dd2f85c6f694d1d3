import type { Config } from '../config/env.ts';
import { QUEUE_NAME } from './contract.ts';
import { closeRedis, connectRedis, createRedis, type RedisConnection, type RedisRole } from './redis.ts';

/*
 * The queue's Redis connection and key prefix, without BullMQ. BullMQ's Queue is built on it
 * (queue.ts) by whatever queues work; what only reads BullMQ's keys (the next runs of schedules,
 * next-runs.ts) needs nothing more, so a read command does not load BullMQ (about 150 modules).
 */

/** Where the queue's keys are. */
export interface QueueRedis {
  /** The connection the queue uses; also for locks and health checks. */
  redis: RedisConnection;
  /** The BullMQ prefix (REDIS_PREFIX). */
  prefix: string;
}

export interface QueueConnection extends QueueRedis {
  close(): Promise<void>;
}

/** Connects to the queue's Redis, failing fast (RedisUnavailableError) when it does not answer. */
export async function openQueueConnection(
  config: Pick<Config, 'redis'>,
  role: RedisRole = 'client',
): Promise<QueueConnection> {
  const redis = createRedis(config.redis, role);
  try {
    await connectRedis(redis, config.redis.url);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return { redis, prefix: config.redis.prefix, close: () => closeRedis(redis) };
}

/** A key next to BullMQ's, under the same prefix (and hash tag on Redis Cluster). */
export function queueKey(prefix: string, suffix: string): string {
  return `${prefix}:${QUEUE_NAME}:${suffix}`;
}
