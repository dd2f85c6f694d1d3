import { AppError, errorMessage } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';

/*
 * Database failures, classified once by SQLSTATE (or the driver's connection error code), for
 * every caller: the sync, the API, the CLI and the worker's retry decision. drizzle wraps a
 * driver error in a message that quotes the statement and its parameters (a sealed key, a whole
 * catalog): only the driver's own reason is kept, scrubbed and cut short.
 */

export type DatabaseErrorKind =
  | 'database_unavailable'
  | 'database_not_migrated'
  | 'database_bad_data'
  | 'database_conflict'
  | 'database';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

const MAX_REASON = 300;

interface DriverError {
  code?: unknown;
  message?: unknown;
  errno?: unknown;
}

function driverErrorOf(error: unknown): DriverError | undefined {
  // drizzle's DrizzleQueryError (and our own wrappers) keep the driver's error as `cause`.
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current && typeof current === 'object'; depth++) {
    const code = (current as DriverError).code;
    if (typeof code === 'string' && code !== '') return current as DriverError;
    // node:net's AggregateError (happy eyeballs over several addresses) carries the codes inside.
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors)) {
      const inner = errors.map(driverErrorOf).find((found) => found !== undefined);
      if (inner) return inner;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The kind of a database failure by its SQLSTATE or connection code; undefined when it is not one. */
export function classifyDatabaseCode(
  code: string,
): { kind: DatabaseErrorKind; retryable: boolean } | undefined {
  if (CONNECTION_CODES.has(code)) return { kind: 'database_unavailable', retryable: true };
  if (!/^[0-9A-Z]{5}$/.test(code)) return undefined;
  // 08: connection exception; 57P01-03: shutdown / cannot connect now; 53300: too many connections.
  if (code.startsWith('08') || /^57P0[123]$/.test(code) || code === '53300') {
    return { kind: 'database_unavailable', retryable: true };
  }
  // Undefined table, column, function, schema: the schema is older than the code.
  if (['42P01', '42703', '42883', '3F000'].includes(code)) {
    return { kind: 'database_not_migrated', retryable: false };
  }
  // 22: data exception (a NUL byte 22021/22P05, out of range…): the same data fails again.
  if (code.startsWith('22')) return { kind: 'database_bad_data', retryable: false };
  // Serialization failure, deadlock, lock not available: another transaction won this time.
  if (['40001', '40P01', '55P03'].includes(code)) return { kind: 'database_conflict', retryable: true };
  // A unique violation is a race another transaction won: the next try sees its row.
  if (code === '23505') return { kind: 'database_conflict', retryable: true };
  // Other integrity errors (a NOT NULL, a check): the same data fails again.
  if (code.startsWith('23')) return { kind: 'database_bad_data', retryable: false };
  // Syntax and access errors (42) are bugs or a damaged schema: retrying cannot help.
  if (code.startsWith('42')) return { kind: 'database', retryable: false };
  return { kind: 'database', retryable: true };
}

const ADVICE: Record<DatabaseErrorKind, string> = {
  database_unavailable:
    'The database cannot be reached right now: check that Postgres is running and DATABASE_URL points at it.',
  database_not_migrated: 'The database schema is not up to date: run `catalog-sync migrate`.',
  database_bad_data: 'The data cannot be stored as it is.',
  database_conflict: 'Another transaction got in the way; trying again will do.',
  database: 'Check the database and its logs.',
};

/** `host:port` of a postgres:// URL, never its password; undefined without one (embedded). */
export function databaseAddress(databaseUrl: string | undefined): string | undefined {
  if (!databaseUrl) return undefined;
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}:${url.port || '5432'}`;
  } catch {
    return undefined;
  }
}

export interface DatabaseErrorOptions {
  /** Names the server in "cannot reach" messages (host and port only). */
  databaseUrl?: string | undefined;
}

/** What a database failure is reported with: the work it interrupted, and where the server is. */
export interface DatabaseErrorContext extends DatabaseErrorOptions {
  /** Names the work, e.g. "this sync" (never a URL: it goes into the message as it is). */
  doing?: string | undefined;
}

/**
 * An AppError for a database failure (kind, retryable, a bounded one-line reason and what to do),
 * or undefined when `error` is not a database failure. `doing` names the work, e.g. "this sync".
 */
export function databaseError(
  error: unknown,
  doing = 'this operation',
  options: DatabaseErrorOptions = {},
): AppError | undefined {
  if (error instanceof AppError) return undefined;
  const driver = driverErrorOf(error);
  const code = typeof driver?.code === 'string' ? driver.code : undefined;
  // drizzle's wrapper (it carries the statement) without a coded cause: still a database failure.
  const wrapped = error instanceof Error && typeof (error as { query?: unknown }).query === 'string';
  const verdict =
    (code ? classifyDatabaseCode(code) : undefined) ??
    (wrapped ? { kind: 'database' as const, retryable: true } : undefined);
  if (!verdict) return undefined;
  const cause = wrapped ? (error as { cause?: unknown }).cause : error;
  const raw = scrubSecrets(
    typeof driver?.message === 'string' ? driver.message : cause ? errorMessage(cause) : 'no reason given',
  );
  const reason = raw.length > MAX_REASON ? `${raw.slice(0, MAX_REASON)}…` : raw;
  if (verdict.kind === 'database_unavailable') {
    const where = databaseAddress(options.databaseUrl);
    return new AppError(
      verdict.kind,
      `Cannot reach Postgres${where ? ` at ${where}` : ''} (${code ?? 'no connection'}; password never shown) ` +
        `for ${doing}; nothing was applied. Is it running? Check DATABASE_URL.`,
      { retryable: true, cause: error },
    );
  }
  return new AppError(
    verdict.kind,
    `The database failed ${doing} (${code ? `${code}: ` : ''}${reason}); nothing was applied. ${ADVICE[verdict.kind]}`,
    { retryable: verdict.retryable, cause: error },
  );
}

/**
 * `databaseError(error)` when it is one, else the error unchanged. The context is an object so
 * that a URL can never be passed where the name of the work is expected (it once was, and a
 * failure to record a failure quoted the database URL, password included, in a log line).
 */
export function asAppError<E>(error: E, context: DatabaseErrorContext = {}): AppError | E {
  return databaseError(error, context.doing, { databaseUrl: context.databaseUrl }) ?? error;
}

/**
 * "Postgres is not there right now" (an outage: the work waits for it without burning an attempt)
 * as opposed to "Postgres refused this work". True for a driver error of that kind anywhere in the
 * cause chain, and for the AppError made from one.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof AppError) {
    if (error.kind === 'database_unavailable') return true;
    return error.cause !== undefined && error.cause !== error && isDatabaseUnavailable(error.cause);
  }
  const code = driverErrorOf(error)?.code;
  return typeof code === 'string' && classifyDatabaseCode(code)?.kind === 'database_unavailable';
}
