import { createHash } from 'node:crypto';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisConnection as Redis } from '../queue/redis.ts';

/*
 * The share of a key's hourly App Store Connect budget that detail refreshes may spend, shared
 * by every worker process through Redis (rate-limiter-flexible's RateLimiterRedis, keyed by the
 * Key ID — not a secret, but kept out of metric labels: see keyLabel).
 *
 * Apple's budget (`X-Rate-Limit: user-hour-lim:3600;user-hour-rem:N`) is per key and covers the
 * structure syncs and onboarding too, so the details share is only a ceiling. Two gates, both
 * in Redis:
 * - the limiter: what details spent in the current window, at most `lim × share`;
 * - Apple's last word (the headroom): `rem − lim × (1 − share)` from the latest X-Rate-Limit,
 *   less what details reserved since. Structure and onboarding keep `lim × (1 − share)` for
 *   themselves, whoever spent the rest (another project on the same key, another process).
 * The headroom is replaced by every answer, so it follows Apple's rolling hour both ways: when a
 * burst leaves Apple's hour the details have room again at once. (Consuming the limiter to match
 * Apple, as this module did first, could only ever take room away: a burst at the start of one
 * fixed window was still in Apple's hour when the next window opened, and the details then sat
 * out that whole window — every other window idle.) Apple's word is forgotten after a quarter
 * window, when a request of the details themselves asks again.
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
 * What details may still spend by Apple's word (pure): what the key has left beyond the reserve
 * `lim × (1 − share)` kept for structure syncs and onboarding.
 */
export function detailsHeadroom(input: {
  appleRemaining: number;
  appleLimit: number;
  share: number;
}): number {
  const reserve = Math.ceil(input.appleLimit * (1 - input.share));
  return Math.max(0, input.appleRemaining - reserve);
}

/*
 * Takes ARGV[1] from the headroom if Apple's last word allows it. Returns {status, pttl}:
 * status 1 taken, 0 refused, -1 no word from Apple (allowed: the limiter alone decides).
 */
const TAKE_HEADROOM = `
local h = redis.call('get', KEYS[1])
if not h then return {-1, 0} end
if tonumber(h) < tonumber(ARGV[1]) then return {0, redis.call('pttl', KEYS[1])} end
redis.call('decrby', KEYS[1], ARGV[1])
return {1, 0}
`;

/** Gives ARGV[1] back to the headroom, if Apple's word still stands. */
const GIVE_HEADROOM = `
if redis.call('exists', KEYS[1]) == 1 then redis.call('incrby', KEYS[1], ARGV[1]) end
return 0
`;

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
  const headroomKey = (keyId: string) => `${settings.prefix}:details-headroom:${keyId}`;
  // Apple's word holds a quarter window; structure syncs' answers renew it meanwhile.
  const headroomTtlMs = Math.max(1, Math.floor((settings.windowSeconds * 1000) / 4));

  const state = async (keyId: string): Promise<BudgetState> => {
    const [res, headroom] = await Promise.all([limiter.get(keyId), redis.get(headroomKey(keyId))]);
    const used = res?.consumedPoints ?? 0;
    const byLimiter = Math.max(0, points - used);
    return {
      limit: points,
      used,
      left: headroom === null ? byLimiter : Math.max(0, Math.min(byLimiter, Number(headroom))),
      msBeforeReset: res?.msBeforeNext ?? settings.windowSeconds * 1000,
    };
  };

  return {
    points,
    async reserve(keyId, wanted) {
      const ask = Math.max(1, Math.min(wanted, points));
      const [status, pttl] = (await redis.eval(TAKE_HEADROOM, 1, headroomKey(keyId), ask)) as [
        number,
        number,
      ];
      if (status === 0) return { granted: false, msBeforeNext: Math.max(1, pttl) };
      try {
        await limiter.consume(keyId, ask);
        return { granted: true, msBeforeNext: 0 };
      } catch (error) {
        if (status === 1) await redis.eval(GIVE_HEADROOM, 1, headroomKey(keyId), ask);
        if (!(error instanceof RateLimiterRes)) throw error;
        // The refused points were counted: give them back, so a refusal costs nothing.
        await limiter.reward(keyId, ask);
        return { granted: false, msBeforeNext: error.msBeforeNext };
      }
    },
    async settle(keyId, reserved, actual) {
      const difference = actual - Math.max(1, Math.min(reserved, points));
      if (difference > 0) await limiter.penalty(keyId, difference);
      else if (difference < 0) {
        // Only into the window it was reserved in: a window that has rolled meanwhile started
        // from zero, and a reward there would let details spend past their share.
        const current = await limiter.get(keyId);
        const back = Math.min(-difference, current?.consumedPoints ?? 0);
        if (back > 0) await limiter.reward(keyId, back);
      }
    },
    async correct(keyId, rateLimit) {
      const remaining = rateLimit?.['user-hour-rem'];
      if (remaining === undefined) return;
      const appleLimit = rateLimit?.['user-hour-lim'] ?? settings.hourlyLimit;
      const headroom = detailsHeadroom({ appleRemaining: remaining, appleLimit, share: settings.share });
      await redis.set(headroomKey(keyId), String(headroom), 'PX', headroomTtlMs);
    },
    state,
  };
}
