import { DrizzleQueryError } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { databaseRetryDelay } from '../../../src/app/job-table.ts';
import { isDatabaseUnavailable, asAppError as withoutQueryText } from '../../../src/database/errors.ts';
import { AppError } from '../../../src/errors.ts';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it('recognises a refused, lost or shut-down connection, through drizzle and AppError wrappers', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'CONNECTION_CLOSED',
      'CONNECT_TIMEOUT',
      '08006',
      '08001',
      '57P01',
      '57P03',
    ]) {
      expect(isDatabaseUnavailable(withCode(code)), code).toBe(true);
    }
    const wrapped = new DrizzleQueryError('select 1', [], withCode('ECONNREFUSED'));
    expect(isDatabaseUnavailable(wrapped)).toBe(true);
    expect(isDatabaseUnavailable(new AppError('database', 'x', { cause: wrapped }))).toBe(true);
    expect(isDatabaseUnavailable(new AggregateError([withCode('ECONNREFUSED')]))).toBe(true);
  });

  it('does not take a refusal of the work for an outage', () => {
    for (const code of ['23505', '42P01', '22021', '40001', 'ENOENT']) {
      expect(isDatabaseUnavailable(withCode(code)), code).toBe(false);
    }
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});

describe('withoutQueryText', () => {
  it("keeps the driver's reason and drops drizzle's statement and parameters", () => {
    const error = new DrizzleQueryError(
      'insert into products values ($1)',
      ['{"secret-ish catalog": true}'],
      withCode('23505', 'duplicate key value violates unique constraint "products_pkey"'),
    );
    const clean = withoutQueryText(error) as AppError;
    expect(clean).toBeInstanceOf(AppError);
    expect(clean.message).toContain('duplicate key value');
    expect(clean.message).not.toMatch(/Failed query|insert into|params/);
    const outage = withoutQueryText(
      new DrizzleQueryError('select 1', [], withCode('ECONNREFUSED', 'connect ECONNREFUSED')),
    );
    expect(outage).toMatchObject({ kind: 'database_unavailable', retryable: true });
    expect((outage as Error).message).not.toContain('select 1');
  });

  it('leaves other errors alone', () => {
    const error = new Error('other');
    expect(withoutQueryText(error)).toBe(error);
  });
});

describe('databaseRetryDelay', () => {
  it('doubles from the base per deferral and stops at the cap, with ±20% jitter', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 10, 100].map((n) => databaseRetryDelay(n, 1_000, 6_000, mid))).toEqual([
      1_000, 2_000, 4_000, 6_000, 6_000, 6_000,
    ]);
    expect(databaseRetryDelay(0, 1_000, 6_000, () => 0)).toBe(800);
    expect(databaseRetryDelay(0, 1_000, 6_000, () => 0.999_999)).toBe(1_200);
  });
});
