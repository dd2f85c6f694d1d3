/**
 * The worker process of the fleet benchmark (scenario 4): the production `createWorker` with the
 * environment's config, plus a Node IPC channel through which the benchmark reads this process's
 * CPU time, peak RSS and the timing of every finished job. Stops cleanly on SIGTERM (so that a
 * --cpu-prof profile is written).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { Job } from 'bullmq';
import { openDatabase } from '../../db/client.ts';
import { closeRedis, connectRedis, createRedis } from '../../jobs/redis.ts';
import { createWorker } from '../../jobs/worker.ts';
import { loadConfig } from '../../src/config/env.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { SyncSummary } from '../../src/sync/run.ts';
import type { FromWorker, JobTiming, ToWorker } from './lib/fleet-protocol.ts';

if (!process.send)
  throw new Error('fleet-worker.ts is started by the fleet benchmark (it needs an IPC channel).');
const send = (message: FromWorker) => process.send?.(message);

const config = loadConfig();
const logger = createLogger({ level: config.log.level, format: 'json' });
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
const connection = createRedis(config.redis.url, 'worker');
await connectRedis(connection, config.redis.url);
const worker = createWorker({ db: database.db, config, logger }, { connection, prefix: config.redis.prefix });

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

process.on('message', async (message: ToWorker) => {
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
    send({
      type: 'mark',
      cpu: { user: cpu.user, system: cpu.system },
      maxRssKiB: process.resourceUsage().maxRSS,
      completed,
      failed,
      jobs,
    });
    jobs = [];
  }
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await worker.close();
  await closeRedis(connection);
  await database.close();
  process.disconnect?.();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// The benchmark went away without stopping us: stop anyway.
process.on('disconnect', () => void stop());

await worker.waitUntilReady();
send({ type: 'ready', concurrency: worker.concurrency });
