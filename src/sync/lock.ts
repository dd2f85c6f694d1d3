import { AppError } from '../errors.ts';

/*
 * The per-project lock that serialises what syncs write (a transaction-scoped advisory lock,
 * key hashtext(projectId)): taken by the apply's transaction (apply.ts) and by the unchanged
 * re-sync's statement (unchanged.ts).
 */

/** Advisory-lock namespace for "a sync is applying to this project" (the key is hashtext(projectId)). */
export const SYNC_LOCK_NAMESPACE = 7_243_005;

/**
 * `wait` (default): a second sync of the same project waits until the first commits, then
 * compares with what the first wrote. `skip`: it gives up at once with a retryable
 * `sync_in_progress` error instead of waiting.
 */
export type LockMode = 'wait' | 'skip';

export function syncInProgressError(projectId: string): AppError {
  return new AppError(
    'sync_in_progress',
    `Another sync of project ${projectId} is writing its changes right now, so this one was not applied. ` +
      'Try again in a moment (or let the queue retry it).',
    { retryable: true },
  );
}
