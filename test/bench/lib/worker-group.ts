import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../../db/client.ts';
import { type BenchChild, procCpuMs, procPeakRssMiB, spawnNode } from './child.ts';
import type { Cleanup } from './cleanup.ts';

/*
 * The real `catalog-sync worker --processes N` as a benchmark subject: started as operators run
 * it, watched only from outside (its /readyz for the children's pids, the sync runs it wrote for
 * when a pass ended, its aggregated /metrics for the jobs it counted, /proc for CPU and memory),
 * stopped with SIGTERM.
 */

const BIN = fileURLToPath(new URL('../../../bin/catalog-sync.js', import.meta.url));

export interface WorkerGroup {
  processes: number;
  /** The supervisor (N > 1) or the single worker (N = 1). */
  child: BenchChild;
  /** Every process of the group: the supervisor and its children, or the single worker. */
  pids: number[];
  /** The processes that run jobs (the children, or the single worker). */
  workerPids: number[];
  /** Jobs finished so far (completed, failed or invalid), from the group's /metrics. */
  finishedJobs(): Promise<number>;
  cpuMs(): number;
  /** Current RSS of each worker process, MiB. */
  rssMiB(): number[];
  /** Peak RSS of each worker process so far, MiB. */
  peakRssMiB(): number[];
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match?.[1] ? Number(match[1]) / 1024 : Number.NaN;
}

export async function startWorkerGroup(
  cleanup: Cleanup,
  processes: number,
  env: Record<string, string>,
): Promise<WorkerGroup> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawnNode(
    cleanup,
    `worker --processes ${processes}`,
    [BIN, 'worker', '--processes', String(processes)],
    {
      env: { ...process.env, ...env, METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' },
    },
  );
  const deadline = Date.now() + 120_000;
  let body: { processes?: Array<{ pid: number | null }> } | undefined;
  for (;;) {
    const response = await fetch(`${base}/readyz`).catch(() => undefined);
    if (response?.status === 200) {
      body = (await response.json()) as typeof body;
      break;
    }
    if (Date.now() > deadline) throw new Error(`worker --processes ${processes} was not ready within 120 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const workerPids = body?.processes ? body.processes.map((p) => p.pid!).filter(Boolean) : [child.pid];
  const pids = processes > 1 ? [child.pid, ...workerPids] : [child.pid];
  const series = /^catalog_sync_jobs_total\{job="[^"]+",outcome="(completed|failed|invalid)"\} (\d+)/gm;
  return {
    processes,
    child,
    pids,
    workerPids,
    async finishedJobs() {
      const text = await (await fetch(`${base}/metrics`)).text();
      let sum = 0;
      for (const match of text.matchAll(series)) sum += Number(match[2]);
      return sum;
    },
    cpuMs: () => pids.reduce((sum, pid) => sum + procCpuMs(pid), 0),
    rssMiB: () => workerPids.map(rssOf),
    peakRssMiB: () => workerPids.map(procPeakRssMiB),
    stop: () => child.stop(60_000),
  };
}

/**
 * Waits until every project of `projectIds` has a sync run that started at or after `since` (the
 * database's clock) and succeeded, polling Postgres; returns the wall time from `since` to the last
 * of those runs' end, on the same clock. Not the group's /metrics: under load one scrape took up to
 * 1.7 s (so the pass's end was seen late), and ten scrapes a second were work for the workers that
 * Prometheus, scraping every 15 s or more, never asks of them.
 */
export async function waitForRuns(
  db: Db,
  since: string,
  projectIds: readonly string[],
  timeoutMs: number,
  what: string,
): Promise<{ wallMs: number; failedAttempts: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = rowsOf<{ done: number; failed: number; wall_ms: number | null }>(
      await db.execute(sql`
        select count(distinct project_id) filter (where status = 'succeeded')::int as done,
               count(*) filter (where status = 'failed')::int as failed,
               (extract(epoch from max(finished_at) - ${since}::timestamptz) * 1000)::float8 as wall_ms
          from sync_runs
         where started_at >= ${since}::timestamptz and project_id = any(string_to_array(${projectIds.join(',')}, ','))`),
    );
    const done = Number(row?.done ?? 0);
    if (done >= projectIds.length) {
      return { wallMs: Number(row?.wall_ms), failedAttempts: Number(row?.failed ?? 0) };
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: ${done} of ${projectIds.length} projects synced after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The database's clock now, as ISO text (the start of a pass that waitForRuns measures). */
export async function databaseNow(db: Db): Promise<string> {
  const [row] = rowsOf<{ now: string }>(
    await db.execute(sql`select to_json(clock_timestamp()) #>> '{}' as now`),
  );
  if (!row) throw new Error('the database clock query returned no row');
  return row.now;
}

export const binPath = path.resolve(BIN);
