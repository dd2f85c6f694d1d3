import { describe, expect, it } from 'vitest';
import { classifyFailure, parseJobPayload, RATE_LIMIT_MAX_DEFERRALS } from '../../../src/app/job-table.ts';
import { AppStoreError } from '../../../src/appstore/index.ts';
import { AppError, InvalidInputError, PreconditionError } from '../../../src/errors.ts';
import {
  defaultJobOptions,
  SYNC_JOB,
  syncCatalogPayloadSchema,
  VERIFY_JOB,
} from '../../../src/queue/contract.ts';
import {
  desiredScheduler,
  planReconcile,
  scheduleOffsetMs,
  validateCron,
} from '../../../src/queue/schedules.ts';

describe('queue contract', () => {
  it('accepts the documented payloads and rejects anything else with the reason', () => {
    expect(parseJobPayload(SYNC_JOB, { projectId: 'p1', trigger: 'manual' })).toEqual({
      projectId: 'p1',
      trigger: 'manual',
    });
    expect(parseJobPayload(VERIFY_JOB, { projectId: 'p1' })).toEqual({ projectId: 'p1' });
    const bad = () => parseJobPayload(SYNC_JOB, { projectId: 'p1', trigger: 'hourly' });
    expect(bad).toThrow(expect.objectContaining({ kind: 'invalid_payload', retryable: false }));
    expect(bad).toThrow(/trigger.*schedule.*credentials-saved.*manual/);
    expect(() => parseJobPayload(SYNC_JOB, { projectId: '', trigger: 'manual' })).toThrow(/projectId/);
    expect(() => parseJobPayload(VERIFY_JOB, { projectId: 'p1', privateKey: 'x' })).toThrow(/privateKey/);
    expect(() => parseJobPayload(VERIFY_JOB, 'p1')).toThrow(AppError);
    expect(syncCatalogPayloadSchema.safeParse({ projectId: 'has space', trigger: 'manual' }).success).toBe(
      false,
    );
  });

  it('default job options retry with exponential backoff and remove finished jobs', () => {
    expect(defaultJobOptions(7)).toMatchObject({
      attempts: 7,
      backoff: { type: 'exponential' },
      removeOnComplete: { age: expect.any(Number), count: expect.any(Number) },
      removeOnFail: { age: expect.any(Number), count: expect.any(Number) },
    });
  });
});

describe('classifyFailure', () => {
  it('delays on a 429 for Retry-After (bounded), without burning attempts', () => {
    const limited = new AppStoreError('rate_limited', 'slow down', { status: 429, retryAfterMs: 7_000 });
    expect(classifyFailure(limited)).toEqual({ action: 'delay', delayMs: 7_000 });
    expect(classifyFailure(new AppStoreError('rate_limited', 'x', { retryAfterMs: 10 }))).toEqual({
      action: 'delay',
      delayMs: 1_000,
    });
    expect(classifyFailure(new AppStoreError('rate_limited', 'x'))).toMatchObject({ action: 'delay' });
    expect(classifyFailure(limited, RATE_LIMIT_MAX_DEFERRALS)).toEqual({ action: 'retry' });
  });

  it('does not retry what retrying cannot fix, and retries the transient', () => {
    for (const error of [
      new AppStoreError('auth', 'bad key'),
      new AppStoreError('forbidden', 'role'),
      new PreconditionError('no app selected'),
      new InvalidInputError('project', 'bad'),
    ]) {
      expect(classifyFailure(error)).toEqual({ action: 'fail', reason: error.message });
    }
    expect(classifyFailure(new AppStoreError('transient', '503'))).toEqual({ action: 'retry' });
    expect(classifyFailure(new AppError('sync_in_progress', 'busy', { retryable: true }))).toEqual({
      action: 'retry',
    });
    expect(classifyFailure(new Error('connection reset'))).toEqual({ action: 'retry' });
  });
});

describe('schedules (pure parts)', () => {
  it('validates cron expressions', () => {
    expect(validateCron(' 0  */6 * * * ')).toBe('0 */6 * * *');
    expect(validateCron('@hourly')).toBe('@hourly');
    expect(validateCron('0 9 * * mon-fri')).toBe('0 9 * * mon-fri');
    for (const bad of ['0 */6 * *', '61 * * * *', 'H * * * *', 'every day', '0 0 31 2 *']) {
      expect(() => validateCron(bad)).toThrow(/^cron: /);
    }
  });

  it('gives each project a stable offset inside its interval, spread across projects', () => {
    const every = 6 * 3600 * 1000;
    expect(scheduleOffsetMs('p1', every)).toBe(scheduleOffsetMs('p1', every));
    const offsets = Array.from({ length: 200 }, (_, i) => scheduleOffsetMs(`project-${i}`, every));
    for (const offset of offsets) {
      expect(offset).toBeGreaterThan(0);
      expect(offset).toBeLessThan(every);
    }
    // Spread: 200 projects land in at least 30 of the 36 ten-minute slots of 6h.
    expect(new Set(offsets.map((o) => Math.floor(o / 600_000))).size).toBeGreaterThanOrEqual(30);
  });

  it('plans only the writes that make Redis mirror Postgres', () => {
    const a = desiredScheduler({ id: 'a', scheduleEverySeconds: 60, scheduleCron: null })!;
    const b = desiredScheduler({ id: 'b', scheduleEverySeconds: null, scheduleCron: '0 * * * *' })!;
    const template = (projectId: string) => ({
      data: { projectId, trigger: 'schedule' },
      opts: { attempts: 5 },
    });
    const inRedis = [
      { key: 'sync:a', name: SYNC_JOB, every: 60_000, offset: a.offset, template: template('a') },
      { key: 'sync:b', name: SYNC_JOB, pattern: '0 */2 * * *', tz: 'UTC', template: template('b') },
      { key: 'sync:gone', name: SYNC_JOB, every: 1000, template: template('gone') },
      { key: 'someone-else', name: 'other', every: 1000 },
    ];
    expect(planReconcile([a, b], inRedis, 5)).toEqual({ upsert: [b], remove: ['sync:gone'], unchanged: 1 });
    expect(planReconcile([a, b], inRedis, 3).upsert).toEqual([a, b]);
    expect(planReconcile([a], inRedis, 5, new Set(['sync:a']))).toEqual({
      upsert: [],
      remove: [],
      unchanged: 1,
    });
  });
});
