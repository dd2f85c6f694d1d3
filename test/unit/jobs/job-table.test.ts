import { describe, expect, it } from 'vitest';
import { drainBudgetMs } from '../../../jobs/main.ts';
import { hasIdleSlotWithWork } from '../../../jobs/slots.ts';
import { type AppContext, JOBS, type JobObserver, type JobRun, runJob } from '../../../src/app/index.ts';
import { loadConfig } from '../../../src/config/env.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { JOB_NAMES } from '../../../src/queue/contract.ts';

/*
 * The job table's own decisions that need no database: every contract job has an entry, and what
 * cannot be run (an unknown name, a bad payload) is rejected with the reason, counted, and never
 * reaches a handler. The BullMQ mapping's helpers beside it.
 */

const run: JobRun = {
  id: '1',
  attempt: 1,
  attempts: 5,
  deferrals: 0,
  fromScheduler: false,
  enqueuedAt: new Date(),
};

function context(counted: string[]): AppContext & { observer: JobObserver } {
  const unreachable = () => {
    throw new Error('no handler may run for a job that is rejected');
  };
  return {
    db: new Proxy({}, { get: unreachable }) as AppContext['db'],
    config: loadConfig({ CREDENTIALS_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') }),
    logger: createLogger({ level: 'silent' }),
    queue: unreachable,
    queueEvents: unreachable,
    observer: {
      jobProcessed: (job, outcome) => counted.push(`${job}:${outcome}`),
      syncFinished: () => {},
      appStoreResponse: () => {},
      databaseReachable: () => {},
      detailsRefreshed: () => {},
    },
  };
}

describe('the job table', () => {
  it('has an entry for every job of the contract', () => {
    expect(Object.keys(JOBS).sort()).toEqual([...JOB_NAMES].sort());
  });

  it('rejects an unknown job name, naming the jobs it runs', async () => {
    const counted: string[] = [];
    const outcome = await runJob(context(counted), 'sync-everything', { projectId: 'p' }, run);
    expect(outcome).toEqual({
      kind: 'rejected',
      reason: expect.stringMatching(/Unknown job name "sync-everything".*sync-catalog/),
    });
    expect(counted).toEqual(['unknown:invalid']);
  });

  it('rejects a bad payload with what is wrong and what is expected, without running the job', async () => {
    const counted: string[] = [];
    const outcome = await runJob(
      context(counted),
      'sync-catalog',
      { projectId: 'p', trigger: 'hourly', key: 'x' },
      run,
    );
    expect(outcome.kind).toBe('rejected');
    const { reason } = outcome as { reason: string };
    expect(reason).toMatch(/^Invalid sync-catalog payload \(/);
    expect(reason).toContain('trigger');
    expect(reason).toContain('"trigger": "schedule" | "credentials-saved" | "manual"');
    expect(counted).toEqual(['sync-catalog:invalid']);
  });
});

describe('the worker around it', () => {
  it('counts a worker as wanting work only with a free slot and a waiting job', () => {
    expect(hasIdleSlotWithWork({ waiting: 3, busy: 1, concurrency: 2 })).toBe(true);
    expect(hasIdleSlotWithWork({ waiting: 3, busy: 2, concurrency: 2 })).toBe(false);
    expect(hasIdleSlotWithWork({ waiting: 0, busy: 0, concurrency: 2 })).toBe(false);
  });

  it('keeps part of SHUTDOWN_TIMEOUT_MS for closing connections after the drain', () => {
    expect(drainBudgetMs(30_000)).toBe(27_000);
    expect(drainBudgetMs(3_000)).toBe(2_000);
    expect(drainBudgetMs(0)).toBe(0);
  });
});
