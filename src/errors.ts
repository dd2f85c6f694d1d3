import { scrubSecrets } from './log/scrub.ts';

/**
 * Every kind of failure the system reports, in one closed list: callers (the CLI's `--json`, the
 * API, a job's failure reason, `sync_runs.error_kind`) may switch on it, and a new kind is a
 * deliberate change here. The App Store client's kinds are listed with the others
 * (src/appstore/errors.ts checks its own list against this one).
 */
export const APP_ERROR_KINDS = [
  // Input and state
  'invalid_input',
  'invalid_payload',
  'not_found',
  'precondition',
  'unsupported',
  'config',
  // App Store Connect
  'auth',
  'forbidden',
  'rate_limited',
  'transient',
  'schema',
  'invalid_request',
  'limit_exceeded',
  'client_closed',
  // The sync
  'sync_failed',
  'sync_in_progress',
  'inconsistent_catalog',
  'credentials_unreadable',
  // The queue
  'redis_unavailable',
  'enqueue_race',
  'lock_timeout',
  'wait_lost',
  'timeout',
  'closed',
  // The HTTP API's idempotency keys
  'idempotency_mismatch',
  'idempotency_in_progress',
  // The database (src/database/errors.ts)
  'database_unavailable',
  'database_not_migrated',
  'database_bad_data',
  'database_conflict',
  'database',
  // Anything else: a bug
  'internal',
] as const;
export type AppErrorKind = (typeof APP_ERROR_KINDS)[number];

/**
 * The base of every error the worker reports to a person or a caller. `kind` is stable and
 * machine-readable (one of APP_ERROR_KINDS); `message` says what is wrong and what to do, and
 * never holds a secret.
 */
export class AppError extends Error {
  override name = 'AppError';
  readonly kind: AppErrorKind;
  /** Whether trying the same thing again later may succeed. */
  readonly retryable: boolean;

  constructor(kind: AppErrorKind, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * Bad input from a person or the platform. `field` is the API's name for it (`projectId`,
 * `every`, `since`…) as data: the CLI shows its own flag for the same field (src/cli/fields.ts),
 * so no layer below the CLI knows about flags. `reason` says what is wrong and how to fix it.
 */
export class InvalidInputError extends AppError {
  override name = 'InvalidInputError';
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string) {
    super('invalid_input', `${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super('not_found', message);
  }
}

/** A project's state does not allow the operation yet (no credentials, no app selected). */
export class PreconditionError extends AppError {
  override name = 'PreconditionError';
  constructor(message: string) {
    super('precondition', message);
  }
}

export function errorKind(error: unknown): AppErrorKind {
  return error instanceof AppError ? error.kind : 'internal';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Default bound on any error text that is stored or logged (ERROR_TEXT_MAX_CHARS overrides it). */
export const DEFAULT_ERROR_TEXT_MAX_CHARS = 2_000;

/**
 * `text` cut to at most `max` characters plus a short note saying how much was cut. Every error
 * text that leaves the process (a job's failure reason, a run row, a log line, a metric) goes
 * through here: a hostile or broken peer must not turn a 20 MB message into 20 MB in Redis.
 * Never splits a surrogate pair.
 */
export function boundText(text: string, max: number = DEFAULT_ERROR_TEXT_MAX_CHARS): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… [${text.length - end} more characters cut]`;
}

/** errorMessage, bounded: what is stored or logged about a failure. */
export function boundedErrorMessage(error: unknown, max: number = DEFAULT_ERROR_TEXT_MAX_CHARS): string {
  return boundText(errorMessage(error), max);
}

/**
 * What a person is told of a failure, made here only: the error's message, secrets scrubbed
 * (keys, tokens, URL passwords), bounded. Job failure reasons, run rows and log fields use it.
 */
export function failureReason(error: unknown, max: number = DEFAULT_ERROR_TEXT_MAX_CHARS): string {
  return boundText(scrubSecrets(errorMessage(error)), max);
}
