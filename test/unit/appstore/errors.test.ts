import { describe, expect, it } from 'vitest';
import {
  AppStoreError,
  errorFromResponse,
  forbiddenReasonOf,
  noAppsMessage,
} from '../../../src/appstore/errors.ts';
import { AppError } from '../../../src/errors.ts';

const request = 'GET /v1/apps';

describe('errorFromResponse', () => {
  it('401 → auth, with every check a person should make', () => {
    const error = errorFromResponse({
      status: 401,
      request,
      apple: {
        code: 'NOT_AUTHORIZED',
        title: 'Authentication credentials are missing or invalid.',
        detail:
          'Provide a properly configured and signed bearer token, and make sure that it has not expired.',
      },
    });
    expect(error).toBeInstanceOf(AppStoreError);
    expect(error).toBeInstanceOf(AppError);
    expect(error.kind).toBe('auth');
    expect(error.status).toBe(401);
    expect(error.retryable).toBe(false);
    expect(error.apple?.code).toBe('NOT_AUTHORIZED');
    expect(error.message.startsWith('Failed to verify credentials')).toBe(true);
    expect(error.message).toContain('Key ID');
    expect(error.message).toContain('not the key\u2019s name');
    expect(error.message).toContain('App Store Connect API tab');
    expect(error.message).toContain('not the In-App Purchase tab');
    expect(error.message).toContain('.p8');
    expect(error.message).toContain('clock');
  });

  it('403 FORBIDDEN_ERROR → forbidden for the role', () => {
    const error = errorFromResponse({
      status: 403,
      request,
      apple: { code: 'FORBIDDEN_ERROR', title: 'This request is forbidden for security reasons' },
    });
    expect(error.kind).toBe('forbidden');
    expect(error.forbiddenReason).toBe('role');
    expect(error.message).toContain('Admin or App Manager');
    expect(error.message).toContain('access to this app');
  });

  it('403 FORBIDDEN.REQUIRED_AGREEMENTS… → forbidden for agreements (prefix match)', () => {
    const error = errorFromResponse({
      status: 403,
      request,
      apple: {
        code: 'FORBIDDEN.REQUIRED_AGREEMENTS_MISSING_OR_EXPIRED',
        title: 'A required agreement is missing or has expired.',
        detail: 'This request requires an in-effect agreement that has not been signed or has expired.',
      },
    });
    expect(error.kind).toBe('forbidden');
    expect(error.forbiddenReason).toBe('agreements');
    expect(error.message).toContain('Account Holder');
    expect(error.message).toContain('Business');
    expect(forbiddenReasonOf({ code: 'FORBIDDEN.REQUIRED_AGREEMENTS_SOMETHING_NEW', title: '' })).toBe(
      'agreements',
    );
    expect(forbiddenReasonOf(undefined)).toBe('role');
  });

  it('404 → not_found, 429 → rate_limited with when to retry, 5xx → transient', () => {
    expect(errorFromResponse({ status: 404, request }).kind).toBe('not_found');
    const limited = errorFromResponse({
      status: 429,
      request,
      retryAfterMs: 30_000,
      attempts: 5,
      apple: { code: 'RATE_LIMIT_EXCEEDED', title: 'The request rate limit has been reached.' },
    });
    expect(limited.kind).toBe('rate_limited');
    expect(limited.retryable).toBe(true);
    expect(limited.retryAfterMs).toBe(30_000);
    expect(limited.message).toContain('30 s');
    expect(limited.message).toContain('after 5 attempts');
    for (const status of [500, 502, 503, 504]) {
      const error = errorFromResponse({ status, request });
      expect(error.kind).toBe('transient');
      expect(error.retryable).toBe(true);
    }
  });

  it('400, 409 and 422 → invalid_request with Apple’s code and detail in the message', () => {
    for (const status of [400, 409, 422]) {
      const error = errorFromResponse({
        status,
        request,
        apple: {
          code: 'PARAMETER_ERROR.INVALID',
          title: 'A parameter has an invalid value',
          detail: 'limit',
        },
      });
      expect(error.kind).toBe('invalid_request');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('PARAMETER_ERROR.INVALID: limit');
    }
  });

  it('exports the no-apps message verbatim', () => {
    expect(noAppsMessage).toBe(
      'No apps are linked to this API key: an App Manager key needs explicit access to the apps; Admin keys see all apps.',
    );
  });
});
