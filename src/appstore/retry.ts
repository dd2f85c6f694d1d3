/*
 * The retry rules as pure functions, so they can be tested without a server or a clock.
 * Only GETs are retried (the client only issues GETs).
 */

/** Statuses worth another try: throttling and server-side failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/**
 * `Retry-After` as milliseconds from `nowMs`: delta-seconds (`120`) or an HTTP date.
 * A date in the past means "now" (0). Anything unreadable is ignored (undefined).
 * Apple does not document the header for this API, so it is honoured only when present.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  nowMs: number,
): number | undefined {
  const text = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP dates always name a weekday or month; this keeps `Date.parse` from accepting junk like "12abc".
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export interface BackoffOptions {
  /** First retry's ceiling; doubles per attempt. */
  baseMs: number;
  /** No single wait exceeds this. */
  capMs: number;
}

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(cap, base·2^attempt)).
 * `attempt` counts retries from 0. Full jitter spreads parallel clients that failed together.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** The wait before retry number `attempt`: the server's Retry-After (capped) when given, else backoff. */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), options.capMs);
  return backoffDelay(attempt, options, random);
}
