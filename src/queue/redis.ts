import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { RedisUnavailableError } from './errors.ts';

export type RedisRole = 'worker' | 'client';

/** One Redis server or a Redis Cluster: BullMQ and our own commands take either. */
export type RedisConnection = Redis | Cluster;

/** Where Redis is: a URL, and for Redis Cluster the seed nodes (config.redis). */
export interface RedisTarget {
  url: string;
  clusterNodes?: readonly string[] | undefined;
}

/**
 * One ioredis connection. A worker's retries forever (BullMQ needs `maxRetriesPerRequest: null`
 * for its blocking commands, and a worker should ride out a Redis restart); a CLI or API client
 * gives up after a few seconds so a missing Redis is reported instead of hanging.
 *
 * With `clusterNodes` it is an ioredis Cluster seeded from them: it learns the slot map, follows
 * MOVED/ASK, and re-reads the map when a master fails over. The URL's user, password and TLS
 * apply to every node.
 */
export function createRedis(
  target: string | RedisTarget,
  role: RedisRole,
  name = `catalog-sync-${role}`,
): RedisConnection {
  const { url, clusterNodes } =
    typeof target === 'string' ? { url: target, clusterNodes: undefined } : target;
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, connectionName: name }
      : {
          maxRetriesPerRequest: 1,
          connectTimeout: 5_000,
          connectionName: name,
          retryStrategy: (times) => (times > 3 ? null : Math.min(times * 200, 1_000)),
        };
  let redis: RedisConnection;
  if (clusterNodes?.length) {
    const parsed = new URL(url);
    const clusterOptions: ClusterOptions = {
      lazyConnect: true,
      redisOptions: {
        maxRetriesPerRequest: options.maxRetriesPerRequest,
        connectTimeout: options.connectTimeout,
        connectionName: name,
        username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
        password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
        tls: parsed.protocol === 'rediss:' ? {} : undefined,
      },
      // A failed-over master is unreachable for a few seconds: keep retrying (the worker), or give
      // up after a few tries (a client), as for a single server.
      clusterRetryStrategy:
        role === 'worker'
          ? (times) => Math.min(100 + times * 200, 2_000)
          : (times) => (times > 3 ? null : 300),
      maxRedirections: 32,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 300,
      retryDelayOnTryAgain: 200,
      slotsRefreshTimeout: 2_000,
    };
    redis = new Cluster(
      clusterNodes.map((node) => {
        const at = node.lastIndexOf(':');
        return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
      }),
      clusterOptions,
    );
  } else {
    redis = new Redis(url, { ...options, lazyConnect: true });
  }
  // Errors surface through the commands that fail; an unhandled 'error' event would crash the process.
  redis.on('error', () => {});
  return redis;
}

/** Connects and PINGs within `timeoutMs`, or throws a RedisUnavailableError that says what to do. */
export async function connectRedis(redis: RedisConnection, url: string, timeoutMs = 5_000): Promise<void> {
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
export async function closeRedis(redis: RedisConnection): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}
