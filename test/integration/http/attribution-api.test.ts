import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { attributionBatch, revenue, runAttributionBatch } from '../../../src/app/attribution.ts';
import { refreshDetails } from '../../../src/details/refresh.ts';
import { type GeneratedTransaction, milliunits } from '../../../src/simulator/transactions.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { createProject } from '../../support/context.ts';
import { useApiHarness } from './support.ts';

/*
 * Transaction attribution and revenue over HTTP, against a catalog synced from the simulator:
 * a decoded transaction (Apple's field names) for a product of the catalog at today's USA price
 * is attributed and stored, revenue sums it, a stored batch is queued and read back. Every
 * answer is validated against the OpenAPI document by the harness.
 */

const APP = '1000000001';
const PROJECT = 'acme/ledger';
const path = `/projects/${encodeURIComponent(PROJECT)}`;
const DAY = 86_400_000;

const h = useApiHarness({
  catalog: {
    seed: 31,
    apps: [{ id: APP, iaps: 1, groups: 1, subscriptionsPerGroup: 1, grace: {} }],
    details: { territories: 3 },
  },
  // Small enough to pass in a test, larger than API_MAX_BODY_BYTES (16 KiB).
  env: { API_MAX_TRANSACTIONS_BODY_BYTES: String(64 * 1024) },
});

let price: { productId: string; customerPrice: string; proceeds: string; currency: string };
const purchased = Date.now() - 2 * DAY;

function transaction(id: string): GeneratedTransaction {
  return {
    transactionId: id,
    originalTransactionId: id,
    webOrderLineItemId: `9${id}`,
    bundleId: `bundle.${APP}`,
    productId: price.productId,
    purchaseDate: purchased,
    originalPurchaseDate: purchased,
    expiresDate: purchased + 30 * DAY,
    quantity: 1,
    type: 'Auto-Renewable Subscription',
    inAppOwnershipType: 'PURCHASED',
    signedDate: purchased,
    environment: 'Production',
    transactionReason: 'PURCHASE',
    storefront: 'USA',
    storefrontId: '143441',
    price: milliunits(price.customerPrice),
    currency: price.currency,
  };
}

beforeAll(async () => {
  await createProject(h.ctx(), h.sim(), PROJECT, APP);
  const summary = await syncProject(h.ctx(), PROJECT, { trigger: 'manual' });
  await refreshDetails(h.ctx(), { projectId: PROJECT, runId: summary.runId, budget: null });
  const prices = await h.call('GET', `${path}/prices?territory=USA&at=${new Date().toISOString()}`);
  const subscription = prices.body.prices.find(
    (p: { planType: string | null; customerPrice: string | null; proceeds: string | null }) =>
      p.customerPrice !== null && p.proceeds !== null && p.planType === null,
  );
  expect(subscription).toBeDefined();
  price = subscription;
});

describe('attributing transactions over HTTP', () => {
  it('stores what a decoded transaction earned and answers it; the same key again answers the same', async () => {
    const body = { transactions: [{ transaction: transaction('5000001') }] };
    const first = await h.call('POST', `${path}/transactions/attribution`, {
      body,
      headers: { 'idempotency-key': 'attr-1' },
    });
    expect(first.status).toBe(200);
    expect(first.body.summary).toMatchObject({ items: 1, stored: 1, refused: 0 });
    expect(first.body.results[0]).toMatchObject({ index: 0, status: 'stored', transactionId: '5000001' });
    expect(first.body.results[0].attributions).toEqual([
      expect.objectContaining({
        entry: 'charge',
        productId: price.productId,
        territory: 'USA',
        currency: price.currency,
        customerPrice: price.customerPrice,
        customerPriceSource: 'transaction',
        proceeds: price.proceeds,
        basis: 'exact',
        revenueDate: new Date(purchased).toISOString(),
        version: 1,
      }),
    ]);

    const again = await h.call('POST', `${path}/transactions/attribution`, {
      body,
      headers: { 'idempotency-key': 'attr-1' },
    });
    expect(again.body).toEqual(first.body);
    // A second arrival without the key is a duplicate: nothing new stored.
    const duplicate = await h.call('POST', `${path}/transactions/attribution`, { body });
    expect(duplicate.body.results[0].status).toBe('duplicate');
    const [row] = rowsOf<{ n: number }>(
      await h.db().db.execute(sql`select count(*)::int as n from transaction_attributions`),
    );
    expect(row!.n).toBe(1);
  });

  it('answers revenue as the application function does', async () => {
    const from = new Date(purchased - DAY).toISOString().slice(0, 10);
    const to = new Date(purchased + DAY).toISOString().slice(0, 10);
    const answer = await h.call('GET', `${path}/revenue?from=${from}&to=${to}&by=day`, {
      token: h.tokens().read,
    });
    expect(answer.status).toBe(200);
    expect(answer.body.totals).toEqual([
      {
        currency: price.currency,
        customerPrice: price.customerPrice,
        proceeds: price.proceeds,
        unknownProceeds: 0,
        count: 1,
      },
    ]);
    expect(answer.body).toEqual(await revenue(h.ctx(), { projectId: PROJECT, from, to, by: 'day' }));
    const monthly = await h.call('GET', `${path}/revenue?from=${from}&to=${to}&by=month`);
    expect(monthly.body.rows).toHaveLength(1);
  });

  it('refuses a read token, an unknown field and a bad range, each naming what is wrong, storing nothing', async () => {
    const body = { transactions: [{ transaction: transaction('5000002') }] };
    const read = await h.call('POST', `${path}/transactions/attribution`, { body, token: h.tokens().read });
    expect(read.status).toBe(403);

    const unknown = await h.call('POST', `${path}/transactions/attribution`, {
      body: { ...body, projectId: PROJECT },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.field).toBe('projectId');

    const empty = await h.call('POST', `${path}/transactions/attribution`, { body: { transactions: [] } });
    expect(empty.status).toBe(400);
    expect(empty.body.field).toBe('transactions');
    expect(empty.body.detail).toContain('at least one transaction');

    const environment = await h.call('POST', `${path}/transactions/attribution`, {
      body: { ...body, environment: 'staging' },
    });
    expect(environment.status).toBe(400);
    expect(environment.body.field).toBe('environment');

    const backwards = await h.call('GET', `${path}/revenue?from=2026-03-01&to=2026-02-01`);
    expect(backwards.status).toBe(400);
    expect(backwards.body.field).toBe('to');
    const bad = await h.call('GET', `${path}/revenue?from=yesterday&to=2026-02-01`);
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('from');
    const missing = await h.call('GET', `${path}/revenue?from=2026-03-01`);
    expect(missing.status).toBe(400);
    expect(missing.body.field).toBe('to');

    const [row] = rowsOf<{ n: number }>(
      await h
        .db()
        .db.execute(
          sql`select count(*)::int as n from transaction_attributions where transaction_id = '5000002'`,
        ),
    );
    expect(row!.n).toBe(0);
  });

  it('takes a body over API_MAX_BODY_BYTES up to its own limit, and refuses one over it with 413', async () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ transaction: transaction(`51000${i + 10}`) }));
    const body = { transactions: many };
    expect(JSON.stringify(body).length).toBeGreaterThan(16 * 1024);
    const taken = await h.call('POST', `${path}/transactions/attribution`, { body });
    expect(taken.status).toBe(200);
    expect(taken.body.summary).toMatchObject({ items: 40, stored: 40, refused: 0 });

    const tooMany = Array.from({ length: 200 }, (_, i) => ({ transaction: transaction(`52000${i + 100}`) }));
    const over = await h.call('POST', `${path}/transactions/attribution`, {
      body: { transactions: tooMany },
    });
    expect(over.status).toBe(413);
    expect(over.body.detail).toContain(String(64 * 1024));
    // Other routes keep API_MAX_BODY_BYTES.
    const schedule = await h.call('PUT', `${path}/schedule`, {
      body: { every: '6h', cron: 'x'.repeat(20_000) },
    });
    expect(schedule.status).toBe(413);
    const [row] = rowsOf<{ n: number }>(
      await h
        .db()
        .db.execute(
          sql`select count(*)::int as n from transaction_attributions where transaction_id like '52000%'`,
        ),
    );
    expect(row!.n).toBe(0);
  });

  it('queues a stored batch and reads its state before and after the worker attributes it', async () => {
    const queued = await h.call('POST', `${path}/transactions/batches`, {
      body: { transactions: [transaction('5000003'), { transaction: transaction('5000004') }] },
    });
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ items: 2, job: { outcome: 'added' } });
    const batchId: string = queued.body.batchId;

    const pending = await h.call('GET', `${path}/transactions/batches/${batchId}`, {
      token: h.tokens().read,
    });
    expect(pending.body).toMatchObject({ batchId, status: 'pending', items: 2, summary: null });

    // What the attribute-transactions job runs.
    await runAttributionBatch(h.ctx(), { projectId: PROJECT, batchId });
    const done = await h.call('GET', `${path}/transactions/batches/${batchId}`);
    expect(done.body).toMatchObject({ status: 'succeeded', summary: { items: 2, stored: 2, refused: 0 } });
    expect(done.body).toEqual(await attributionBatch(h.ctx(), { projectId: PROJECT, batchId }));

    const notUuid = await h.call('GET', `${path}/transactions/batches/nope`);
    expect(notUuid.status).toBe(400);
    const none = await h.call('GET', `${path}/transactions/batches/00000000-0000-4000-8000-000000000000`);
    expect(none.status).toBe(404);
  });
});
