import { existsSync, mkdirSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue } from 'bullmq';
import { sql } from 'drizzle-orm';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { startWorkerService, type WorkerService } from '../../../jobs/main.ts';
import { createAuth } from '../../../src/console/auth.ts';
import { createSessionStore } from '../../../src/console/sessions.ts';
import { verifyCredentials as verifyProjectCredentials } from '../../../src/onboarding/index.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { freePort, serviceEnv, until, useJobsHarness } from '../jobs/support.ts';

/*
 * The operator console in a real headless Chromium (Debian's package, driven by playwright-core),
 * served by an in-process worker service on its metrics port, against real Postgres, Redis and
 * the simulator. The worker processes the "sync now" the browser asks for.
 */

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  // Fail, not skip: a console without its browser test is untested.
  throw new Error(
    `The console's browser tests need Debian's Chromium at ${CHROMIUM}. Install it with: ` +
      'apt-get update && apt-get install -y --no-install-recommends chromium',
  );
}

const APP = '2000000014';
const WRITE_TOKEN = 'operator-token-0123456789abcdef';
const READ_TOKEN = 'reader-token-0123456789abcdef';
const FLEET = 300;
const BROKEN = 'acme-broken';
/** A key the simulator accepts, verified, but no app picked yet. */
const NO_APP = 'acme-noapp';
/** No key saved at all. */
const NO_KEY = 'acme-nokey';
/** A fleet project whose key Apple refused. */
const INVALID = 'fleet-0007';
/** Projects needing action: the failing one, the two above and the refused key. */
const NEEDING = [BROKEN, NO_APP, NO_KEY, INVALID];

const harness = useJobsHarness({
  catalog: {
    seed: 14,
    apps: [
      {
        id: APP,
        iaps: 4,
        groups: 1,
        subscriptionsPerGroup: 2,
        grace: { optIn: true, sandboxOptIn: false, duration: 'SIXTEEN_DAYS', renewalType: 'ALL_RENEWALS' },
      },
    ],
  },
});
const { db, sim, services } = harness;

let service: WorkerService;
let browser: Browser;
let base: string;
let evil: Server;
let evilUrl: string;

async function seedFleet(): Promise<void> {
  // A few hundred projects, each with a key row (never decrypted here) and one successful run.
  await db().db.execute(sql`
    insert into projects (id, app_store_id, bundle_id, app_name, schedule_cron)
    select 'fleet-' || lpad(g::text, 4, '0'), (3000000000 + g)::text,
           'com.fleet.app' || lpad(g::text, 4, '0'), 'Fleet App ' || g,
           -- Some scheduled, at a time no test run reaches (04:30 on the 1st of a month).
           case when g % 3 = 0 then '30 4 1 * *' end
    from generate_series(1, ${FLEET}) as g`);
  await db().db.execute(sql`
    insert into app_store_credentials (project_id, key_id, issuer_id, private_key_encrypted, encryption_key_id, status, verified_at)
    select id, 'KEY' || right(id, 4), '00000000-0000-0000-0000-000000000000', 'sealed-placeholder', 'k1', 'valid', now()
    from projects where id like 'fleet-%'`);
  await db().db.execute(sql`
    insert into sync_runs (project_id, trigger, status, started_at, finished_at, duration_ms, requests_made, counts)
    select id, 'schedule', 'succeeded', now() - interval '1 hour', now() - interval '1 hour' + interval '2 seconds',
           2000 + (hashtext(id) & 1023), 5,
           case when right(id, 1) = '5' then '{"product.updated": 2}'::jsonb else '{}'::jsonb end
    from projects where id like 'fleet-%'`);
  // Not failing, but not verified either: the list says what to do.
  await db().db.execute(
    sql`update app_store_credentials set status = 'unverified', verified_at = null where project_id = 'fleet-0002'`,
  );
  await db().db.execute(
    sql`update app_store_credentials set status = 'invalid', status_detail = 'Apple answered 401.' where project_id = ${INVALID}`,
  );
  await db().db.execute(sql`insert into projects (id) values (${NO_KEY})`);
}

async function seedNoApp(): Promise<void> {
  const ctx = harness.ctx();
  await createProject(ctx, sim(), NO_APP, null);
  // "Verify & Fetch Apps": the apps the key sees are stored for the picker.
  expect((await verifyProjectCredentials(ctx, NO_APP)).status).toBe('valid');
}

async function seedBroken(): Promise<void> {
  const ctx = harness.ctx();
  await createProject(ctx, sim(), BROKEN, APP);
  await syncProject(ctx, BROKEN, { trigger: 'manual' });
  // A rename, so the timeline has an update with before and after.
  const iap = sim().catalog.apps.find((a) => a.id === APP)!.iaps[0]!;
  sim().mutate.updateProduct(iap.id, { name: 'Gems (renamed)' });
  await syncProject(ctx, BROKEN, { trigger: 'schedule' });
  // Then its last run failed.
  await db().db.execute(sql`
    insert into sync_runs (project_id, trigger, status, started_at, finished_at, duration_ms, error_kind, error_message)
    values (${BROKEN}, 'schedule', 'failed', now(), now(), 120, 'forbidden',
            'App Store Connect refused the request: the API key role does not allow it.')`);
}

async function runCount(projectId: string, status?: string): Promise<number> {
  const [row] = rowsOf<{ n: number }>(
    await db().db.execute(
      status
        ? sql`select count(*)::int as n from sync_runs where project_id = ${projectId} and status = ${status}`
        : sql`select count(*)::int as n from sync_runs where project_id = ${projectId}`,
    ),
  );
  return row!.n;
}

beforeAll(async () => {
  await seedFleet();
  await seedBroken();
  await seedNoApp();
  const port = await freePort();
  const ctx = testContext(db().db, {
    ...serviceEnv(services(), {
      METRICS_HOST: '127.0.0.1',
      CONSOLE_TOKEN: WRITE_TOKEN,
      CONSOLE_READ_TOKEN: READ_TOKEN,
    }),
    LOG_LEVEL: 'silent',
  });
  service = await startWorkerService(ctx, { metricsPort: port });
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
  // Another site (localhost is not 127.0.0.1) whose page posts a form to the console.
  evil = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><form id="f" method="post" action="${base}/console/projects/${BROKEN}/sync">
      <input name="csrf" value="guessed"></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}/`;
  mkdirSync('test-results', { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (evil ? evil.close(() => resolve()) : resolve()));
  await service?.close('test over');
});

async function logIn(token: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/console/projects`);
  expect(new URL(page.url()).pathname).toBe('/console/login');
  await page.fill('#token', token);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.click('button[type=submit]'),
  ]);
  if (response.status() !== 303) {
    throw new Error(`login answered ${response.status()}: ${(await response.text()).slice(0, 2000)}`);
  }
  await page.waitForURL(`${base}/console/projects`);
  return { context, page };
}

describe('the operator console in a browser', () => {
  it('refuses a wrong token and sets no session', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/console/login`);
    await page.fill('#token', 'not-the-token-at-all-0000');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.click('button[type=submit]'),
    ]);
    expect(response.status()).toBe(401);
    expect(await page.locator('.flash.error').textContent()).toBe('Wrong token.');
    await page.screenshot({ path: 'test-results/console-login.png', fullPage: false });
    expect(await context.cookies()).toEqual([]);
    // Without a session, a page sends back to the login form.
    await page.goto(`${base}/console/projects/${BROKEN}`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await context.close();
  });

  it('logs in, lists hundreds of projects one line each, those needing action first, and searches', async () => {
    const { context, page } = await logIn(WRITE_TOKEN);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'cs_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    const html = await page.content();
    expect(html).not.toContain(WRITE_TOKEN);
    expect(html).not.toContain(session.value);

    const total = FLEET + 2 + 1;
    expect(await page.locator('.summary').textContent()).toContain(`${total} projects`);
    expect(await page.locator('.summary').textContent()).toContain(`${NEEDING.length} need action`);
    const rows = page.locator('table.projects tbody tr');
    const firsts = await rows.evaluateAll((trs) =>
      trs.slice(0, 4).map((tr) => tr.getAttribute('data-project')),
    );
    expect(firsts.sort()).toEqual([...NEEDING].sort());
    // Each says what is wrong in a short badge; the fix text is on the project page.
    const needs = Object.fromEntries(
      await rows.evaluateAll((trs) =>
        trs.slice(0, 4).map((tr) => [tr.getAttribute('data-project'), tr.getAttribute('data-needs')]),
      ),
    );
    expect(needs).toEqual({
      [BROKEN]: 'sync_failed',
      [NO_APP]: 'no_app',
      [NO_KEY]: 'no_key no_app',
      [INVALID]: 'key_invalid',
    });
    expect(await page.locator(`tr[data-project="${NO_APP}"]`).textContent()).toContain('no app');
    expect(await page.locator('table.projects .fix').count()).toBe(0);
    expect(await rows.count()).toBe(50);

    // A normal laptop screen shows at least 15 whole rows, each one line, ids unbroken.
    await page.setViewportSize({ width: 1280, height: 800 });
    const boxes = await rows.evaluateAll((trs) =>
      trs.map((tr) => {
        const box = tr.getBoundingClientRect();
        return { top: box.top, bottom: box.bottom, height: box.height };
      }),
    );
    const visible = boxes.filter((b) => b.bottom <= 800);
    expect(visible.length).toBeGreaterThanOrEqual(15);
    const heights = new Set(boxes.map((b) => Math.round(b.height)));
    expect(heights.size).toBe(1);
    expect([...heights][0]).toBeLessThan(36);
    const idLink = page.locator(`tr[data-project="${BROKEN}"] td.id a`);
    expect((await idLink.boundingBox())!.height).toBeLessThan(24);
    // Column widths hold from page to page.
    const widths = () =>
      page
        .locator('table.projects thead th')
        .evaluateAll((ths) => ths.map((th) => th.getBoundingClientRect().width));
    const firstWidths = await widths();
    await page.screenshot({ path: 'test-results/console-projects.png', fullPage: false });

    // Sorted by bundle id, descending, page 2.
    await page.click('th >> text=App');
    await page.click('th >> text=App');
    await page.click('a[rel=next]');
    const url = new URL(page.url());
    expect(url.searchParams.get('sort')).toBe('app');
    expect(url.searchParams.get('dir')).toBe('desc');
    expect(url.searchParams.get('page')).toBe('2');
    // (Within a pixel: sub-pixel layout rounds the flexible App column.)
    const secondWidths = await widths();
    for (const [i, w] of secondWidths.entries()) expect(Math.abs(w - firstWidths[i]!)).toBeLessThan(1.5);
    // The 4 needing action first, then fleet-0300 … fleet-0255 (fleet-0007 is among the 4) on
    // page 1; page 2 goes on from there.
    expect(await page.locator('table.projects tbody tr').first().getAttribute('data-project')).toBe(
      'fleet-0254',
    );

    // The filter: only those needing action.
    await page.goto(`${base}/console/projects`);
    await page.check('#needs');
    await page.click('form.search button');
    expect(new URL(page.url()).searchParams.get('needs')).toBe('action');
    const filtered = await page
      .locator('table.projects tbody tr')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-project')));
    expect(filtered.sort()).toEqual([...NEEDING].sort());
    expect(await page.locator('.summary').textContent()).toContain(
      `${NEEDING.length} projects needing action`,
    );

    // Search by bundle id, then by project id.
    await page.goto(`${base}/console/projects`);
    await page.fill('#q', 'com.fleet.app0042');
    await page.click('form.search button');
    expect(await page.locator('table.projects tbody tr').count()).toBe(1);
    expect(await page.locator('table.projects tbody tr').getAttribute('data-project')).toBe('fleet-0042');
    await page.fill('#q', 'acme-b');
    await page.click('form.search button');
    await page.click(`a:text-is("${BROKEN}")`);
    expect(new URL(page.url()).pathname).toBe(`/console/projects/${BROKEN}`);
    await context.close();
  });

  it('picks the app of a project that has none, from the apps its key sees', async () => {
    const { context, page } = await logIn(WRITE_TOKEN);
    await page.goto(`${base}/console/projects/${NO_APP}`);
    expect(await page.locator('section.needs').textContent()).toContain('No app.');
    // No "Sync now" for a project with nothing to sync.
    expect(await page.locator('button:text-is("Sync now")').count()).toBe(0);
    const options = await page
      .locator('#app select option')
      .evaluateAll((os) => os.map((o) => o.getAttribute('value')));
    expect(options).toContain(APP);
    await page.screenshot({ path: 'test-results/console-app-picker.png', fullPage: false });
    await page.selectOption('#appStoreId', APP);
    await Promise.all([
      page.waitForURL(`${base}/console/projects/${NO_APP}`),
      page.click('button:text-is("Use this app")'),
    ]);
    expect(await page.locator('.flash.ok').textContent()).toContain(`${NO_APP} now syncs`);
    expect(await page.locator('#app').count()).toBe(0);
    expect(await page.locator('section.facts').textContent()).toContain(APP);
    expect(await page.locator('section.needs').count()).toBe(0);
    expect(await page.locator('button:text-is("Sync now")').count()).toBe(1);
    // The list no longer flags it.
    await page.goto(`${base}/console/projects?q=${NO_APP}`);
    expect(await page.locator(`tr[data-project="${NO_APP}"]`).getAttribute('data-needs')).toBe('');
    // Put it back for the other tests.
    await db().db.execute(
      sql`update projects set app_store_id = null, bundle_id = null, app_name = null where id = ${NO_APP}`,
    );
    await context.close();
  });

  it('says honestly what a refused key means: red, "checked", health unknown, the advice once', async () => {
    const { context, page } = await logIn(READ_TOKEN);
    await page.goto(`${base}/console/projects/${INVALID}`);
    const key = page.locator('section.facts dd.key');
    expect(await key.locator('.badge').textContent()).toBe('invalid');
    expect(await key.locator('.badge').getAttribute('class')).toContain('bad');
    expect(await key.textContent()).toContain('checked ');
    expect(await key.textContent()).not.toContain('verified');
    // The fix once on the page.
    const text = (await page.locator('main').textContent())!;
    const advice = 'Apple answered: Apple answered 401.';
    expect(text.split(advice).length - 1).toBe(1);
    // No catalog stored for this fleet project: health is unknown, never "healthy".
    expect(await page.locator('#health .health-summary .badge').textContent()).toBe('unknown');
    expect(text).not.toContain('healthy');
    await context.close();
  });

  it('after "Verify & Fetch Apps" finds the key refused, says so in red, once', async () => {
    const refused = 'acme-refused';
    await createProject(harness.ctx(), sim(), refused, null, { agreementsMissing: true });
    try {
      const { context, page } = await logIn(WRITE_TOKEN);
      await page.goto(`${base}/console/projects/${refused}`);
      await Promise.all([
        page.waitForURL(`${base}/console/projects/${refused}`),
        page.click('button:text-is("Verify & Fetch Apps")'),
      ]);
      expect(await page.locator('.flash.ok').count()).toBe(0);
      expect(await page.locator('.flash.error').textContent()).toBe(
        `Checked the key of ${refused}: the key lacks access (0 apps seen).`,
      );
      const key = page.locator('section.facts dd.key');
      expect(await key.locator('.badge').textContent()).toBe('forbidden');
      expect(await key.locator('.badge').getAttribute('class')).toContain('bad');
      // What to do, said once on the page (not in the flash, the facts and a box at once).
      const text = (await page.locator('main').textContent())!;
      expect(text.split('the Account Holder must accept them').length - 1).toBe(1);
      expect(await page.locator('#health .health-summary .badge').textContent()).toBe('unknown');
      await context.close();
    } finally {
      await db().db.execute(sql`delete from projects where id = ${refused}`);
    }
  });

  it('shows a project: changes with before/after, rules, runs with their errors', async () => {
    const { context, page } = await logIn(WRITE_TOKEN);
    await page.goto(`${base}/console/projects/${BROKEN}`);
    expect(await page.locator('h1').textContent()).toBe(BROKEN);
    const runs = page.locator('#runs tr.run');
    expect(await runs.count()).toBe(3);
    expect(await runs.first().textContent()).toContain('forbidden: App Store Connect refused');
    const updated = page.locator('#changes tr.change.updated');
    expect(await updated.count()).toBe(1);
    expect(await updated.textContent()).toContain('Gems (renamed)');
    // Named by product id and name, not by Apple's id.
    const iap = sim().catalog.apps.find((a) => a.id === APP)!.iaps[0]!;
    expect(await updated.locator('td').nth(1).textContent()).toContain(iap.productId);
    expect(await updated.locator('td').nth(1).textContent()).not.toContain(iap.id);
    // The first sync is one line per entity kind, with a link to its rows.
    expect(await page.locator('#changes tr.change.added').count()).toBe(0);
    const lines = page.locator('#changes .first-sync-line');
    expect(await lines.count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#changes .first-sync-line[data-entity=product]').textContent()).toMatch(
      /^\d+ products added$/,
    );
    await page.click('text=Show its rows');
    expect(await page.locator('#changes tr.change.added').count()).toBeGreaterThan(3);
    expect(await page.locator('#changes tr.change.updated').count()).toBe(0);
    await page.goto(`${base}/console/projects/${BROKEN}`);
    // Section navigation, and the project's revenue page (test/integration/console/revenue.browser.test.ts).
    expect(await page.locator('nav.sections a').count()).toBe(9);
    expect(await page.locator('nav.sections a.page').textContent()).toBe('Revenue');
    expect(await page.locator('nav.sections a.page').getAttribute('href')).toBe(
      `/console/projects/${BROKEN}/revenue`,
    );
    expect(await page.locator('#rules tr.in-force').count()).toBe(4);
    expect(await page.locator('#catalog table.products tr').count()).toBeGreaterThan(3);
    // The detail sections, read through src/app: no placeholder left.
    for (const id of ['prices', 'offers', 'health', 'deliveries']) {
      expect(await page.locator(`section#${id}`).count()).toBe(1);
    }
    expect(await page.locator('[data-placeholder]').count()).toBe(0);
    // The seeded syncs stored no prices, offers or deliveries: the empty states say so.
    expect(await page.locator('#prices').textContent()).toContain(
      "No prices stored yet: details are read after syncs, within the key's budget.",
    );
    expect(await page.locator('#offers').textContent()).toContain('No offers stored yet');
    expect(await page.locator('#deliveries').textContent()).toContain(
      'No webhook deliveries for this project yet',
    );
    // The simulator's catalog has a product in MISSING_METADATA, and no product has details yet.
    const health = page.locator('#health');
    expect(await health.locator('h2').textContent()).toBe('Catalog health');
    expect(await health.locator('tr.issue.product_state').count()).toBe(1);
    expect(await health.locator('tr.issue.stale_details').count()).toBeGreaterThan(0);
    expect(await health.locator('.health-summary').textContent()).toMatch(/^\d+ issues product state 1/);
    await page.screenshot({ path: 'test-results/console-project.png', fullPage: true });
    await context.close();
  });

  it('pages prices and offers and filters them by product and territory; a price change shows its amounts', async () => {
    // 42 territories for every live product of the project: several pages.
    const inserted = rowsOf<{ n: number }>(
      await db().db.execute(sql`
        with added as (
          insert into product_prices (project_id, product_apple_id, territory, apple_id, source, currency, customer_price, proceeds)
          select p.project_id, p.apple_id, 'Z' || chr(65 + g / 26) || chr(65 + g % 26),
                 'price-' || p.apple_id || '-' || g, 'manual', 'EUR', 4.99, 3.49
          from products p cross join generate_series(0, 41) as g
          where p.project_id = ${BROKEN} and p.removed_at is null
          returning 1)
        select count(*)::int as n from added`),
    )[0]!.n;
    const live = inserted / 42;
    expect(inserted).toBeGreaterThan(200);
    const iap = sim().catalog.apps.find((a) => a.id === APP)!.iaps[1]!;
    const [stored] = rowsOf<{ apple_id: string }>(
      await db().db.execute(
        sql`select apple_id from products where project_id = ${BROKEN} and product_id = ${iap.productId}`,
      ),
    );
    // A price change as the details refresh records it.
    await db().db.execute(sql`
      insert into catalog_changes (project_id, run_id, entity, entity_id, action, changed_fields, before, after)
      select ${BROKEN}, id, 'price', ${`${stored!.apple_id}/ZAB/initial`}, 'updated', '{customerPrice,proceeds}',
             '{"territory":"ZAB","currency":"EUR","customerPrice":"4.99","proceeds":"3.49","startDate":null}'::jsonb,
             '{"territory":"ZAB","currency":"EUR","customerPrice":"5.99","proceeds":"4.19","startDate":null}'::jsonb
      from sync_runs where project_id = ${BROKEN} and status = 'succeeded' order by started_at desc limit 1`);
    try {
      const { context, page } = await logIn(READ_TOKEN);
      await page.goto(`${base}/console/projects/${BROKEN}`);
      expect(await page.locator('#prices tr.price').count()).toBe(50);
      expect(await page.locator('#prices tr.price').first().textContent()).toContain('4.99 EUR');
      expect(await page.locator('#prices .count').textContent()).toBe(
        `${inserted} prices in force now (per product and territory).`,
      );
      const pages = Math.ceil(inserted / 50);
      expect(await page.locator('#prices .pager span').textContent()).toBe(`Page 1 of ${pages} (50 a page)`);
      await page.click('#prices a[rel=next]');
      expect(new URL(page.url()).searchParams.get('prices_page')).toBe('2');
      expect(await page.locator('#prices .pager span').textContent()).toBe(`Page 2 of ${pages} (50 a page)`);

      // By territory: one price per live product; by product too: exactly one.
      await page.fill('#territory', 'ZAB');
      await page.click('form.filter button');
      expect(await page.locator('#prices tr.price').count()).toBe(live);
      await page.selectOption('#product', iap.productId);
      await page.click('form.filter button');
      expect(await page.locator('#prices tr.price').count()).toBe(1);
      expect(await page.locator('#prices .count').textContent()).toBe(
        `1 price in force now (per product and territory) for product ${iap.productId}, territory ZAB.`,
      );
      await page.fill('#territory', 'Z1');
      await page.click('form.filter button');
      expect(await page.locator('#prices .error-text').textContent()).toContain('territory');

      // The price change, named by product and with its amounts before and after.
      await page.goto(`${base}/console/projects/${BROKEN}#changes`);
      const change = page.locator('#changes tr.change.price');
      expect(await change.count()).toBe(1);
      expect(await change.locator('td').nth(1).textContent()).toContain(iap.productId);
      expect(await change.locator('.amount.before').textContent()).toBe('4.99 EUR in ZAB, proceeds 3.49 EUR');
      expect(await change.locator('.amount.after').textContent()).toBe('5.99 EUR in ZAB, proceeds 4.19 EUR');
      await context.close();
    } finally {
      await db().db.execute(sql`delete from product_prices where project_id = ${BROKEN}`);
      await db().db.execute(
        sql`delete from catalog_changes where project_id = ${BROKEN} and entity = 'price'`,
      );
    }
  });

  it('syncs now (the worker runs it and the new run appears) and sets then removes a schedule', async () => {
    const { context, page } = await logIn(WRITE_TOKEN);
    await page.goto(`${base}/console/projects/${BROKEN}`);
    const before = await runCount(BROKEN);
    await Promise.all([
      page.waitForURL(`${base}/console/projects/${BROKEN}`),
      page.click('button:text-is("Sync now")'),
    ]);
    expect(await page.locator('.flash.ok').textContent()).toMatch(/Queued a sync of acme-broken \(job /);
    await until(
      async () => (await runCount(BROKEN, 'succeeded')) >= 3,
      'the console-requested sync to finish',
    );
    await page.reload();
    expect(await page.locator('#runs tr.run').count()).toBe(before + 1);
    const newest = page.locator('#runs tr.run').first();
    expect(await newest.textContent()).toContain('manual');
    expect(await newest.getAttribute('class')).toContain('succeeded');
    // The flash was shown once.
    expect(await page.locator('.flash').count()).toBe(0);

    await page.fill('#every', '6h');
    await page.click('button:text-is("Set schedule")');
    expect(await page.locator('.flash.ok').textContent()).toBe(`${BROKEN} now syncs every 6h.`);
    expect(await page.locator('.facts').textContent()).toMatch(/every 6h · next run \d{4}-/);

    await page.fill('#every', 'often');
    await page.click('button:text-is("Set schedule")');
    expect(await page.locator('.flash.error').textContent()).toContain('every:');

    await page.click('button:text-is("Remove schedule")');
    expect(await page.locator('.flash.ok').textContent()).toBe(`${BROKEN} is no longer synced periodically.`);
    await context.close();
  });

  it('a read-only token sees pages but cannot act', async () => {
    const { context, page } = await logIn(READ_TOKEN);
    await page.goto(`${base}/console/projects/${BROKEN}`);
    expect(await page.locator('text=Read-only session').count()).toBe(1);
    expect(await page.locator('button:text-is("Sync now")').count()).toBe(0);
    // Forge the form the page does not offer, with this session's own CSRF token.
    const before = await runCount(BROKEN);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      // Browser code as text: this file is type-checked without the DOM library.
      page.evaluate(`(() => {
        const csrf = document.querySelector('input[name=csrf]').value;
        const form = document.createElement('form');
        form.method = 'post';
        form.action = '/console/projects/${BROKEN}/sync';
        const input = document.createElement('input');
        input.name = 'csrf';
        input.value = csrf;
        form.append(input);
        document.body.append(form);
        form.submit();
      })()`),
    ]);
    expect(response.status()).toBe(403);
    await page.waitForLoadState();
    expect(await page.locator('h1').textContent()).toBe('Read-only');
    const waiting = await service.queue.getJobCounts('waiting', 'active');
    expect(waiting).toMatchObject({ waiting: 0, active: 0 });
    expect(await runCount(BROKEN)).toBe(before);
    await context.close();
  });

  it('refuses cross-site POSTs: another site, no Origin, a foreign Origin, a missing CSRF token', async () => {
    const { context, page } = await logIn(WRITE_TOKEN);
    // A page on another site submits a form to the console: SameSite=Strict keeps the cookie
    // home and the Origin is foreign.
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/sync')),
      page.goto(evilUrl),
    ]);
    expect([401, 403]).toContain(response.status());

    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    await page.goto(`${base}/console/projects/${BROKEN}`);
    const csrf = await page.locator('form.action input[name=csrf]').first().inputValue();
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${base}/console/projects/${BROKEN}/sync`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      });
    const origin = base;
    expect((await post({}, `csrf=${csrf}`)).status).toBe(403);
    expect((await post({ origin: 'http://evil.example' }, `csrf=${csrf}`)).status).toBe(403);
    expect((await post({ origin, 'sec-fetch-site': 'cross-site' }, `csrf=${csrf}`)).status).toBe(403);
    expect((await post({ origin }, '')).status).toBe(403);
    expect((await post({ origin }, 'csrf=forged')).status).toBe(403);
    const waiting = await service.queue.getJobCounts('waiting', 'active');
    expect(waiting).toMatchObject({ waiting: 0, active: 0 });
    // The same request from the console's own origin with the token is accepted.
    expect((await post({ origin }, `csrf=${csrf}`)).status).toBe(303);
    await context.close();
  });

  it('serves Bull Board under /console/queues with the catalog-sync queue, behind the login', async () => {
    const anonymous = await fetch(`${base}/console/queues/api/queues`, { redirect: 'manual' });
    expect(anonymous.status).toBe(401);
    const { context, page } = await logIn(READ_TOKEN);
    const response = await page.goto(`${base}/console/queues/`);
    expect(response?.headers()['x-frame-options']).toBe('DENY');
    await page.waitForSelector('text=catalog-sync', { timeout: 20_000 });
    const api = await page.request.get(`${base}/console/queues/api/queues?activeQueue=catalog-sync`);
    expect(api.status()).toBe(200);
    const body = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => q.name)).toContain('catalog-sync');
    expect(body.queues[0]!.readOnlyMode).toBe(true);
    await context.close();
  });

  it('the fleet view lists projects with stale details and those bound by their key budget', async () => {
    const { context, page } = await logIn(READ_TOKEN);
    await page.click('header.top a:text-is("Fleet")');
    expect(new URL(page.url()).pathname).toBe('/console/fleet');
    // The seeded project's products with their details never read (a sync of the worker may
    // have read them by now: the test says so itself, and puts them back after); the fleet
    // projects have no product.
    const saved = rowsOf<{ apple_id: string; at: string | null }>(
      await db().db.execute(
        sql`select apple_id, details_read_at::text as at from products where project_id = ${BROKEN} and removed_at is null`,
      ),
    );
    await db().db.execute(sql`update products set details_read_at = null where project_id = ${BROKEN}`);
    try {
      await page.reload();
      const row = page.locator(`#stale tr.stale[data-project="${BROKEN}"]`);
      const live = String(saved.length);
      expect(await row.locator('td.num').allTextContents()).toEqual([live, live, live]);
      expect(await page.locator('#stale tr.stale').count()).toBe(1);
    } finally {
      await db().db.execute(sql`
        update products p set details_read_at = s.at::timestamptz
        from jsonb_to_recordset(${JSON.stringify(saved)}::jsonb) as s(apple_id text, at text)
        where p.project_id = ${BROKEN} and p.apple_id = s.apple_id`);
    }
    expect(await page.locator('#budget-bound .summary').textContent()).toBe('No project is budget-bound.');
    await page.screenshot({ path: 'test-results/console-fleet.png', fullPage: false });
    await context.close();
  });

  it('ends the session on logout: the old cookie, replayed in another browser, is refused', async () => {
    const { context, page } = await logIn(READ_TOKEN);
    const saved = await context.cookies();
    expect(saved.find((c) => c.name === 'cs_session')).toBeDefined();
    await Promise.all([page.waitForURL(`${base}/console/login`), page.click('button:text-is("Log out")')]);
    await context.close();
    // Another browser with the saved cookie: back to the login form.
    const replay = await browser.newContext();
    await replay.addCookies(saved);
    const page2 = await replay.newPage();
    await page2.goto(`${base}/console/projects`);
    expect(new URL(page2.url()).pathname).toBe('/console/login');
    const api = await page2.request.get(`${base}/console/queues/api/queues`);
    expect(api.status()).toBe(401);
    await replay.close();
  });

  it('ends sessions of tokens no longer in force', async () => {
    const { context } = await logIn(WRITE_TOKEN);
    const cookie = (await context.cookies()).find((c) => c.name === 'cs_session')!.value;
    const current = createSessionStore(
      db().db,
      createAuth({ writeToken: WRITE_TOKEN, readToken: READ_TOKEN, sessionTtlMs: 3_600_000 }),
    );
    expect(await current.resume(cookie)).not.toBeNull();
    // The operator token changed: the cookie is refused, and its row goes at the next start.
    const rotated = createSessionStore(
      db().db,
      createAuth({
        writeToken: 'rotated-token-0123456789abcdef',
        readToken: READ_TOKEN,
        sessionTtlMs: 3_600_000,
      }),
    );
    expect(await rotated.resume(cookie)).toBeNull();
    expect(await rotated.purge()).toBeGreaterThan(0);
    expect(await current.resume(cookie)).toBeNull();
    await context.close();
  });

  it('slows a guessing address without locking the right token out', async () => {
    // Ten wrong tokens from 127.0.0.2 (another address on the loopback).
    const post = (token: string, localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(`${base}/console/login`);
        const body = `token=${encodeURIComponent(token)}`;
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            localAddress,
            headers: {
              origin: base,
              'content-type': 'application/x-www-form-urlencoded',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    for (let i = 0; i < 10; i++) expect(await post(`wrong-token-${i}-0123456789`, '127.0.0.2')).toBe(401);
    // The right token from another address (the browser, 127.0.0.1) gets in at once …
    const { context } = await logIn(WRITE_TOKEN);
    await context.close();
    // … and from the guessing address too, after its wait: slowed, never locked out.
    expect(await post(WRITE_TOKEN, '127.0.0.2')).toBe(303);
  });

  it('Bull Board: UTC times, the read-only title whole, no stack traces or server paths for readers; a favicon', async () => {
    // A job the worker refuses (unknown name): it fails with a stack trace full of server paths.
    const job = await (service.queue as unknown as Queue).add('not-a-catalog-sync-job', {
      projectId: BROKEN,
    });
    await until(async () => (await job.getState()) === 'failed', 'the unknown job to fail');
    try {
      const jobsOf = async (page: Page) => {
        const api = await page.request.get(
          `${base}/console/queues/api/queues?activeQueue=catalog-sync&status=failed&page=1&jobsPerPage=10`,
        );
        expect(api.status()).toBe(200);
        const body = (await api.json()) as {
          queues: { name: string; jobs: { id: string; stacktrace: string[]; failedReason: string }[] }[];
        };
        return body.queues.find((q) => q.name === 'catalog-sync')!.jobs.find((j) => j.id === job.id)!;
      };
      const operator = await logIn(WRITE_TOKEN);
      expect((await jobsOf(operator.page)).stacktrace.join('\n')).toMatch(/\/[\w.-]+\/[\w.-]+/);
      await operator.context.close();

      const { context, page } = await logIn(READ_TOKEN);
      const seen = await jobsOf(page);
      expect(seen.stacktrace).toEqual([]);
      expect(seen.failedReason).toContain('Unknown job name');
      expect(JSON.stringify(seen)).not.toMatch(/\/work\/|node_modules|\.ts:\d+/);

      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(`${base}/console/queues/queue/catalog-sync?status=failed`);
      const title = page.locator('text=catalog-sync · read-only').first();
      await title.waitFor({ timeout: 20_000 });
      // The whole title is shown, not cut with an ellipsis.
      expect(await title.evaluate((el) => el.scrollWidth <= el.clientWidth + 1)).toBe(true);
      await page.waitForSelector('text=/UTC/', { timeout: 20_000 });
      await page.screenshot({ path: 'test-results/console-queues.png', fullPage: false });
      await context.close();
    } finally {
      await job.remove();
    }
    const icon = await fetch(`${base}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/x-icon');
    expect(Buffer.from(await icon.arrayBuffer()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
  });

  it('sends security headers on every page', async () => {
    const response = await fetch(`${base}/console/login`);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    // /metrics still answers beside the console.
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });
});
