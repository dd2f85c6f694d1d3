import type { Metric, Registry } from 'prom-client';

/*
 * A histogram of a distribution that is read whole at scrape time, already counted into its
 * buckets (by Postgres, for the detail ages). prom-client's Histogram only takes observations one
 * at a time, which would mean a value per product in the worker at every scrape. This object
 * has the shape prom-client's registries read from a metric (`get()` → name, help, type, values,
 * aggregator; `reset()`), so the text exposition and a group's aggregation (AggregatorRegistry)
 * treat it as any histogram: `<name>_bucket{le}`, `<name>_sum`, `<name>_count`.
 */

export interface HistogramSnapshot {
  count: number;
  sum: number;
  /** Cumulative counts, one per bucket bound, in the order of `buckets`. */
  atMost: number[];
}

export interface SnapshotHistogramOptions {
  name: string;
  help: string;
  buckets: readonly number[];
  /** How a group's supervisor combines its children's series (prom-client's aggregator names). */
  aggregator: 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit';
  /** The distribution now; undefined when there is none to report. A failure keeps the last one. */
  read: () => Promise<HistogramSnapshot | undefined>;
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** Pure: the exposition values of one snapshot. */
export function snapshotValues(
  name: string,
  buckets: readonly number[],
  snapshot: HistogramSnapshot,
): MetricValue[] {
  return [
    ...buckets.map((le, i) => ({
      labels: { le },
      value: snapshot.atMost[i] ?? 0,
      metricName: `${name}_bucket`,
    })),
    { labels: { le: '+Inf' }, value: snapshot.count, metricName: `${name}_bucket` },
    { labels: {}, value: snapshot.sum, metricName: `${name}_sum` },
    { labels: {}, value: snapshot.count, metricName: `${name}_count` },
  ];
}

export function registerSnapshotHistogram(registry: Registry, options: SnapshotHistogramOptions): void {
  const { name, help, buckets, aggregator, read } = options;
  let last: HistogramSnapshot | undefined;
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator,
    async get() {
      try {
        last = (await read()) ?? last;
      } catch {
        // Database unreachable: /readyz says so; keep the last distribution.
      }
      return {
        name,
        help,
        type: 'histogram',
        aggregator,
        values: last ? snapshotValues(name, buckets, last) : [],
      };
    },
    reset() {
      last = undefined;
    },
  };
  // Duck-typed: the registry stores the object and calls get() and reset(), nothing else.
  registry.registerMetric(metric as unknown as Metric);
}
