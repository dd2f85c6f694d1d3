/**
 * The worker process of the fleet benchmark (scenario 4): what `catalog-sync worker` runs
 * (runWorker in jobs/main.ts: the same database pool size and startWorkerService, metrics
 * included), plus a Node IPC channel through which the benchmark reads this process's CPU time,
 * peak RSS and the timing of every finished job, and starts and stops CPU profiles.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import type { Job } from 'bullmq';
import { openDatabase } from '../../db/client.ts';
import { startWorkerService } from '../../jobs/main.ts';
import { workerPoolSize } from '../../jobs/pool.ts';
import { loadConfig } from '../../src/config/env.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { SyncSummary } from '../../src/sync/run.ts';
import type { FromWorker, JobTiming, ToWorker } from './lib/fleet-protocol.ts';

if (!process.send)
  throw new Error('fleet-worker.ts is started by the fleet benchmark (it needs an IPC channel).');
const send = (message: FromWorker) => process.send?.(message);

const config = loadConfig();
const logger = createLogger({ level: config.log.level, format: 'json' });
// The pool runWorker opens.
const database = await openDatabase({
  databaseUrl: config.databaseUrl,
  dataDir: config.dataDir,
  max: workerPoolSize(config),
});
const service = await startWorkerService({ db: database.db, config, logger }, { metricsPort: 0 });
const worker = service.worker;

let completed = 0;
let failed = 0;
let lastError: string | null = null;
let jobs: JobTiming[] = [];

worker.on('completed', (job: Job, result: unknown) => {
  completed++;
  const summary = result as Partial<SyncSummary> | undefined;
  jobs.push({
    processedOn: job.processedOn ?? Number.NaN,
    finishedOn: job.finishedOn ?? Date.now(),
    syncMs: summary?.durationMs ?? Number.NaN,
    unchanged: summary?.unchanged ?? false,
    requests: summary?.requests ?? Number.NaN,
  });
});
worker.on('failed', (job, error) => {
  // Only final failures count; a retried attempt comes back as another event.
  if (job && (job.attemptsMade ?? 0) < (job.opts.attempts ?? 1) && error.name !== 'UnrecoverableError')
    return;
  failed++;
  lastError = error.message;
});

let profiler: Session | undefined;

process.on('message', (message: ToWorker) => {
  handle(message).catch((error: unknown) => {
    // The benchmark is waiting for an answer: say what went wrong on stderr, then stop.
    process.stderr.write(`fleet worker: ${error instanceof Error ? error.message : String(error)}\n`);
    void stop();
  });
});

async function handle(message: ToWorker): Promise<void> {
  if (message.type === 'profile-start') {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    send({ type: 'profile-started' });
  } else if (message.type === 'profile-stop') {
    const result = await profiler?.post('Profiler.stop');
    if (result) writeFileSync(message.file, JSON.stringify(result.profile));
    profiler?.disconnect();
    profiler = undefined;
    send({ type: 'profile-stopped', file: message.file });
  } else if (message.type === 'progress') {
    send({ type: 'progress', completed, failed, lastError });
  } else if (message.type === 'mark') {
    const cpu = process.cpuUsage();
    const usage = process.resourceUsage();
    send({
      type: 'mark',
      cpu: { user: cpu.user, system: cpu.system },
      elu: (({ idle, active }) => ({ idle, active }))(performance.eventLoopUtilization()),
      maxRssKiB: usage.maxRSS,
      switches: { voluntary: usage.voluntaryContextSwitches, involuntary: usage.involuntaryContextSwitches },
      completed,
      failed,
      jobs,
    });
    jobs = [];
  }
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await service.close('SIGTERM');
  await database.close();
  process.disconnect?.();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// The benchmark went away without stopping us: stop anyway.
process.on('disconnect', () => void stop());

send({ type: 'ready', concurrency: worker.concurrency });
