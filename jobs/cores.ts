import { readFileSync } from 'node:fs';
import os from 'node:os';

/*
 * How many worker processes "one per core" means here: the cores this process may use
 * (`os.availableParallelism()` honours the CPU affinity mask), capped by a container's CPU quota
 * (cgroup v2 `cpu.max`, cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), rounded up so a
 * quota of 1.5 CPUs still gets two processes, and never less than one.
 */

/** The CPU quota in cores from cgroup v2's `cpu.max` ("max 100000" or "150000 100000"); undefined = no limit. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (!quota || quota === 'max') return undefined;
  return quotaCores(Number(quota), Number(period ?? 100_000));
}

/** The CPU quota in cores from cgroup v1's quota and period (quota -1 = no limit). */
export function quotaCores(quota: number, period: number): number | undefined {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return undefined;
  return quota / period;
}

/** Combines the cores the scheduler offers with a quota (in cores, fractional) into a process count. */
export function processesFor(available: number, quotaInCores: number | undefined): number {
  const cores = Math.max(1, Math.floor(available));
  if (quotaInCores === undefined) return cores;
  return Math.max(1, Math.min(cores, Math.ceil(quotaInCores - 1e-9)));
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The container's CPU quota in cores, or undefined when there is none (or no cgroup fs to read). */
export function cgroupCpuQuota(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = read(`${root}/cpu.max`);
  if (v2 !== undefined) return parseCpuMax(v2);
  for (const dir of [`${root}/cpu`, `${root}/cpu,cpuacct`, `${root}/cpuacct,cpu`]) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    const period = read(`${dir}/cpu.cfs_period_us`);
    if (quota !== undefined && period !== undefined) return quotaCores(Number(quota), Number(period));
  }
  return undefined;
}

/** The default for `worker --processes` / WORKER_PROCESSES. */
export function availableCores(): number {
  return processesFor(os.availableParallelism(), cgroupCpuQuota());
}
