import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Cleanup } from './cleanup.ts';

export interface BenchChild {
  pid: number;
  process: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the first stdout line (past or future) that `match` accepts. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string>;
  /** User + system CPU of the process so far, in ms (from /proc/<pid>/stat). */
  cpuMs(): number;
  /** Peak resident set size so far, in MiB (VmHWM). */
  peakRssMiB(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces; fields after the closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / ticksPerSecond();
}

export function procPeakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return match?.[1] ? Number(match[1]) / 1024 : Number.NaN;
}

/**
 * Spawns a Node script (with this Node, whatever PATH says) whose stdout we read line by line;
 * stderr is kept for error messages. The cleanup stack stops it if the benchmark fails.
 */
export function spawnNode(
  cleanup: Cleanup,
  label: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; ipc?: boolean } = {},
): BenchChild {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...args], {
    env: options.env ?? process.env,
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`Could not start ${label}.`);
  const pid = child.pid;
  const lines: string[] = [];
  const waiters = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? null : 0);
      resolve(exitCode);
    });
  });

  const waitForLine: BenchChild['waitForLine'] = (match, timeoutMs, what) => {
    const seen = lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (line: string) => finish(() => resolve(line)) };
      const timer = setTimeout(
        () =>
          finish(() => reject(new Error(`${label}: no ${what} within ${timeoutMs} ms. stderr:\n${stderr}`))),
        timeoutMs,
      );
      const onExit = (code: number | null) =>
        finish(() => reject(new Error(`${label} exited (${code}) before ${what}. stderr:\n${stderr}`)));
      void exited.then(onExit);
      function finish(action: () => void) {
        clearTimeout(timer);
        waiters.delete(waiter);
        action();
      }
      waiters.add(waiter);
    });
  };

  const stop = async (graceMs = 10_000) => {
    if (exitCode !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (exitCode === undefined) child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  };
  cleanup.defer(`stop ${label} (pid ${pid})`, () => stop(5_000));

  return {
    pid,
    process: child,
    lines,
    waitForLine,
    cpuMs: () => procCpuMs(pid),
    peakRssMiB: () => procPeakRssMiB(pid),
    stop,
    exited,
  };
}

/** Parses a line as JSON, or undefined. */
export function jsonLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Processes whose command line matches `pattern` (e.g. Postgres backends of one database). */
export function findProcesses(pattern: RegExp): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (pattern.test(cmdline)) pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/** Total CPU ms of the processes matching `pattern` right now (a process gone since is lost). */
export function cpuOfProcesses(pattern: RegExp): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of findProcesses(pattern)) {
    try {
      out.set(pid, procCpuMs(pid));
    } catch {
      // Exited in between.
    }
  }
  return out;
}

/** CPU used between two `cpuOfProcesses` snapshots (processes that started in between count from 0). */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}
