import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkerService, type WorkerService } from '../../../jobs/main.ts';
import { attributeTransactions } from '../../../src/app/attribution.ts';
import { add, sameAmount } from '../../../src/attribution/money.ts';
import { refreshDetails } from '../../../src/details/refresh.ts';
import { amountsFor } from '../../../src/simulator/index.ts';
import { type GeneratedTransaction, subscriberHistory } from '../../../src/simulator/transactions.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { jsonOf } from '../../support/cli.ts';
import { createProject, testContext } from '../../support/context.ts';
import { freePort, serviceEnv, useJobsHarness } from '../jobs/support.ts';

/*
 * The console's revenue page in a real headless Chromium (Debian's package, driven by
 * playwright-core), served by an in-process worker service, over real Postgres and Redis and a
 * catalog synced from the simulator. The attributions are stored by attributeTransactions from
 * decoded subscriber histories in two currencies, a refund among them; the page's charts must add
 * up, bar by bar, to what `catalog-sync revenue` answers for the same range.
 */

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  // Fail, not skip: a console without its browser test is untested.
  throw new Error(
    `The console's browser tests need Debian's Chromium at ${CHROMIUM}. Install it with: ` +
      'apt-get update && apt-get install -y --no-install-recommends chromium',
  );
}

const APP = '2000000025';
const BUNDLE = `bundle.${APP}`;
const PROJECT = 'acme-revenue';
const TOKEN = 'operator-token-0123456789abcdef';
const TIER = 10;

const harness = useJobsHarness({
  catalog: {
    seed: 25,
    apps: [{ id: APP, iaps: 0, groups: 1, subscriptionsPerGroup: 2, grace: {} }],
    details: { territories: 5, introductoryOffers: 0, promotionalOffers: 0, offerCodes: 0, winBackOffers: 0 },
  },
});
const { sim } = harness;

let service: WorkerService;
let browser: Browser;
let base: string;
let products: string[];

function histories(): GeneratedTransaction[] {
  const usd = amountsFor(TIER, 'USA');
  const gbp = amountsFor(TIER, 'GBR');
  const [first, second] = products as [string, string];
  const common = { bundleId: BUNDLE, periodDays: 30 } as const;
  return [
    // Four months in the USA, the last refunded: revenue goes negative on its revocation day.
    ...subscriberHistory({
      ...common,
      productId: first,
      storefront: 'USA',
      currency: 'USD',
      start: new Date('2026-01-05T09:00:00Z'),
      price: usd.customerPrice,
      periods: 4,
      refund: { afterDays: 2 },
      idPrefix: '3100',
    }),
    ...subscriberHistory({
      ...common,
      productId: first,
      storefront: 'GBR',
      currency: 'GBP',
      start: new Date('2026-01-20T18:00:00Z'),
      price: gbp.customerPrice,
      periods: 3,
      idPrefix: '3200',
    }),
    ...subscriberHistory({
      ...common,
      productId: second,
      storefront: 'USA',
      currency: 'USD',
      start: new Date('2026-02-10T12:00:00Z'),
      price: usd.customerPrice,
      periods: 2,
      idPrefix: '3300',
    }),
  ];
}

beforeAll(async () => {
  const app = sim().catalog.apps.find((a) => a.id === APP)!;
  const subscriptions = app.groups[0]!.subscriptions;
  for (const s of subscriptions) s.details!.prices = [{ startDate: null, tier: TIER }];
  products = subscriptions.map((s) => s.productId);

  const ctx = harness.ctx();
  await createProject(ctx, sim(), PROJECT, APP);
  const summary = await syncProject(ctx, PROJECT, { trigger: 'manual' });
  await refreshDetails(ctx, { projectId: PROJECT, runId: summary.runId, budget: null });
  const attributed = await attributeTransactions(ctx, {
    projectId: PROJECT,
    transactions: histories().map((transaction) => ({ transaction })),
  });
  expect(attributed.summary).toMatchObject({ items: 9, stored: 9, refused: 0, unknownProceeds: 0 });

  const port = await freePort();
  const serviceCtx = testContext(harness.db().db, {
    ...serviceEnv(harness.services(), { METRICS_HOST: '127.0.0.1', CONSOLE_TOKEN: TOKEN }),
    LOG_LEVEL: 'silent',
  });
  service = await startWorkerService(serviceCtx, { metricsPort: port });
  base = `http://127.0.0.1:${service.healthPort}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-gpu',
    ],
  });
  mkdirSync('test-results', { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await service?.close('test over');
});

async function logIn(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/console/login`);
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(`${base}/console/projects`), page.click('button[type=submit]')]);
  return page;
}

type Totals = { currency: string; customerPrice: string; proceeds: string; count: number }[];

async function cliRevenue(from: string, to: string, by: string): Promise<Totals> {
  const result = await harness.cli(['revenue', PROJECT, '--from', from, '--to', to, '--by', by, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return jsonOf(result).totals as Totals;
}

/** Sums, exactly, the amounts of a chart's bars of one kind, per currency. */
async function chartSums(page: Page, selector: string, kind: 'price' | 'proceeds') {
  const bars = await page.$$eval(`${selector} rect.bar.${kind}`, (rects) =>
    rects.map((r) => ({
      currency: r.closest('svg')!.getAttribute('data-currency')!,
      amount: r.getAttribute('data-amount')!,
    })),
  );
  const sums = new Map<string, string>();
  for (const bar of bars) sums.set(bar.currency, add(sums.get(bar.currency) ?? '0', bar.amount));
  return sums;
}

async function expectChartsEqual(page: Page, selector: string, totals: Totals) {
  const prices = await chartSums(page, selector, 'price');
  const proceeds = await chartSums(page, selector, 'proceeds');
  expect([...prices.keys()].sort()).toEqual(totals.map((t) => t.currency).sort());
  for (const t of totals) {
    expect(
      sameAmount(prices.get(t.currency)!, t.customerPrice),
      `${t.currency} ${prices.get(t.currency)}`,
    ).toBe(true);
    expect(
      sameAmount(proceeds.get(t.currency)!, t.proceeds),
      `${t.currency} ${proceeds.get(t.currency)}`,
    ).toBe(true);
    // The numbers beside the chart say the same.
    const foot = page.locator(
      `${selector.replace(/ svg.*$/, '')} table.revenue-numbers[data-currency=${t.currency}] tfoot`,
    );
    expect(await foot.locator('[data-total=customerPrice]').first().textContent()).toBe(t.customerPrice);
    expect(await foot.locator('[data-total=proceeds]').first().textContent()).toBe(t.proceeds);
  }
}

describe('the revenue page', () => {
  it('is linked from the project page and draws per month, per currency and by product what `catalog-sync revenue` sums', async () => {
    const page = await logIn();
    await page.goto(`${base}/console/projects/${PROJECT}`);
    await page.click('nav.sections a.page');
    expect(new URL(page.url()).pathname).toBe(`/console/projects/${PROJECT}/revenue`);

    await page.fill('input[name=from]', '2026-01-01');
    await page.fill('input[name=to]', '2026-06-01');
    await page.selectOption('select[name=by]', 'month');
    await Promise.all([page.waitForURL(/by=month/), page.click('form.range button[type=submit]')]);
    expect(new URL(page.url()).search).toBe('?from=2026-01-01&to=2026-06-01&by=month&environment=production');

    const totals = await cliRevenue('2026-01-01', '2026-06-01', 'month');
    expect(totals.map((t) => t.currency)).toEqual(['GBP', 'USD']);
    // Five months: a column pair per month for each currency, empty months drawn as zero.
    expect(await page.locator('svg.chart[data-by=month][data-currency=USD] rect.bar.price').count()).toBe(5);
    await expectChartsEqual(page, 'section.revenue[id^=per-month] svg.chart', totals);
    await expectChartsEqual(page, 'section.by-product svg.chart', totals);
    // Two products in dollars, one in pounds.
    expect(await page.locator('section.by-product[data-currency=USD] svg rect.bar.price').count()).toBe(2);
    expect(await page.locator('section.by-product[data-currency=GBP] svg rect.bar.price').count()).toBe(1);
    // The refund shows as a negative amount in its month's row.
    const usdMonths = await page.$$eval(
      'section.revenue[id^=per-month][data-currency=USD] tbody tr',
      (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
    );
    expect(usdMonths.length).toBeGreaterThanOrEqual(3);

    await page.screenshot({ path: 'test-results/console-revenue.png', fullPage: true });
    await page.context().close();
  });

  it('per day: a bar pair per day of the range, the refund below zero, totals equal to the CLI', async () => {
    const page = await logIn();
    await page.goto(`${base}/console/projects/${PROJECT}/revenue?from=2026-04-01&to=2026-05-01&by=day`);
    const totals = await cliRevenue('2026-04-01', '2026-05-01', 'day');
    expect(totals.map((t) => t.currency)).toEqual(['USD']);
    expect(await page.locator('svg.chart[data-by=day][data-currency=USD] rect.bar.price').count()).toBe(30);
    await expectChartsEqual(page, 'section.revenue[id^=per-day] svg.chart', totals);
    const amounts = await page.$$eval('svg.chart[data-by=day] rect.bar.price', (rects) =>
      rects.map((r) => r.getAttribute('data-amount')!),
    );
    expect(amounts.some((a) => a.startsWith('-'))).toBe(true);
    await page.context().close();
  });

  it('refuses a bad range with what is wrong, and says so when nothing is stored', async () => {
    const page = await logIn();
    const backwards = await page.goto(
      `${base}/console/projects/${PROJECT}/revenue?from=2026-05-01&to=2026-04-01`,
    );
    expect(backwards!.status()).toBe(400);
    expect(await page.locator('.flash.error').getAttribute('data-field')).toBe('to');
    expect(await page.locator('svg.chart').count()).toBe(0);
    const tooLong = await page.goto(
      `${base}/console/projects/${PROJECT}/revenue?from=2020-01-01&to=2026-01-01&by=day`,
    );
    expect(tooLong!.status()).toBe(400);
    expect(await page.locator('.flash.error').textContent()).toContain('by month');
    const notADate = await page.goto(
      `${base}/console/projects/${PROJECT}/revenue?from=%3Cscript%3E&to=2026-01-01`,
    );
    expect(notADate!.status()).toBe(400);
    expect(await page.locator('.flash.error').textContent()).toBe('from must be a date such as 2026-03-01.');
    // What was typed comes back escaped, never as markup.
    expect(await notADate!.text()).toContain('value="&lt;script&gt;"');
    expect(await page.locator('script').count()).toBe(0);

    const empty = await page.goto(
      `${base}/console/projects/${PROJECT}/revenue?from=2025-01-01&to=2025-02-01`,
    );
    expect(empty!.status()).toBe(200);
    expect(await page.locator('.summary.empty').textContent()).toContain('No stored attributions');
    const missing = await page.goto(`${base}/console/projects/no-such-project/revenue`);
    expect(missing!.status()).toBe(404);
    await page.context().close();
  });
});
