import { DrizzleQueryError } from 'drizzle-orm';
import { AppError, errorMessage } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';

/*
 * "The database is not there right now" versus "the database refused this work" (issue 11).
 * The first is an outage: the job waits for Postgres to come back without burning an attempt
 * (jobs/processors.ts). The second is an ordinary failure.
 *
 * NOTE for the merge: issue 11's other half (i11-bounds) has a fuller SQLSTATE classifier; this
 * predicate is deliberately minimal and may be folded into it.
 */

/** postgres-js's own codes for a connection that could not be made or was lost, and the OS's. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * SQLSTATEs of an unavailable server: class 08 (connection exception), 57P01 admin shutdown,
 * 57P02 crash shutdown, 57P03 cannot connect now (starting up / recovering), 53300 too many
 * connections.
 */
function isUnavailableSqlState(code: string): boolean {
  return (
    /^08[0-9A-Z]{3}$/.test(code) ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '53300'
  );
}

/** Walks the cause chain (drizzle and AppError wrap the driver's error) looking for an outage. */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || isUnavailableSqlState(code))) return true;
    // Node's AggregateError (happy eyeballs over several addresses) carries the real ones inside.
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * drizzle's error message is `Failed query: <sql> params: <values>` (the catalog, a sealed key):
 * never let it reach a job's failure reason, a run row or a log. Keeps only the driver's reason.
 */
export function withoutQueryText(error: unknown): unknown {
  if (!(error instanceof DrizzleQueryError)) return error;
  const reason = scrubSecrets(errorMessage(error.cause ?? 'no reason given'));
  if (isDatabaseUnavailable(error)) return databaseUnavailable(reason, error);
  return new AppError('database', `The database refused the work (${reason}).`, {
    retryable: true,
    cause: error,
  });
}

export function databaseUnavailable(reason: string, cause?: unknown): AppError {
  return new AppError(
    'database_unavailable',
    `The database is unreachable (${reason}); the work waits until it answers again. ` +
      'Check that Postgres is running and DATABASE_URL points at it.',
    { retryable: true, cause },
  );
}
