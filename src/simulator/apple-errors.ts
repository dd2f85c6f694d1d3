import { randomUUID } from 'node:crypto';

/*
 * Apple's error documents (`ErrorResponse`), with the titles and details Apple sends where
 * real bodies are known (reference §6.3): 401, 403, 404, 429, parameter errors.
 */

export interface AppleError {
  id?: string;
  status: string;
  code: string;
  title: string;
  detail: string;
  source?: { parameter: string } | { pointer: string };
  links?: Record<string, string>;
}

export interface AppleErrorResponse {
  status: number;
  body: { errors: AppleError[] };
  headers?: Record<string, string>;
}

function error(status: number, code: string, title: string, detail: string, extra: Partial<AppleError> = {}) {
  return {
    status,
    body: { errors: [{ id: randomUUID(), status: String(status), code, title, detail, ...extra }] },
  } satisfies AppleErrorResponse;
}

/** Verbatim from Apple (no `id`, as in the captured body). */
export function notAuthorized(): AppleErrorResponse {
  return {
    status: 401,
    body: {
      errors: [
        {
          status: '401',
          code: 'NOT_AUTHORIZED',
          title: 'Authentication credentials are missing or invalid.',
          detail:
            'Provide a properly configured and signed bearer token, and make sure that it has not expired. ' +
            'Learn more about Generating Tokens for API Requests https://developer.apple.com/go/?id=api-generating-tokens',
        },
      ],
    },
  };
}

export function forbiddenRole(): AppleErrorResponse {
  return error(
    403,
    'FORBIDDEN_ERROR',
    'This request is forbidden for security reasons',
    'The API key in use does not allow this request',
  );
}

export function agreementsMissing(): AppleErrorResponse {
  return error(
    403,
    'FORBIDDEN.REQUIRED_AGREEMENTS_MISSING_OR_EXPIRED',
    'A required agreement is missing or has expired.',
    'This request requires an in-effect agreement that has not been signed or has expired.',
    { links: { see: '/business' } },
  );
}

export function notFound(type: string, id: string): AppleErrorResponse {
  return error(
    404,
    'NOT_FOUND',
    'The specified resource does not exist',
    `There is no resource of type '${type}' with id '${id}'`,
  );
}

export function pathError(path: string): AppleErrorResponse {
  return error(
    404,
    'PATH_ERROR',
    'The URL path is not valid',
    `The resource '${path.replace(/^\//, '')}' does not exist`,
  );
}

export function methodNotAllowed(method: string, path: string): AppleErrorResponse {
  return error(
    405,
    'METHOD_NOT_ALLOWED',
    'The request method is not valid for the resource path.',
    `The request method '${method}' is not valid for the resource path '${path}'.`,
  );
}

export function rateLimited(): AppleErrorResponse {
  return error(
    429,
    'RATE_LIMIT_EXCEEDED',
    'The request rate limit has been reached.',
    "We've received too many requests for this API. Please wait and try again or slow down your request rate.",
  );
}

export function parameterIllegal(parameter: string, detail?: string): AppleErrorResponse {
  return error(
    400,
    'PARAMETER_ERROR.ILLEGAL',
    'A parameter provided is not allowed for this request',
    detail ?? `The parameter '${parameter}' can not be used with this request`,
    { source: { parameter } },
  );
}

export function parameterInvalid(parameter: string, detail: string): AppleErrorResponse {
  return error(400, 'PARAMETER_ERROR.INVALID', 'A parameter has an invalid value', detail, {
    source: { parameter },
  });
}

export function unexpected(): AppleErrorResponse {
  return error(
    500,
    'UNEXPECTED_ERROR',
    'An unexpected error occurred.',
    'An unexpected error occurred on the server side. If this issue continues, contact us at https://developer.apple.com/contact/.',
  );
}
