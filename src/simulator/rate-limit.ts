/*
 * Apple's hourly budget per API key, over a rolling hour: `user-hour-rem` is the limit minus
 * the requests the key made in the previous 60 minutes. Rejected (429) requests are not
 * counted, so a client that waits gets its budget back as the window rolls. The budget is
 * keyed by the key id alone: every app, project and process using a key shares it. Tests may
 * shrink the "hour" (`windowMs`) to see the window roll in seconds.
 */

export const HOUR_MS = 60 * 60 * 1000;

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** When the oldest counted request leaves the window (epoch ms); set when refused. */
  resetAt?: number;
}

interface Window {
  times: number[];
  head: number;
}

export class RollingHourLimiter {
  private windows = new Map<string, Window>();
  private readonly now: () => number;
  private readonly windowMs: () => number;

  constructor(now: () => number, windowMs: () => number = () => HOUR_MS) {
    this.now = now;
    this.windowMs = windowMs;
  }

  /** Counts one request for `keyId` if the budget allows it. */
  take(keyId: string, limit: number): RateDecision {
    const window = this.prune(keyId);
    const used = window.times.length - window.head;
    if (used >= limit) {
      return {
        allowed: false,
        limit,
        remaining: 0,
        resetAt: (window.times[window.head] ?? this.now()) + this.windowMs(),
      };
    }
    window.times.push(this.now());
    return { allowed: true, limit, remaining: limit - used - 1 };
  }

  /** The budget left without counting a request. */
  peek(keyId: string, limit: number): RateDecision {
    const window = this.prune(keyId);
    const used = window.times.length - window.head;
    return { allowed: used < limit, limit, remaining: Math.max(0, limit - used) };
  }

  reset(): void {
    this.windows.clear();
  }

  private prune(keyId: string): Window {
    let window = this.windows.get(keyId);
    if (!window) {
      window = { times: [], head: 0 };
      this.windows.set(keyId, window);
    }
    const cutoff = this.now() - this.windowMs();
    while (window.head < window.times.length && (window.times[window.head] as number) <= cutoff)
      window.head++;
    // Compact now and then so the array does not grow for ever.
    if (window.head > 1024 && window.head * 2 > window.times.length) {
      window.times = window.times.slice(window.head);
      window.head = 0;
    }
    return window;
  }
}

export function rateLimitHeader(decision: RateDecision): string {
  return `user-hour-lim:${decision.limit};user-hour-rem:${decision.remaining};`;
}
