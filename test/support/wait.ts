import { setTimeout as sleep } from 'node:timers/promises';

/*
 * Tests wait on state or events, never on a guessed sleep, and with deadlines generous enough for a
 * machine busy with other work (the whole suite on two shared cores, worker processes that take
 * seconds to load): a deadline only bounds how long a broken test takes to fail, so it costs a
 * passing run nothing. Integration tests' own timeouts (vitest.config.ts) are larger still.
 */
export const DEADLINE_MS = 90_000;

/** Polls `probe` until it returns something truthy, which it returns; fails after `timeoutMs`. */
export async function until<T>(
  probe: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = DEADLINE_MS,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
