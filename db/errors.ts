import { AppError, boundText } from '../src/errors.ts';

/*
 * THE verdict on a database error, by SQLSTATE (or the driver's connection error code), in one
 * place: the sync's run row, the worker's retry decision, the CLI and the public API all ask
 * here. Drizzle wraps a failed query with the whole statement and its parameters (a catalog as
 * JSON) in its message; nothing here ever quotes that, only Postgres's own short reason.
 *
 * - unavailable  the server cannot be reached or is shutting down (08xxx, 57P0x, 53xxx,
 *                ECONNREFUSED, a dropped connection): waiting helps, the work is retryable.
 * - not_migrated the tables or columns are missing (42P01, 42703, 3F000): run `catalog-sync migrate`.
 * - bad_data     Postgres cannot store a value (22xxx: a NUL byte 22P05/22021, a value out of range,
 *                or a constraint 23xxx other than a unique race): the same data fails again.
 * - conflict     a serialization failure, deadlock or unique race (40001, 40P01, 23505): retry.
 * - other        anything else (a bug, a permission): retryable, bounded by the job's attempts.
 */

export type DatabaseErrorKind = 'unavailable' | 'not_migrated' | 'bad_data' | 'conflict' | 'other';

export interface DatabaseErrorVerdict {
  kind: DatabaseErrorKind;
  retryable: boolean;
  /** What is wrong and what to do; never a statement, its parameters or a password. */
  message: string;
  /** The SQLSTATE or driver code that decided, when there was one. */
  code: string | undefined;
}

/** Driver codes (postgres.js, node:net, dns) meaning "no usable connection". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

const NOT_MIGRATED_CODES = new Set(['42P01', '42703', '3F000', '42883']);
const CONFLICT_CODES = new Set(['40001', '40P01', '23505']);

/** The error that carries a `code`, following `cause` (drizzle → postgres.js → node:net). */
function coded(error: unknown): { code: string; message: string; error: unknown } | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') {
      const message = (current as { message?: unknown }).message;
      return { code, message: typeof message === 'string' ? message : '', error: current };
    }
    // node:net's AggregateError (one error per address tried) carries the code on its members.
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = coded(errors[0]);
      if (inner) return inner;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether `error` came from the database layer at all (drizzle, postgres.js, PGlite, a socket). */
export function isDatabaseError(error: unknown): boolean {
  if (error instanceof AppError) return false;
  if (error instanceof Error && error.name === 'DrizzleQueryError') return true;
  const found = coded(error);
  if (!found) return false;
  return /^[0-9A-Z]{5}$/.test(found.code) || CONNECTION_CODES.has(found.code);
}

/** `host:port` of a postgres:// URL, never its password; undefined for the embedded database. */
export function databaseAddress(databaseUrl: string | undefined): string | undefined {
  if (!databaseUrl) return undefined;
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}`;
  } catch {
    return undefined;
  }
}

export function classifyDatabaseError(
  error: unknown,
  options: { databaseUrl?: string | undefined } = {},
): DatabaseErrorVerdict {
  const found = coded(error);
  const code = found?.code;
  const reason = boundText((found?.message ?? '').replace(/\s+/g, ' ').trim(), 300) || 'no reason given';
  const where = databaseAddress(options.databaseUrl);
  if (code !== undefined && (CONNECTION_CODES.has(code) || /^(08|57P0|53)/.test(code))) {
    return {
      kind: 'unavailable',
      retryable: true,
      code,
      message:
        `Cannot reach Postgres${where ? ` at ${where}` : ''} (${code}; password never shown): ` +
        'is it running and accepting connections? Check DATABASE_URL. Work is retried when it is back.',
    };
  }
  if (code !== undefined && NOT_MIGRATED_CODES.has(code)) {
    return {
      kind: 'not_migrated',
      retryable: false,
      code,
      message:
        `The database has no catalog-sync tables yet, or older ones (${code}: ${reason}): ` +
        'run `catalog-sync migrate` (or client.migrate()), then try again.',
    };
  }
  if (code !== undefined && CONFLICT_CODES.has(code)) {
    return {
      kind: 'conflict',
      retryable: true,
      code,
      message: `The database refused this work because of a concurrent change (${code}: ${reason}); it is safe to try again.`,
    };
  }
  if (code !== undefined && /^(22|23)/.test(code)) {
    return {
      kind: 'bad_data',
      retryable: false,
      code,
      message:
        `The database cannot store a value it was given (${code}: ${reason}); nothing was applied, ` +
        'and trying again with the same data fails the same way. Report this message with the project id.',
    };
  }
  return {
    kind: 'other',
    retryable: true,
    code,
    message: `The database refused this work (${code ? `${code}: ` : ''}${reason}); nothing was applied. Try again; if it recurs, report this message.`,
  };
}

/**
 * A database failure as callers see it: AppError kind `database` (stable for the API, the run
 * row's error_kind and the CLI's --json), the verdict's class in `databaseKind`.
 */
export class DatabaseError extends AppError {
  override name = 'DatabaseError';
  readonly databaseKind: DatabaseErrorKind;
  readonly code: string | undefined;
  constructor(verdict: DatabaseErrorVerdict, cause: unknown) {
    super('database', verdict.message, { retryable: verdict.retryable, cause });
    this.databaseKind = verdict.kind;
    this.code = verdict.code;
  }
}

/** The verdict as a DatabaseError, keeping the original as its cause. */
export function databaseAppError(
  error: unknown,
  options: { databaseUrl?: string | undefined } = {},
): DatabaseError {
  return new DatabaseError(classifyDatabaseError(error, options), error);
}

/** A database error as the AppError a person should see; anything else unchanged. */
export function publicDatabaseError(
  error: unknown,
  options: { databaseUrl?: string | undefined } = {},
): unknown {
  return isDatabaseError(error) ? databaseAppError(error, options) : error;
}

/** Whether `error` means the database is unreachable (the outage class other modules wait on). */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseError) return error.databaseKind === 'unavailable';
  if (error instanceof AppError) return false;
  return isDatabaseError(error) && classifyDatabaseError(error).kind === 'unavailable';
}
