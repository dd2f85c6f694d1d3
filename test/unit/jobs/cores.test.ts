import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupCpuQuota, parseCpuMax, processesFor, quotaCores } from '../../../jobs/cores.ts';

describe('cores available to the worker', () => {
  it('reads cgroup v2 cpu.max', () => {
    expect(parseCpuMax('max 100000\n')).toBeUndefined();
    expect(parseCpuMax('200000 100000\n')).toBe(2);
    expect(parseCpuMax('150000 100000')).toBe(1.5);
    expect(parseCpuMax('50000')).toBe(0.5);
    expect(parseCpuMax('')).toBeUndefined();
  });

  it('reads cgroup v1 quota and period (-1 = unlimited)', () => {
    expect(quotaCores(-1, 100_000)).toBeUndefined();
    expect(quotaCores(300_000, 100_000)).toBe(3);
    expect(quotaCores(Number.NaN, 100_000)).toBeUndefined();
  });

  it('caps the cores by the quota, rounding a fractional quota up, at least one', () => {
    expect(processesFor(8, undefined)).toBe(8);
    expect(processesFor(8, 2)).toBe(2);
    expect(processesFor(8, 1.5)).toBe(2);
    expect(processesFor(8, 0.25)).toBe(1);
    expect(processesFor(2, 16)).toBe(2);
    expect(processesFor(0, undefined)).toBe(1);
  });

  it('finds the quota under a cgroup root, v2 first, then v1', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'cgroup-'));
    try {
      expect(cgroupCpuQuota(root)).toBeUndefined();
      mkdirSync(path.join(root, 'cpu,cpuacct'));
      writeFileSync(path.join(root, 'cpu,cpuacct', 'cpu.cfs_quota_us'), '250000\n');
      writeFileSync(path.join(root, 'cpu,cpuacct', 'cpu.cfs_period_us'), '100000\n');
      expect(cgroupCpuQuota(root)).toBe(2.5);
      writeFileSync(path.join(root, 'cpu.max'), '100000 100000\n');
      expect(cgroupCpuQuota(root)).toBe(1);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
