/*
 * When a failed delivery is tried again (pure; unit-tested). `schedule[i]` is the wait after
 * attempt i+1; when the schedule is exhausted the delivery has failed for good. The default
 * (config) spreads 8 attempts over about 28 hours. A little jitter keeps endpoints that failed
 * together from being retried in lock-step.
 */

export type Retry = { retry: true; delayMs: number } | { retry: false };

export function nextRetry(
  attemptsMade: number,
  schedule: readonly number[],
  random: () => number = Math.random,
  jitter = 0.1,
): Retry {
  const base = schedule[attemptsMade - 1];
  if (base === undefined) return { retry: false };
  const spread = base * jitter * (2 * random() - 1);
  return { retry: true, delayMs: Math.max(0, Math.round(base + spread)) };
}

/** What an HTTP outcome means for the delivery (documented in the README). */
export type OutcomeClass = 'succeeded' | 'disable' | 'retry';

export function classifyResponse(statusCode: number | undefined): OutcomeClass {
  if (statusCode === undefined) return 'retry'; // timeout, refused, reset, DNS, policy
  if (statusCode >= 200 && statusCode < 300) return 'succeeded';
  if (statusCode === 410) return 'disable';
  // 429, 5xx, and other 4xx (a misconfigured receiver is usually fixed within the retry window,
  // and Standard Webhooks/Svix retry every non-2xx too); 3xx: redirects are not followed.
  return 'retry';
}
