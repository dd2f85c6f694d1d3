import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { createWorker } from '../../../jobs/worker.ts';
import {
  attributeTransactions,
  attributionBatch,
  queueAttributionBatch,
  revenue,
} from '../../../src/app/attribution.ts';
import { type AppContext, lazyQueue } from '../../../src/app/context.ts';
import { refreshDetails } from '../../../src/details/refresh.ts';
import { createRedis } from '../../../src/queue/redis.ts';
import { amountsFor, generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import {
  createSigningChain,
  type GeneratedTransaction,
  milliunits,
  notificationTypeOf,
  type SigningChain,
  signedNotification,
  subscriberHistory,
} from '../../../src/simulator/transactions.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { useTestRedis } from '../../support/redis.ts';
import { until } from '../../support/wait.ts';
import { syncEnv } from '../sync/support.ts';

/*
 * Attribution against real Postgres, Redis (the key's budget for price-point lookups) and a
 * catalog synced from the simulator over HTTP, with exact amounts: a monthly subscription priced
 * at tier 10 until 2026-06-01 and tier 14 (preserved) after; a 7-day free trial; grace of 16 days
 * for paid-to-paid renewals only. The catalog is synced first on 2026-03-01 (the simulator's
 * day), then today, so it has seen both prices; the rules were first observed today, so every
 * transaction of 2026 is attributed with the first rule extended back (assumed).
 */

const getDb = useTestDatabase();
const redis = useTestRedis();
let sim: Simulator;
let ctx: AppContext;
let closeQueue: () => Promise<void>;
let chain: SigningChain;
const APP = '1000000001';
const BUNDLE = `bundle.${APP}`;
const PROJECT = 'shop';
const DAY = 86_400_000;
let productId: string;
const old = amountsFor(10, 'USA');
const raised = amountsFor(14, 'USA');

const at = (iso: string) => new Date(iso).getTime();
const isoDay = (ms: number) => new Date(ms).toISOString();

async function count(table: string): Promise<number> {
  const [row] = rowsOf<{ n: number }>(
    await getDb().db.execute(
      sql`select count(*)::int as n from ${sql.identifier(table)} where project_id = ${PROJECT}`,
    ),
  );
  return row?.n ?? 0;
}

async function sync() {
  const summary = await syncProject(ctx, PROJECT, { trigger: 'manual' });
  await refreshDetails(ctx, { projectId: PROJECT, runId: summary.runId, budget: null });
}

const history = (options: Partial<Parameters<typeof subscriberHistory>[0]> & { idPrefix: string }) =>
  subscriberHistory({
    bundleId: BUNDLE,
    productId,
    storefront: 'USA',
    currency: 'USD',
    start: new Date('2026-01-01T10:00:00Z'),
    periodDays: 30,
    price: old.customerPrice,
    periods: 1,
    ...options,
  });

const decoded = (txs: GeneratedTransaction[]) => txs.map((transaction) => ({ transaction }));

beforeAll(async () => {
  const catalog = generateCatalog({
    seed: 21,
    apps: [
      {
        id: APP,
        iaps: 0,
        groups: 1,
        subscriptionsPerGroup: 1,
        grace: {
          optIn: true,
          sandboxOptIn: true,
          duration: 'SIXTEEN_DAYS',
          renewalType: 'PAID_TO_PAID_ONLY',
        },
      },
    ],
    details: { territories: 5, introductoryOffers: 0, promotionalOffers: 0, offerCodes: 0, winBackOffers: 0 },
  });
  const subscription = catalog.apps[0]!.groups[0]!.subscriptions[0]!;
  productId = subscription.productId;
  subscription.details!.prices = [
    { startDate: null, tier: 10 },
    { startDate: '2026-06-01', tier: 14, preserved: true },
  ];
  subscription.details!.offers = [
    {
      id: 'intro-trial',
      kind: 'introductory',
      duration: 'ONE_WEEK',
      offerMode: 'FREE_TRIAL',
      numberOfPeriods: 1,
      tier: null,
      startDate: null,
      endDate: null,
    },
  ];
  sim = await startSimulator({ catalog });
  chain = await createSigningChain();
  const dir = mkdtempSync(join(tmpdir(), 'attribution-'));
  writeFileSync(join(dir, 'root.cer'), chain.rootDer);
  const env = syncEnv(sim, {
    APPLE_ROOT_CERTIFICATES: join(dir, 'root.cer'),
    APPLE_VERIFY_ONLINE: 'false',
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
  });
  const base = testContext(getDb().db, env);
  const queue = lazyQueue(base.config);
  closeQueue = queue.close;
  ctx = { ...base, queue: queue.queue, queueEvents: queue.queueEvents, redis: queue.redis };
  await createProject(ctx, sim, PROJECT, APP);
  sim.setToday('2026-03-01');
  await sync();
  sim.setToday(null);
  await sync();
});

afterAll(async () => {
  await closeQueue?.();
  await sim?.close();
});

describe('a subscriber with a trial, a grace recovery, a preserved price and a refund', () => {
  const txs = () =>
    history({
      idPrefix: '1100',
      trialDays: 7,
      periods: 9,
      increase: { fromPeriod: 5, price: raised.customerPrice, preserved: true },
      graceRecovery: { period: 3, days: 5 },
      refund: { afterDays: 3 },
    });

  it('attributes each transaction with exact amounts, dates and rules', async () => {
    const result = await attributeTransactions(ctx, { projectId: PROJECT, transactions: decoded(txs()) });
    expect(result.summary).toMatchObject({ items: 10, stored: 10, refused: 0, unknownProceeds: 0 });
    const [trial, conversion, , , recovered, , preserved, , , refunded] = result.results.map(
      (r) => r.attributions,
    );

    // The free trial earns nothing; the introductory offer is the catalog's.
    expect(trial).toEqual([
      expect.objectContaining({
        kind: 'offer_period',
        customerPrice: '0.00',
        proceeds: '0.00',
        basis: 'exact',
        offer: expect.objectContaining({
          type: 'introductory',
          discountType: 'FREE_TRIAL',
          customerPrice: '0.00',
        }),
        revenueDate: '2026-01-01T10:00:00.000Z',
      }),
    ]);
    expect(trial![0]!.offer!.appleId).not.toBeNull();

    // The conversion: the offer-to-paid rule (no grace: PAID_TO_PAID_ONLY), first seen today, assumed.
    expect(conversion).toEqual([
      expect.objectContaining({
        kind: 'conversion',
        currency: 'USD',
        customerPrice: old.customerPrice,
        proceeds: old.proceeds,
        proceedsRate: 'first_year',
        basis: 'exact',
        paidDays: 0,
        rule: expect.objectContaining({ renewalKind: 'offer_to_paid', graceDays: 0, assumed: true }),
        revenueDate: '2026-01-08T10:00:00.000Z',
      }),
    ]);

    // Due 2026-04-08 (three periods after the conversion), paid five days late: within 16 days of grace.
    const due = at('2026-01-08T10:00:00Z') + 90 * DAY;
    expect(recovered).toEqual([
      expect.objectContaining({
        kind: 'renewal',
        customerPrice: old.customerPrice,
        proceeds: old.proceeds,
        purchaseDate: isoDay(due + 5 * DAY),
        dueDate: isoDay(due),
        revenueDate: isoDay(due),
        recoveredInGrace: true,
        rule: expect.objectContaining({ renewalKind: 'paid_to_paid', graceDays: 16, assumed: true }),
      }),
    ]);

    // After the increase on 2026-06-01 the subscriber keeps the old price: the old version's proceeds.
    expect(preserved![0]).toMatchObject({
      kind: 'renewal',
      purchaseDate: isoDay(at('2026-01-08T10:00:00Z') + 150 * DAY),
      customerPrice: old.customerPrice,
      proceeds: old.proceeds,
      basis: 'preserved_price',
      pricePoint: { source: 'catalog', from: null },
    });

    // The refund: the charge stays, a negative entry dated at the revocation.
    const lastPurchase = at('2026-01-08T10:00:00Z') + 240 * DAY;
    expect(refunded).toEqual([
      expect.objectContaining({
        entry: 'charge',
        customerPrice: old.customerPrice,
        revenueDate: isoDay(lastPurchase),
      }),
      expect.objectContaining({
        entry: 'refund',
        kind: 'refund',
        customerPrice: `-${old.customerPrice}`,
        proceeds: `-${old.proceeds}`,
        revenueDate: isoDay(lastPurchase + 3 * DAY),
      }),
    ]);
  });

  it('the same transactions signed as Apple signs them give the same attributions, and change nothing', async () => {
    const before = await count('transaction_attributions');
    const stored = await attributeTransactions(ctx, { projectId: PROJECT, transactions: decoded(txs()) });
    const signed = await attributeTransactions(ctx, {
      projectId: PROJECT,
      transactions: txs().map((transaction, i) =>
        signedNotification(chain, {
          ...notificationTypeOf(transaction, i),
          transaction,
          appAppleId: Number(APP),
          bundleId: BUNDLE,
        }),
      ),
    });
    expect(signed.summary).toMatchObject({ items: 10, duplicates: 10, refused: 0 });
    expect(signed.results.map((r) => r.attributions)).toEqual(stored.results.map((r) => r.attributions));
    expect(await count('transaction_attributions')).toBe(before);
  });

  it('revenue for April sums the stored attributions per day and currency', async () => {
    const april = await revenue(ctx, { projectId: PROJECT, from: '2026-04-01', to: '2026-05-01', by: 'day' });
    // The renewal recovered on 2026-04-13 belongs to its due date, 2026-04-08.
    expect(april.rows).toEqual([
      {
        key: '2026-04-08',
        currency: 'USD',
        customerPrice: old.customerPrice,
        proceeds: old.proceeds,
        unknownProceeds: 0,
        count: 1,
      },
    ]);
    const september = await revenue(ctx, {
      projectId: PROJECT,
      from: '2026-09-01',
      to: '2026-10-01',
      by: 'month',
    });
    expect(september.rows).toEqual([
      {
        key: '2026-09',
        currency: 'USD',
        customerPrice: '0.00',
        proceeds: '0.00',
        unknownProceeds: 0,
        count: 2,
      },
    ]);
  });
});

describe('prices', () => {
  it('a subscriber who was not preserved pays the new price: exact, with the new proceeds', async () => {
    const txs = history({
      idPrefix: '1200',
      periods: 7,
      increase: { fromPeriod: 6, price: raised.customerPrice, preserved: false },
    });
    const result = await attributeTransactions(ctx, { projectId: PROJECT, transactions: decoded(txs) });
    expect(result.results[6]!.attributions[0]).toMatchObject({
      purchaseDate: isoDay(at('2026-01-01T10:00:00Z') + 180 * DAY),
      customerPrice: raised.customerPrice,
      proceeds: raised.proceeds,
      basis: 'exact',
    });
  });

  it('a price no stored version has is looked up in App Store Connect and kept', async () => {
    const point = amountsFor(20, 'USA');
    const [tx] = history({
      idPrefix: '1300',
      start: new Date('2026-02-01T00:00:00Z'),
      price: point.customerPrice,
    });
    const result = await attributeTransactions(ctx, { projectId: PROJECT, transactions: [tx] });
    expect(result.summary.pricePointLookups).toBe(1);
    expect(result.results[0]!.attributions[0]).toMatchObject({
      customerPrice: point.customerPrice,
      proceeds: point.proceeds,
      basis: 'preserved_price',
      pricePoint: { source: 'app_store_connect' },
    });
    const kept = rowsOf<{ n: number }>(
      await getDb().db.execute(
        sql`select count(*)::int as n from attribution_price_points where project_id = ${PROJECT}
             and source = 'app_store_connect' and customer_price = ${point.customerPrice}::numeric`,
      ),
    );
    expect(kept[0]!.n).toBe(1);
  });

  it('a price that is no price point anywhere: proceeds unknown, with the reason', async () => {
    const [tx] = history({ idPrefix: '1400', price: '1.23' });
    const result = await attributeTransactions(ctx, {
      projectId: PROJECT,
      transactions: [{ ...tx, price: milliunits('1.23') }],
    });
    expect(result.results[0]!.attributions[0]).toMatchObject({
      customerPrice: '1.23',
      proceeds: null,
      proceedsRate: null,
      basis: 'unknown_proceeds',
    });
    expect(result.results[0]!.attributions[0]!.proceedsReason).toMatch(
      /App Store Connect has no price point/,
    );
  });
});

describe('days of paid service', () => {
  const yearly = (idPrefix: string, lapseDays?: number) =>
    history({
      idPrefix,
      start: new Date('2025-01-10T00:00:00Z'),
      periodDays: 365,
      periods: 2,
      ...(lapseDays === undefined ? {} : { lapse: { beforePeriod: 1, days: lapseDays } }),
    });

  it('the renewal after 365 paid days earns the rate after one year', async () => {
    const result = await attributeTransactions(ctx, {
      projectId: PROJECT,
      transactions: decoded(yearly('1500')),
    });
    expect(
      result.results.map((r) => r.attributions[0]).map((a) => [a!.paidDays, a!.proceedsRate, a!.proceeds]),
    ).toEqual([
      [0, 'first_year', old.proceeds],
      [365, 'after_first_year', old.proceedsYear2],
    ]);
  });

  it('a gap of 59 days keeps the count; a gap of 61 days starts it again', async () => {
    const kept = await attributeTransactions(ctx, {
      projectId: PROJECT,
      transactions: decoded(yearly('1600', 59)),
    });
    expect(kept.results[1]!.attributions[0]).toMatchObject({
      paidDays: 365,
      proceedsRate: 'after_first_year',
      proceeds: old.proceedsYear2,
    });
    const reset = await attributeTransactions(ctx, {
      projectId: PROJECT,
      transactions: decoded(yearly('1700', 61)),
    });
    expect(reset.results[1]!.attributions[0]).toMatchObject({
      paidDays: 0,
      proceedsRate: 'first_year',
      proceeds: old.proceeds,
    });
  });

  it('history stored earlier counts: the renewal alone, a call later, gets the year-2 rate', async () => {
    const [first, second] = yearly('1800');
    await attributeTransactions(ctx, { projectId: PROJECT, transactions: [first] });
    const later = await attributeTransactions(ctx, { projectId: PROJECT, transactions: [second] });
    expect(later.results[0]!.attributions[0]).toMatchObject({
      paidDays: 365,
      proceedsRate: 'after_first_year',
    });
  });

  it('a caller who knows more history gives the count', async () => {
    const [tx] = history({ idPrefix: '1900' });
    const result = await attributeTransactions(ctx, {
      projectId: PROJECT,
      transactions: [{ transaction: tx, paidDays: 400 }],
    });
    expect(result.results[0]!.attributions[0]).toMatchObject({
      paidDays: 400,
      paidDaysSource: 'given',
      proceedsRate: 'after_first_year',
      proceeds: old.proceedsYear2,
    });
  });
});

describe('bad input is refused with the reason and stored nowhere', () => {
  it('forged, foreign, mismatched and unknown transactions', async () => {
    const before = await count('transaction_attributions');
    const [tx] = history({ idPrefix: '2100' });
    const forger = await createSigningChain();
    const signed = chain.sign(tx!);
    const [header, payload] = signed.split('.');
    const tampered = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    tampered.price = 1;
    const result = await attributeTransactions(ctx, {
      projectId: PROJECT,
      transactions: [
        { signedTransactionInfo: forger.sign(tx!) },
        {
          signedTransactionInfo: `${header}.${Buffer.from(JSON.stringify(tampered)).toString('base64url')}.${signed.split('.')[2]}`,
        },
        { signedTransactionInfo: 'not-a-jws' },
        { signedTransactionInfo: chain.sign({ ...tx, bundleId: 'com.other.app' }) },
        { signedTransactionInfo: chain.sign({ ...tx, environment: 'Sandbox' }) },
        { ...tx, bundleId: 'com.other.app' },
        { ...tx, environment: 'Sandbox' },
        { ...tx, productId: 'com.unknown.product' },
        { ...tx, storefront: 'XXX' },
        { ...tx, currency: 'EUR' },
        { transactionId: 'x' },
        42,
      ],
    });
    expect(result.results.map((r) => [r.status, r.error?.code])).toEqual([
      ['refused', 'verification_failed'],
      ['refused', 'verification_failed'],
      ['refused', 'invalid'],
      ['refused', 'wrong_app'],
      ['refused', 'wrong_environment'],
      ['refused', 'wrong_app'],
      ['refused', 'wrong_environment'],
      ['refused', 'unknown_product'],
      ['refused', 'unknown_storefront'],
      ['refused', 'currency_mismatch'],
      ['refused', 'invalid'],
      ['refused', 'invalid'],
    ]);
    expect(result.results[9]!.error!.message).toBe(
      'currency EUR does not belong to territory USA, whose prices are in USD',
    );
    expect(await count('transaction_attributions')).toBe(before);
  });

  it('without Apple roots configured, signed input is refused with what to do; decoded input is attributed', async () => {
    const bare = testContext(getDb().db, syncEnv(sim));
    const [tx] = history({ idPrefix: '2500' });
    const result = await attributeTransactions(bare, {
      projectId: PROJECT,
      transactions: [{ signedTransactionInfo: chain.sign(tx!) }, tx],
    });
    expect(result.results.map((r) => [r.status, r.error?.code ?? null])).toEqual([
      ['refused', 'not_configured'],
      ['stored', null],
    ]);
    expect(result.results[0]!.error!.message).toMatch(/APPLE_ROOT_CERTIFICATES/);
  });

  it('a duplicate in one call is stored once', async () => {
    const [tx] = history({ idPrefix: '2200' });
    const result = await attributeTransactions(ctx, { projectId: PROJECT, transactions: [tx, tx] });
    expect(result.results.map((r) => r.status)).toEqual(['stored', 'duplicate']);
    const rows = rowsOf<{ n: number }>(
      await getDb().db.execute(
        sql`select count(*)::int as n from transaction_attributions where transaction_id = '22001'`,
      ),
    );
    expect(rows[0]!.n).toBe(1);
  });

  it('a later, better answer is a new version with its reason; the first stays', async () => {
    const [tx] = history({ idPrefix: '2300' });
    await attributeTransactions(ctx, { projectId: PROJECT, transactions: [tx] });
    const better = await attributeTransactions(ctx, {
      projectId: PROJECT,
      transactions: [{ transaction: tx, paidDays: 500 }],
    });
    expect(better.results[0]).toMatchObject({ status: 'new_version' });
    expect(better.results[0]!.attributions[0]).toMatchObject({ version: 2, proceeds: old.proceedsYear2 });
    expect(better.results[0]!.attributions[0]!.versionReason).toMatch(/proceeds .* → /);
    const versions = rowsOf<{ version: number; proceeds: string }>(
      await getDb().db.execute(
        sql`select version, proceeds::text from transaction_attributions where transaction_id = '23001' order by version`,
      ),
    );
    expect(versions).toEqual([
      { version: 1, proceeds: old.proceeds },
      { version: 2, proceeds: old.proceedsYear2 },
    ]);
  });
});

describe('the attribute-transactions job', () => {
  it('attributes a stored batch that its payload points at, and records each item', async () => {
    const txs = history({ idPrefix: '2400', periods: 4 });
    const queued = await queueAttributionBatch(ctx, {
      projectId: PROJECT,
      transactions: [...decoded(txs), { transactionId: 'broken' }],
    });
    expect(queued.items).toBe(5);
    const job = await (await ctx.queue()).queue.getJob(queued.job.jobId);
    expect(job?.data).toEqual({ projectId: PROJECT, batchId: queued.batchId });
    const connection = createRedis(redis.url, 'worker');
    const worker = createWorker(ctx, { connection, prefix: redis.prefix });
    try {
      const done = await until(async () => {
        const batch = await attributionBatch(ctx, { projectId: PROJECT, batchId: queued.batchId });
        return batch.status === 'succeeded' || batch.status === 'failed' ? batch : null;
      }, 'the batch to be attributed');
      expect(done).toMatchObject({ status: 'succeeded', summary: { items: 5, stored: 4, refused: 1 } });
    } finally {
      await worker.close();
      connection.disconnect();
    }
    const items = rowsOf<{ line: number; status: string }>(
      await getDb().db.execute(
        sql`select line, result->>'status' as status from attribution_batch_items where batch_id = ${queued.batchId}::uuid order by line`,
      ),
    );
    expect(items.map((i) => i.status)).toEqual(['stored', 'stored', 'stored', 'stored', 'refused']);
  });
});
