import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Outcome of one processing of a job (one attempt). */
export type JobOutcome =
  | 'completed'
  | 'retrying'
  | 'failed'
  | 'rate_limited'
  | 'invalid'
  /** Postgres unreachable: the job waits for it (delayed, no attempt used). */
  | 'waiting_for_database'
  /** A schedule's tick, turned into a deduplicated sync-catalog job. */
  | 'forwarded';

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
  /** One webhook delivery attempt's outcome (succeeded, retrying, failed, disabled, cancelled). */
  webhookDelivery(outcome: string): void;
  /** Age of the oldest event not yet delivered, read at scrape time (Postgres). */
  observeOutbox(oldestAgeSeconds: () => Promise<number>): void;
  /** Issue 11: whether the last database access of a job found Postgres reachable. */
  databaseReachable(up: boolean): void;
  runsAbandoned(count: number): void;
  requestsRequeued(count: number): void;
  /** Sources read at scrape time (Redis), so the numbers are current. */
  observeQueue(sources: { schedules(): Promise<number>; jobCounts(): Promise<Record<string, number>> }): void;
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'catalog_sync_' });

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
  });
  const budgetLimit = new Gauge({
    name: 'catalog_sync_appstore_rate_limit_limit',
    help: 'Size of the App Store Connect rate-limit window, from the last X-Rate-Limit seen, per key id and window',
    labelNames: ['key_id', 'window'] as const,
    registers: [registry],
  });

  const deliveries = new Counter({
    name: 'catalog_sync_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome (succeeded, retrying, failed, disabled, cancelled)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  let outboxAge: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'catalog_sync_events_outbox_oldest_age_seconds',
    help: 'Age of the oldest event not yet delivered to every endpoint (0 when none is waiting)',
    registers: [registry],
    async collect() {
      if (!outboxAge) return;
      try {
        this.set(await outboxAge());
      } catch {
        // Postgres unreachable: /readyz says so; keep the last value.
      }
    },
  });
  const databaseUp = new Gauge({
    name: 'catalog_sync_database_up',
    help: '0 while jobs find Postgres unreachable (they wait for it without using attempts), else 1',
    registers: [registry],
  });
  databaseUp.set(1);
  const abandoned = new Counter({
    name: 'catalog_sync_sync_runs_abandoned_total',
    help: 'Sync runs ended as abandoned by this worker (their worker died or lost the database mid-sync)',
    registers: [registry],
  });
  const requeued = new Counter({
    name: 'catalog_sync_sync_requests_requeued_total',
    help: 'Pending sync requests re-enqueued from Postgres by this worker (Redis had lost them)',
    registers: [registry],
  });

  let sources: Parameters<WorkerMetrics['observeQueue']>[0] | undefined;
  new Gauge({
    name: 'catalog_sync_schedules',
    help: 'Job schedulers (periodic project syncs) in Redis',
    registers: [registry],
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
    jobProcessed: (job, outcome) => jobs.inc({ job, outcome }),
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
    webhookDelivery: (outcome) => deliveries.inc({ outcome }),
    observeOutbox(next) {
      outboxAge = next;
    },
    databaseReachable: (up) => databaseUp.set(up ? 1 : 0),
    runsAbandoned: (count) => abandoned.inc(count),
    requestsRequeued: (count) => requeued.inc(count),
    observeQueue(next) {
      sources = next;
    },
  };
}
