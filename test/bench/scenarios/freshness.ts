import { type RefreshCandidate, refreshOrder } from '../../../src/details/refresh.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { round } from '../lib/stats.ts';

/*
 * The freshness a request buys (catalog details): a seeded catalog lives through simulated weeks
 * — products whose details change often (a price being tested, offers adjusted), products that
 * change every few months, scheduled price changes taking effect — and a key whose details
 * budget reads only part of the due products per sync. The refresh order is the worker's own
 * `refreshOrder` (src/details/refresh.ts), run twice on the same history:
 * - baseline: what it knew before (no record of recent changes nor of scheduled prices);
 * - smart: with each product's last change and next scheduled price day (detail_schedule).
 * Measured, not assumed: how long a change stays unseen (mean, p90), how many scheduled price
 * changes are seen within a day of taking effect, requests spent, and changes seen per 1,000
 * requests. Pure computation: no database or simulator, so it runs in seconds.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Options {
  products: number;
  days: number;
  syncEveryMs: number;
  maxAgeMs: number;
  /** Requests per product read (the lower bound of a typical shape). */
  requestsPerProduct: number;
  /** Details requests the key allows per sync (binding: below what a full pass needs). */
  budgetPerSync: number;
  volatileShare: number;
  volatileEveryDays: number;
  quietEveryDays: number;
  scheduledPerWeek: number;
  seed: number;
}

interface SimProduct {
  appleId: string;
  /** Days (ms) at which the product's details change; scheduled price days among them. */
  changes: number[];
  scheduled: Set<number>;
  readAt: number | null;
  changedAt: number | null;
  /** The next scheduled change known at the last read (ms, at 00:00 UTC of its day). */
  nextKnown: number | null;
  seenUpTo: number;
}

function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function history(o: Options, start: number): SimProduct[] {
  const next = random(o.seed);
  const end = start + o.days * DAY;
  const list: SimProduct[] = [];
  for (let i = 0; i < o.products; i++) {
    const volatile = next() < o.volatileShare;
    const everyMs = (volatile ? o.volatileEveryDays : o.quietEveryDays) * DAY;
    const changes: number[] = [];
    for (let at = start + -Math.log(1 - next()) * everyMs; at < end; at += -Math.log(1 - next()) * everyMs)
      changes.push(at);
    list.push({
      appleId: String(1_000_000 + i),
      changes,
      scheduled: new Set(),
      readAt: null,
      changedAt: null,
      nextKnown: null,
      seenUpTo: start,
    });
  }
  // Scheduled price changes: decided days ahead, take effect at 00:00 UTC of their day.
  const scheduledCount = Math.round((o.scheduledPerWeek * o.days) / 7);
  for (let i = 0; i < scheduledCount; i++) {
    const product = list[Math.floor(next() * list.length)]!;
    const day = Math.floor((start + (2 + next() * (o.days - 2)) * DAY) / DAY) * DAY;
    if (product.scheduled.has(day)) continue;
    product.changes.push(day);
    product.scheduled.add(day);
  }
  for (const product of list) product.changes.sort((a, b) => a - b);
  return list;
}

interface Outcome {
  requests: number;
  reads: number;
  changes: number;
  seen: number;
  meanDelayH: number;
  p90DelayH: number;
  scheduledWithinDay: number;
  scheduledTotal: number;
  overMaxAge: number;
}

function run(o: Options, smart: boolean): Outcome {
  const start = Date.UTC(2026, 0, 5);
  const products = history(o, start);
  // Everything is read once before the measured weeks start.
  for (const [i, p] of products.entries()) {
    p.readAt = start - ((i * 7_919 * 60_000) % o.maxAgeMs);
    p.nextKnown = p.changes.find((c) => p.scheduled.has(c) && c > start) ?? null;
  }
  const delays: number[] = [];
  let requests = 0;
  let reads = 0;
  let scheduledWithinDay = 0;
  let overMaxAge = 0;
  const end = start + o.days * DAY;
  for (let now = start; now < end; now += o.syncEveryMs) {
    const candidates: RefreshCandidate[] = products.map((p) => ({
      appleId: p.appleId,
      kind: 'auto_renewable_subscription',
      updatedAt: new Date(0),
      detailsReadAt: p.readAt === null ? null : new Date(p.readAt),
      detailsRequests: o.requestsPerProduct,
      ...(smart
        ? {
            changedAt: p.changedAt === null ? null : new Date(p.changedAt),
            nextChangeOn: p.nextKnown === null ? null : new Date(p.nextKnown).toISOString().slice(0, 10),
          }
        : {}),
    }));
    const byId = new Map(products.map((p) => [p.appleId, p]));
    const order = refreshOrder(candidates, new Date(now), o.maxAgeMs, o.syncEveryMs);
    let budget = o.budgetPerSync;
    for (const due of order) {
      if (budget < o.requestsPerProduct) break;
      budget -= o.requestsPerProduct;
      requests += o.requestsPerProduct;
      reads++;
      const p = byId.get(due.appleId)!;
      const unseen = p.changes.filter((c) => c > p.seenUpTo && c <= now);
      for (const c of unseen) {
        delays.push(now - c);
        if (p.scheduled.has(c) && now - c <= DAY) scheduledWithinDay++;
      }
      if (unseen.length > 0) p.changedAt = now;
      p.seenUpTo = now;
      p.readAt = now;
      p.nextKnown = p.changes.find((c) => p.scheduled.has(c) && c > now) ?? null;
    }
    for (const p of products) if (p.readAt !== null && now - p.readAt > o.maxAgeMs) overMaxAge++;
  }
  const allChanges = products.reduce((n, p) => n + p.changes.filter((c) => c < end).length, 0);
  const sorted = [...delays].sort((a, b) => a - b);
  return {
    requests,
    reads,
    changes: allChanges,
    seen: delays.length,
    meanDelayH: delays.length === 0 ? 0 : delays.reduce((a, b) => a + b, 0) / delays.length / HOUR,
    p90DelayH: sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length * 0.9)]! / HOUR,
    scheduledWithinDay,
    scheduledTotal: products.reduce((n, p) => n + [...p.scheduled].filter((c) => c < end).length, 0),
    overMaxAge,
  };
}

export const freshnessScenario: Scenario = {
  id: 11,
  key: 'details-freshness',
  title: 'Freshness per request: refresh order with scheduled prices and recent changes vs without',
  async run(ctx) {
    const options: Options = {
      products: ctx.quick ? 2_000 : 10_000,
      days: ctx.quick ? 14 : 28,
      syncEveryMs: 6 * HOUR,
      maxAgeMs: DAY,
      requestsPerProduct: 8,
      // 6 h of a key's 1,800 details requests an hour: 10,800 — 1,350 products a sync, i.e. 5,400 a
      // day, so 10,000 products cannot all be read daily and the order decides what is fresh.
      budgetPerSync: 6 * 1_800,
      volatileShare: 0.1,
      volatileEveryDays: 3,
      quietEveryDays: 90,
      scheduledPerWeek: ctx.quick ? 40 : 200,
      seed: 26,
    };
    ctx.progress(`${options.products} products over ${options.days} simulated days, twice`);
    const baseline = run(options, false);
    const smart = run(options, true);
    const row = (name: string, r: Outcome): ResultTable['rows'][number] => [
      name,
      r.requests,
      r.seen,
      round((r.seen * 1000) / Math.max(1, r.requests), 2),
      round(r.meanDelayH, 1),
      round(r.p90DelayH, 1),
      `${r.scheduledWithinDay} of ${r.scheduledTotal}`,
    ];
    const targets: TargetCheck[] = [
      {
        name: 'scheduled price changes seen within a day (smart ≥ baseline)',
        target: `≥ ${baseline.scheduledWithinDay}`,
        actual: String(smart.scheduledWithinDay),
        met: smart.scheduledWithinDay >= baseline.scheduledWithinDay,
      },
      {
        name: 'mean time a change stays unseen (smart ≤ baseline)',
        target: `≤ ${round(baseline.meanDelayH, 1)} h`,
        actual: `${round(smart.meanDelayH, 1)} h`,
        met: smart.meanDelayH <= baseline.meanDelayH,
      },
    ];
    return {
      tables: [
        {
          title: `Changes seen, per request, and how late (${options.products} products, ${options.days} days, budget binding)`,
          columns: [
            'refresh order',
            'requests',
            'changes seen',
            'per 1,000 requests',
            'mean unseen h',
            'p90 unseen h',
            'scheduled seen ≤ 1 day',
          ],
          rows: [row('baseline (age only)', baseline), row('smart (schedule, recency)', smart)],
        },
      ],
      targets,
      notes: [
        'Both orders run src/details/refresh.ts refreshOrder on the same seeded history; only what the order knows differs.',
        `Budget: ${options.budgetPerSync} requests per ${options.syncEveryMs / HOUR} h sync at ${options.requestsPerProduct} per product; ` +
          `${options.volatileShare * 100}% of products change every ~${options.volatileEveryDays} days, the rest every ~${options.quietEveryDays}.`,
      ],
      data: { options, baseline, smart },
    } satisfies ScenarioResult;
  },
};
