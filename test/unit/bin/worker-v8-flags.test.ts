import { describe, expect, it } from 'vitest';
import { missingWorkerFlags, WORKER_V8_FLAGS } from '../../../bin/worker-v8-flags.js';

describe('the heap flags `catalog-sync worker` adds', () => {
  it('adds only what neither node flags nor NODE_OPTIONS set, whatever value they chose', () => {
    expect(missingWorkerFlags([], '')).toEqual(WORKER_V8_FLAGS);
    expect(missingWorkerFlags(['--max-semi-space-size=32'], '')).toEqual(['--heap-growing-percent=100']);
    expect(missingWorkerFlags([], '--inspect --max-semi-space-size=8')).toEqual([
      '--heap-growing-percent=100',
    ]);
    // Once re-executed with them, nothing is missing: no second re-execution.
    expect(missingWorkerFlags(WORKER_V8_FLAGS, undefined)).toEqual([]);
    // A flag that merely starts alike is not the same flag.
    expect(missingWorkerFlags(['--max-semi-space-size-x=1'], '')).toEqual(WORKER_V8_FLAGS);
  });
});
