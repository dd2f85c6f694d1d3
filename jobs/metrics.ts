import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type DetailAgeDistribution, healthIssueKinds, type JobOutcomeLabel } from '../src/app/index.ts';
import { registerSnapshotHistogram } from './snapshot-histogram.ts';

/** The detail ages counted into the given bucket bounds (seconds), by Postgres. */
export type DetailAgeSource = (bounds: readonly number[]) => Promise<DetailAgeDistribution>;
const DETAIL_AGE_BUCKETS = [300, 900, 3_600, 6 * 3_600, 12 * 3_600, 24 * 3_600, 48 * 3_600, 7 * 86_400];

/** Outcome of one processing of a job (one attempt): the job table's labels. */
export type JobOutcome = JobOutcomeLabel;

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
  /** Whether the last database access of a job found Postgres reachable. */
  databaseReachable(up: boolean): void;
  runsAbandoned(count: number): void;
  requestsRequeued(count: number): void;
  /** Jobs let go because their outcome could not be recorded in Redis (jobs/slots.ts). */
  jobsLetGo(count: number): void;
  /** Sources read at scrape time (Redis), so the numbers are current. */
  observeQueue(sources: { schedules(): Promise<number>; jobCounts(): Promise<Record<string, number>> }): void;
  /** One project's detail refresh: requests by endpoint, the key's details budget. */
  detailsRefreshed(input: {
    requestsByCallSite: Record<string, number>;
    /** A hash of the key id (budget.ts keyLabel), never the id itself. */
    key: string | undefined;
    budget: { used: number; left: number } | undefined;
  }): void;
  /** Catalog health issues by kind over every project (Postgres), read at scrape time. */
  observeHealth(source: () => Promise<Record<string, number>>): void;
  /** Ages of every present product's details (seconds; never read: since first seen), read at scrape time. */
  observeDetailAges(source: DetailAgeSource): void;
}

/**
 * `keyIdLabels` (METRICS_KEY_ID_LABELS): label the rate-limit gauges with each customer's Key ID.
 * Off by default: a Key ID is not a secret, but it identifies a customer to whoever scrapes, and
 * one series per key grows without bound; without it the gauges show the last key seen.
 * In a group of worker processes the supervisor sums the children's series (prom-client's
 * AggregatorRegistry): counters and histograms add up; the gauges every process reads from the same
 * Redis say how they combine instead. `processIndex` adds a per-process job counter, so a scrape
 * also shows which process did what.
 */
export function createWorkerMetrics(
  options: { keyIdLabels?: boolean; processIndex?: number | undefined } = {},
): WorkerMetrics {
  const byKey = options.keyIdLabels === true;
  const budgetLabels = byKey ? (['key_id', 'window'] as const) : (['window'] as const);
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
    help: 'Requests left in the App Store Connect rate-limit window, from the last X-Rate-Limit seen, per window (and key id when METRICS_KEY_ID_LABELS=true)',
    labelNames: budgetLabels as readonly string[],
    registers: [registry],
    aggregator: 'min',
  });
  const budgetLimit = new Gauge({
    name: 'catalog_sync_appstore_rate_limit_limit',
    help: 'Size of the App Store Connect rate-limit window, from the last X-Rate-Limit seen, per window (and key id when METRICS_KEY_ID_LABELS=true)',
    labelNames: budgetLabels as readonly string[],
    registers: [registry],
    aggregator: 'max',
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
  const letGo = new Counter({
    name: 'catalog_sync_jobs_let_go_total',
    help: 'Jobs whose outcome could not be recorded in Redis (it died or came back empty) and whose slot was freed',
    registers: [registry],
  });
  const detailRequests = new Counter({
    name: 'catalog_sync_detail_requests_total',
    help: 'App Store Connect requests made to read catalog details, by endpoint (call site)',
    labelNames: ['endpoint'] as const,
    registers: [registry],
  });
  const detailsBudgetUsed = new Gauge({
    name: 'catalog_sync_details_budget_used',
    help: "Requests of a key's details share spent in the current window (key: a hash of the key id)",
    labelNames: ['key'] as const,
    registers: [registry],
    // A group's children read the one budget in Redis: the most any of them saw, never their sum.
    aggregator: 'max',
  });
  const detailsBudgetLeft = new Gauge({
    name: 'catalog_sync_details_budget_left',
    help: "Requests left in a key's details share for the current window (key: a hash of the key id)",
    labelNames: ['key'] as const,
    registers: [registry],
    aggregator: 'min',
  });
  let healthTotals: (() => Promise<Record<string, number>>) | undefined;
  new Gauge({
    name: 'catalog_sync_catalog_health_issues',
    help: "Catalog health issues by kind, over every project's last reported health (Postgres)",
    labelNames: ['kind'] as const,
    registers: [registry],
    // Every child of a group reads the same table: the group's value is one child's, not their sum.
    aggregator: 'max',
    async collect() {
      if (!healthTotals) return;
      try {
        const totals = await healthTotals();
        for (const kind of healthIssueKinds) this.set({ kind }, totals[kind] ?? 0);
      } catch {
        // Database unreachable: /readyz says so; keep the last values.
      }
    },
  });
  let detailAges: DetailAgeSource | undefined;
  // The gauge and the histogram are collected concurrently: one query serves both in a scrape.
  let lastAges: { at: number; ages: Promise<DetailAgeDistribution> } | undefined;
  const agesNow = (): Promise<DetailAgeDistribution> | undefined => {
    if (!detailAges) return undefined;
    if (!lastAges || Date.now() - lastAges.at > 1_000)
      lastAges = { at: Date.now(), ages: detailAges(DETAIL_AGE_BUCKETS) };
    return lastAges.ages;
  };
  new Gauge({
    name: 'catalog_sync_details_age_oldest_seconds',
    help: 'Age of the oldest product details at scrape time (the staleness to watch against DETAILS_MAX_AGE)',
    registers: [registry],
    // Every child of a group reads the same table: the group's value is one child's, not their sum.
    aggregator: 'max',
    async collect() {
      try {
        const ages = await agesNow();
        if (ages) this.set(ages.oldest);
      } catch {
        // Database unreachable: /readyz says so; keep the last value.
      }
    },
  });
  registerSnapshotHistogram(registry, {
    name: 'catalog_sync_details_age_seconds',
    help: "Age of every present product's details at scrape time (never read: since the product was first seen)",
    buckets: DETAIL_AGE_BUCKETS,
    // As above: each child counts every product; summed, a group of two would count each twice.
    aggregator: 'first',
    read: async () => agesNow(),
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
        const labels = byKey ? { key_id: keyId, window: match[1] } : { window: match[1] };
        (match[2] === 'rem' ? budget : budgetLimit).set(labels, value);
      }
    },
    webhookDelivery: (outcome) => deliveries.inc({ outcome }),
    observeOutbox(next) {
      outboxAge = next;
    },
    databaseReachable: (up) => databaseUp.set(up ? 1 : 0),
    runsAbandoned: (count) => abandoned.inc(count),
    requestsRequeued: (count) => requeued.inc(count),
    jobsLetGo: (count) => letGo.inc(count),
    observeQueue(next) {
      sources = next;
    },
    detailsRefreshed({ requestsByCallSite, key, budget: state }) {
      for (const [endpoint, n] of Object.entries(requestsByCallSite)) detailRequests.inc({ endpoint }, n);
      if (key && state) {
        detailsBudgetUsed.set({ key }, state.used);
        detailsBudgetLeft.set({ key }, state.left);
      }
    },
    observeDetailAges(source) {
      detailAges = source;
    },
    observeHealth(source) {
      healthTotals = source;
    },
  };
}
