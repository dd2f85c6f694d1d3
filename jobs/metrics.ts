import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Outcome of one processing of a job (one attempt). */
export type JobOutcome = 'completed' | 'retrying' | 'failed' | 'rate_limited' | 'invalid';

/** What the health server's /metrics exposes (Prometheus text format). One registry per worker. */
export interface WorkerMetrics {
  registry: Registry;
  jobProcessed(job: string, outcome: JobOutcome): void;
  syncFinished(seconds: number, outcome: 'succeeded' | 'failed'): void;
  /** One App Store Connect response (status undefined: none came) and the budget it reported. */
  appStoreResponse(
    status: number | undefined,
    keyId: string | undefined,
    rateLimit?: Record<string, number>,
  ): void;
  /** Sources read at scrape time (Redis), so the numbers are current. */
  observeQueue(sources: { schedules(): Promise<number>; jobCounts(): Promise<Record<string, number>> }): void;
}

/**
 * In a group of worker processes the supervisor sums the children's series (prom-client's
 * AggregatorRegistry): counters and histograms add up; the gauges every process reads from the same
 * Redis say how they combine instead. `processIndex` adds a per-process job counter, so a scrape
 * also shows which process did what.
 */
export function createWorkerMetrics(options: { processIndex?: number | undefined } = {}): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'catalog_sync_' });
  const processIndex = options.processIndex;
  const perProcess =
    processIndex === undefined
      ? undefined
      : new Counter({
          name: 'catalog_sync_process_jobs_total',
          help: 'Jobs processed by one worker process of a group, by its index in the group',
          labelNames: ['process'] as const,
          registers: [registry],
        });

  const jobs = new Counter({
    name: 'catalog_sync_jobs_total',
    help: 'Jobs processed, by job name and outcome (completed, retrying, failed, rate_limited, invalid)',
    labelNames: ['job', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'catalog_sync_sync_duration_seconds',
    help: 'Duration of one project sync, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'catalog_sync_appstore_requests_total',
    help: 'App Store Connect requests, by HTTP status ("network" when no response came)',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const budget = new Gauge({
    name: 'catalog_sync_appstore_rate_limit_remaining',
    help: 'Requests left in the App Store Connect rate-limit window, from the last X-Rate-Limit seen, per key id and window',
    labelNames: ['key_id', 'window'] as const,
    registers: [registry],
    aggregator: 'min',
  });
  const budgetLimit = new Gauge({
    name: 'catalog_sync_appstore_rate_limit_limit',
    help: 'Size of the App Store Connect rate-limit window, from the last X-Rate-Limit seen, per key id and window',
    labelNames: ['key_id', 'window'] as const,
    registers: [registry],
    aggregator: 'max',
  });

  let sources: Parameters<WorkerMetrics['observeQueue']>[0] | undefined;
  new Gauge({
    name: 'catalog_sync_schedules',
    help: 'Job schedulers (periodic project syncs) in Redis',
    registers: [registry],
    aggregator: 'max',
    async collect() {
      if (!sources) return;
      try {
        this.set(await sources.schedules());
      } catch {
        // Redis unreachable: /readyz says so; keep the last value.
      }
    },
  });
  new Gauge({
    name: 'catalog_sync_queue_jobs',
    help: 'Jobs in the catalog-sync queue, by state',
    labelNames: ['state'] as const,
    registers: [registry],
    aggregator: 'max',
    async collect() {
      if (!sources) return;
      try {
        const counts = await sources.jobCounts();
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      } catch {
        // as above
      }
    },
  });

  return {
    registry,
    jobProcessed(job, outcome) {
      jobs.inc({ job, outcome });
      perProcess?.inc({ process: String(processIndex) });
    },
    syncFinished: (seconds, outcome) => duration.observe({ outcome }, seconds),
    appStoreResponse(status, keyId, rateLimit) {
      requests.inc({ status: status === undefined ? 'network' : String(status) });
      if (!rateLimit || !keyId) return;
      // `user-hour-lim` / `user-hour-rem` → window `user-hour`.
      for (const [name, value] of Object.entries(rateLimit)) {
        const match = /^(.*)-(lim|rem)$/.exec(name);
        if (!match?.[1]) continue;
        (match[2] === 'rem' ? budget : budgetLimit).set({ key_id: keyId, window: match[1] }, value);
      }
    },
    observeQueue(next) {
      sources = next;
    },
  };
}
