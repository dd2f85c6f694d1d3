/**
 * The base of every error the worker reports to a person or a caller. `kind` is stable and
 * machine-readable (the App Store client adds its own kinds); `message` says what is wrong
 * and what to do, and never holds a secret.
 */
export class AppError extends Error {
  override name = 'AppError';
  readonly kind: string;
  /** Whether trying the same thing again later may succeed. */
  readonly retryable: boolean;

  constructor(kind: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
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

export function errorKind(error: unknown): string {
  return error instanceof AppError ? error.kind : 'internal';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
