/*
 * The login limiter, per client address. It slows guessing without ever refusing the right
 * token for what others did: after FREE_FAILURES wrong tokens from one address, every attempt
 * from that address waits its turn (one at a time, each a longer wait than the last, up to
 * MAX_DELAY_MS) before its token is checked; a right token then gets in like any other and
 * clears the address. Other addresses are not affected at all. Only a flood from the same
 * address that queues more than MAX_QUEUE_MS of waiting is answered "too many attempts".
 * State is in memory, per process: a restart forgets it, which only helps a guesser by minutes.
 */

export const FREE_FAILURES = 10;
export const FIRST_DELAY_MS = 1_000;
export const MAX_DELAY_MS = 30_000;
/** Beyond this much queued waiting, an attempt is refused at once (429). */
export const MAX_QUEUE_MS = 120_000;
/** Failures are forgotten this long after the last one. */
export const FORGET_AFTER_MS = 15 * 60_000;
const MAX_ADDRESSES = 10_000;

interface AddressState {
  failures: number;
  lastFailureAt: number;
  /** When the next attempt from this address may be checked. */
  nextSlotAt: number;
}

export type Admission = { wait: number } | { refused: true; retryAfterMs: number };

export interface LoginLimiter {
  /** Reserves this attempt's turn: how long to wait before checking its token, or refused. */
  admit(address: string): Admission;
  failed(address: string): void;
  succeeded(address: string): void;
}

/** The wait before the attempt after `failures` wrong tokens (pure). */
export function delayAfter(failures: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(30, failures - FREE_FAILURES));
}

export function createLoginLimiter(now: () => number = Date.now): LoginLimiter {
  const states = new Map<string, AddressState>();
  const current = (address: string): AddressState | undefined => {
    const state = states.get(address);
    if (state && now() - state.lastFailureAt > FORGET_AFTER_MS && state.nextSlotAt <= now()) {
      states.delete(address);
      return undefined;
    }
    return state;
  };
  const prune = () => {
    if (states.size < MAX_ADDRESSES) return;
    for (const address of [...states.keys()]) current(address);
    // Still full (a spread-out attack): forget the oldest; they start again with free attempts.
    for (const address of states.keys()) {
      if (states.size < MAX_ADDRESSES) break;
      states.delete(address);
    }
  };
  return {
    admit(address) {
      const state = current(address);
      const delay = delayAfter(state?.failures ?? 0);
      if (!state || delay === 0) return { wait: 0 };
      const t = now();
      const slot = Math.max(t, state.nextSlotAt);
      if (slot - t > MAX_QUEUE_MS) return { refused: true, retryAfterMs: slot - t };
      state.nextSlotAt = slot + delay;
      return { wait: slot + delay - t };
    },
    failed(address) {
      const state = current(address);
      const t = now();
      if (state) {
        state.failures += 1;
        state.lastFailureAt = t;
      } else {
        prune();
        states.set(address, { failures: 1, lastFailureAt: t, nextSlotAt: t });
      }
    },
    succeeded(address) {
      states.delete(address);
    },
  };
}
