import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  postgres?: string;
  redis?: string;
  /** Share of all cores busy in the second before the run: other load skews every figure. */
  busyBeforeRun?: number;
  loadAverage?: number[];
}

export function describeHost(): Machine {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // Not Linux: os.cpus() is good enough.
  }
  return {
    cores: os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
  };
}

/** CPU time of the whole machine so far (all cores, ms): busy and idle (from /proc/stat). */
export function machineCpu(): { busyMs: number; idleMs: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, ...fields] = line.trim().split(/\s+/);
    const n = fields.map(Number);
    // user nice system idle iowait irq softirq steal (guest is already in user).
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    const busy = (n[0] ?? 0) + (n[1] ?? 0) + (n[2] ?? 0) + (n[5] ?? 0) + (n[6] ?? 0) + (n[7] ?? 0);
    // USER_HZ is 100 on every Linux this runs on.
    return { busyMs: busy * 10, idleMs: idle * 10 };
  } catch {
    return { busyMs: Number.NaN, idleMs: Number.NaN };
  }
}

/** How busy the machine is right now (all processes), measured over `ms`. */
export async function backgroundLoad(ms = 1000): Promise<number> {
  const before = machineCpu();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = machineCpu();
  const total = after.busyMs + after.idleMs - before.busyMs - before.idleMs;
  return total > 0 ? (after.busyMs - before.busyMs) / total : Number.NaN;
}
