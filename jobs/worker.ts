import { type Job, Worker } from 'bullmq';
import type { JobContext } from '../src/app/index.ts';
import type { Logger } from '../src/log/logger.ts';
import { defaultJobOptions, QUEUE_NAME } from '../src/queue/contract.ts';
import type { RedisConnection } from '../src/queue/redis.ts';
import { createProcessor } from './processors.ts';

export interface CreateWorkerOptions {
  /** A connection with `maxRetriesPerRequest: null` (createRedis(url, 'worker')); BullMQ duplicates it for blocking reads. */
  connection: RedisConnection;
  /** BullMQ prefix (REDIS_PREFIX). */
  prefix: string;
  /** Jobs this process runs at once; default config.worker.concurrency. */
  concurrency?: number;
  /** How long a job's lock lives without renewal; a killed worker's job is recovered after about this long. */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (whose worker died) and puts them back. */
  stalledIntervalMs?: number;
  /** Start taking jobs at once (default true). */
  autorun?: boolean;
}

type AnyJob = Job<unknown, unknown, string>;

interface Slot {
  /** When the processor returned (or threw); null while it runs. */
  returnedAt: number | null;
  /** Frees the slot now, whatever BullMQ is still doing for the job. */
  letGo(): void;
}

/**
 * BullMQ's worker, with each job's slot under this process's control. A job holds a slot from
 * the moment it is taken until BullMQ has recorded its outcome in Redis. When Redis is gone, or
 * came back empty, that record may never be made: BullMQ keeps retrying it (and renewing a lock
 * Redis no longer has), and the slot is lost for good. Here such a job is let go: its slot is
 * freed, its lock no longer renewed, and no next job is fetched on its behalf. Nothing is lost:
 * a sync's request stays pending in Postgres until a run serves it, and is queued again.
 */
export class CatalogWorker extends Worker<unknown, unknown, string> {
  readonly slots = new Map<string, Slot>();

  override processJob(job: AnyJob, token: string, fetchNext: () => boolean = () => true) {
    const id = String(job.id);
    let abandoned = false;
    let release: () => void = () => {};
    const released = new Promise<undefined>((resolve) => {
      release = () => resolve(undefined);
    });
    const slot: Slot = {
      returnedAt: null,
      letGo: () => {
        if (abandoned) return;
        abandoned = true;
        this.lockManager.untrackJob(id);
        if (this.slots.get(id) === slot) this.slots.delete(id);
        release();
      },
    };
    this.slots.set(id, slot);
    const processing = super
      .processJob(job, token, () => !abandoned && fetchNext())
      .finally(() => {
        if (this.slots.get(id) === slot) this.slots.delete(id);
      });
    // BullMQ's own promise may still settle later (a record that finally went through): ignored.
    return Promise.race([processing, released]).then((next) => (abandoned ? undefined : next));
  }

  protected override async callProcessJob(
    job: AnyJob,
    token: string,
    signal?: AbortSignal,
  ): Promise<unknown> {
    try {
      return await super.callProcessJob(job, token, signal);
    } finally {
      const slot = this.slots.get(String(job.id));
      if (slot) slot.returnedAt = Date.now();
    }
  }

  /** Jobs whose processor returned more than `graceMs` ago and whose outcome is still not recorded. */
  unrecorded(graceMs: number, now = Date.now()): string[] {
    return [...this.slots].flatMap(([id, slot]) =>
      slot.returnedAt !== null && now - slot.returnedAt > graceMs ? [id] : [],
    );
  }

  /** Frees the slot of a job this process can no longer finish in Redis. */
  letGo(jobId: string): boolean {
    const slot = this.slots.get(jobId);
    if (!slot) return false;
    slot.letGo();
    return true;
  }

  /** Stops renewing a job's lock (Redis says it is not ours any more); its processor runs on. */
  stopRenewing(jobId: string): void {
    this.lockManager.untrackJob(jobId);
  }

  /** Jobs in this process's slots (running, or waiting for their outcome to be recorded). */
  get busySlots(): number {
    return this.slots.size;
  }
}

/**
 * The BullMQ worker for `catalog-sync`. Several processes (one host or many) may share the queue:
 * job locks keep each job on one worker, and stalled-job recovery hands a dead worker's job to
 * another. Finished jobs are removed by age and count even when a producer set no options.
 */
export function createWorker(ctx: JobContext, options: CreateWorkerOptions): CatalogWorker {
  const removal = defaultJobOptions(ctx.config.worker.syncAttempts);
  const lockDuration = options.lockDurationMs ?? ctx.config.worker.lockDurationMs;
  const worker = new CatalogWorker(QUEUE_NAME, createProcessor(ctx), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency ?? ctx.config.worker.concurrency,
    lockDuration,
    stalledInterval: options.stalledIntervalMs ?? ctx.config.worker.stalledIntervalMs,
    // One stall (a worker killed mid-job) is recovered; a job that kills every worker it touches fails.
    maxStalledCount: 2,
    removeOnComplete: removal.removeOnComplete as { age: number; count: number },
    removeOnFail: removal.removeOnFail as { age: number; count: number },
    autorun: options.autorun ?? true,
  });
  watchEvents(worker, ctx.logger);
  return worker;
}

function watchEvents(worker: CatalogWorker, logger: Logger) {
  // Lock renewal failures are reported below, once per job, not as an error every few seconds.
  worker.on('error', (error) => {
    if (/^could not renew lock for job /.test(error.message)) return;
    logger.error({ err: error }, 'worker error');
  });
  worker.on('lockRenewalFailed', (jobIds: string[]) => {
    for (const jobId of jobIds) {
      // Redis no longer holds this job's lock (it restarted empty, or the lock lapsed and another
      // worker took the job): renewing it again cannot succeed.
      worker.stopRenewing(jobId);
      logger.warn({ jobId }, 'job lock lost in Redis: no longer renewed; the job is let go once it returns');
    }
  });
  worker.on('stalled', (jobId) =>
    logger.warn({ jobId }, 'job stalled (its worker stopped renewing the lock): put back in the queue'),
  );
  worker.on('failed', (job, error) => {
    if (!job) return;
    logger.debug({ jobId: job.id, jobName: job.name, reason: error.message }, 'job attempt failed');
  });
}
