import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../errors.ts';
import type { RedisConnection } from './redis.ts';

// Deletes the key only if this holder still owns it (a lock that expired may belong to another).
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface LockOptions {
  /** How long the lock lives without renewal (a crashed holder frees it after this). */
  ttlMs?: number;
  /** How long to wait for another holder before giving up. */
  waitMs?: number;
  pollMs?: number;
}

/**
 * Runs `body` while holding a short Redis lock (SET NX PX, renewed while the body runs). A caller
 * that finds it taken waits its turn rather than skipping, because the holder may have read an
 * older state than the caller must apply.
 */
export async function withRedisLock<T>(
  redis: RedisConnection,
  key: string,
  body: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const ttlMs = options.ttlMs ?? 15_000;
  const waitMs = options.waitMs ?? 60_000;
  const pollMs = options.pollMs ?? 50;
  const token = randomUUID();
  const deadline = Date.now() + waitMs;
  while ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') {
    if (Date.now() > deadline) {
      throw new AppError(
        'lock_timeout',
        `Another process held the lock ${key} for more than ${Math.round(waitMs / 1000)}s; try again.`,
        { retryable: true },
      );
    }
    await sleep(pollMs + Math.floor(Math.random() * pollMs));
  }
  const renew = setInterval(
    () => {
      redis.eval(EXTEND, 1, key, token, String(ttlMs)).catch(() => {});
    },
    Math.max(100, Math.floor(ttlMs / 3)),
  );
  renew.unref();
  try {
    return await body();
  } finally {
    clearInterval(renew);
    await redis.eval(RELEASE, 1, key, token).catch(() => {});
  }
}
