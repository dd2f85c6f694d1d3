import { createHash } from 'node:crypto';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisConnection as Redis } from '../queue/redis.ts';

/*
 * The share of a key's hourly App Store Connect budget that detail refreshes may spend, shared
 * by every worker process through Redis (rate-limiter-flexible's RateLimiterRedis, keyed by the
 * Key ID — not a secret, but kept out of metric labels: see keyLabel).
 *
 * Apple's budget (`X-Rate-Limit: user-hour-lim:3600;user-hour-rem:N`) is per key and covers the
 * structure syncs and onboarding too, so the details share is only a ceiling: after every
 * response the limiter is corrected from Apple's header. Structure and onboarding keep
 * `lim × (1 − share)` for themselves; whenever Apple says less than that reserve plus what
 * the limiter thinks details have left, the difference is consumed, so details stop before they
 * eat into the reserve, whoever spent it (another project on the same key, another process).
 */

export interface BudgetSettings {
  /** Apple's hourly requests per key (3600), until a header says otherwise. */
  hourlyLimit: number;
  /** Share of it for details, 0–1 (DETAILS_BUDGET_SHARE). */
  share: number;
  /** The window in seconds (3600; tests scale it down). */
  windowSeconds: number;
  /** Redis key prefix (REDIS_PREFIX). */
  prefix: string;
}

export interface BudgetState {
  /** Points of the details share in one window. */
  limit: number;
  used: number;
  left: number;
  /** When the window resets. */
  msBeforeReset: number;
}

export interface DetailsBudget {
  /** Takes `points` if the details share has them; otherwise takes nothing and says how long to wait. */
  reserve(keyId: string, points: number): Promise<{ granted: boolean; msBeforeNext: number }>;
  /** After a product's read: consume what it cost beyond its reservation, or give back what it did not. */
  settle(keyId: string, reserved: number, actual: number): Promise<void>;
  /** Apple's X-Rate-Limit from one response: consume what Apple says is already gone. */
  correct(keyId: string, rateLimit: Record<string, number> | undefined): Promise<void>;
  state(keyId: string): Promise<BudgetState>;
  readonly points: number;
}

/**
 * Points to consume so the limiter agrees with Apple (pure): details may still spend at most
 * `rem − lim × (1 − share)`; if the limiter thinks more is left, the excess goes.
 */
export function budgetCorrection(input: {
  limiterLeft: number;
  appleRemaining: number;
  appleLimit: number;
  share: number;
}): number {
  const reserve = Math.ceil(input.appleLimit * (1 - input.share));
  const detailsHeadroom = Math.max(0, input.appleRemaining - reserve);
  return Math.max(0, input.limiterLeft - detailsHeadroom);
}

/** A key's label for metrics: a short hash, never the Key ID itself. */
export function keyLabel(keyId: string): string {
  return createHash('sha256').update(keyId).digest('hex').slice(0, 8);
}

export function createDetailsBudget(redis: Redis, settings: BudgetSettings): DetailsBudget {
  const points = Math.max(1, Math.floor(settings.hourlyLimit * settings.share));
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${settings.prefix}:details-budget`,
    points,
    duration: settings.windowSeconds,
  });

  const state = async (keyId: string): Promise<BudgetState> => {
    const res = await limiter.get(keyId);
    const used = res?.consumedPoints ?? 0;
    return {
      limit: points,
      used,
      left: Math.max(0, points - used),
      msBeforeReset: res?.msBeforeNext ?? settings.windowSeconds * 1000,
    };
  };

  return {
    points,
    async reserve(keyId, wanted) {
      const ask = Math.max(1, Math.min(wanted, points));
      try {
        await limiter.consume(keyId, ask);
        return { granted: true, msBeforeNext: 0 };
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) throw error;
        // The refused points were counted: give them back, so a refusal costs nothing.
        await limiter.reward(keyId, ask);
        return { granted: false, msBeforeNext: error.msBeforeNext };
      }
    },
    async settle(keyId, reserved, actual) {
      const difference = actual - Math.max(1, Math.min(reserved, points));
      if (difference > 0) await limiter.penalty(keyId, difference);
      else if (difference < 0) await limiter.reward(keyId, -difference);
    },
    async correct(keyId, rateLimit) {
      const remaining = rateLimit?.['user-hour-rem'];
      if (remaining === undefined) return;
      const appleLimit = rateLimit?.['user-hour-lim'] ?? settings.hourlyLimit;
      const { left } = await state(keyId);
      const excess = budgetCorrection({
        limiterLeft: left,
        appleRemaining: remaining,
        appleLimit,
        share: settings.share,
      });
      if (excess > 0) await limiter.penalty(keyId, excess);
    },
    state,
  };
}
