import type { Response } from 'express';
import { AppError, InvalidInputError, NotFoundError, PreconditionError } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';

/*
 * Errors as `application/problem+json` (RFC 9457): `type` names the kind (stable, machine-readable),
 * `detail` says what is wrong and what to do, `field` names the input that was wrong. Nothing of an
 * unexpected error leaves the process but "internal error" (the log has the rest).
 */

export const PROBLEM_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  kind: string;
  field?: string;
  retryable?: boolean;
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Content too large',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

export function problem(
  status: number,
  kind: string,
  detail: string,
  extra: { field?: string; retryable?: boolean } = {},
): Problem {
  return {
    type: `urn:catalog-sync:problem:${kind}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    kind,
    ...(extra.field !== undefined ? { field: extra.field } : {}),
    ...(extra.retryable !== undefined ? { retryable: extra.retryable } : {}),
  };
}

/** The HTTP status for an application error's kind. */
function statusOf(error: AppError): number {
  if (error instanceof InvalidInputError) return 400;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof PreconditionError) return 409;
  switch (error.kind) {
    case 'idempotency_mismatch':
      return 422;
    case 'idempotency_in_progress':
      return 409;
    case 'timeout':
      return 504;
    case 'redis_unavailable':
    case 'database_unavailable':
    case 'database_conflict':
      return 503;
    default:
      return error.retryable ? 503 : 500;
  }
}

/** Any thrown value → a problem; only AppErrors' messages (written for people, never secret) go out. */
export function problemOf(error: unknown): Problem {
  if (error instanceof InvalidInputError) {
    return problem(400, error.kind, scrubSecrets(error.reason), { field: error.field });
  }
  if (error instanceof AppError) {
    const status = statusOf(error);
    return problem(status, error.kind, scrubSecrets(error.message), { retryable: error.retryable });
  }
  return problem(500, 'internal', 'The request failed unexpectedly; the service log has the details.', {
    retryable: true,
  });
}

export function sendProblem(res: Response, value: Problem, headers: Record<string, string> = {}): void {
  res.status(value.status).set({ 'content-type': PROBLEM_TYPE, 'cache-control': 'no-store', ...headers });
  res.send(JSON.stringify(value));
}
