import { Redis, type RedisOptions } from 'ioredis';
import { redactUrl } from '../../db/client.ts';
import { AppError } from '../errors.ts';

export type RedisRole = 'worker' | 'client';

/**
 * One ioredis connection. A worker's retries forever (BullMQ needs `maxRetriesPerRequest: null`
 * for its blocking commands, and a worker should ride out a Redis restart); a CLI or API client
 * gives up after a few seconds so a missing Redis is reported instead of hanging.
 */
export function createRedis(url: string, role: RedisRole, name = `catalog-sync-${role}`): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, connectionName: name }
      : {
          maxRetriesPerRequest: 1,
          connectTimeout: 5_000,
          connectionName: name,
          retryStrategy: (times) => (times > 3 ? null : Math.min(times * 200, 1_000)),
        };
  const redis = new Redis(url, { ...options, lazyConnect: true });
  // Errors surface through the commands that fail; an unhandled 'error' event would crash the process.
  redis.on('error', () => {});
  return redis;
}

export class RedisUnavailableError extends AppError {
  override name = 'RedisUnavailableError';
  constructor(url: string, cause?: unknown) {
    super(
      'redis_unavailable',
      `Redis at ${redactUrl(url)} does not answer. Start one (for example \`docker run -d -p 6379:6379 redis:7 ` +
        '--maxmemory-policy noeviction`) or set REDIS_URL to a reachable server.',
      { retryable: true, cause },
    );
  }
}

/** Connects and PINGs within `timeoutMs`, or throws a RedisUnavailableError that says what to do. */
export async function connectRedis(redis: Redis, url: string, timeoutMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        if (redis.status === 'wait') await redis.connect();
        await redis.ping();
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      }),
    ]);
  } catch (error) {
    throw new RedisUnavailableError(url, error);
  } finally {
    clearTimeout(timer);
  }
}

/** Closes a connection politely, or drops it when Redis is gone. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}
