import { redactUrl } from '../../db/url.ts';
import { AppError } from '../errors.ts';

/*
 * The queue's errors, apart from the Redis client (redis.ts), so that the public API can export
 * them without loading ioredis on import.
 */

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
