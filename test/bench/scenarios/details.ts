import { randomBytes } from 'node:crypto';
import { refreshDetails } from '../../../src/details/refresh.ts';
import { generateCatalog, startSimulator } from '../../../src/simulator/index.ts';
import { syncProject } from '../../../src/sync/run.ts';
import { benchConfig, openBenchDatabase, serviceContext } from '../lib/context.ts';
import { seedProjects } from '../lib/projects.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { createScratchDatabase } from '../lib/services.ts';
import { msSince, round } from '../lib/stats.ts';

/*
 * Scenario 6: catalog-detail requests per product, counted by the simulator, against
 * detailRequestLowerBound(shape) of src/details/plan.ts; and how many products one key's hourly
 * budget refreshes at the default share (3,600 × DETAILS_BUDGET_SHARE / requests per product).
 */

export const detailsScenario: Scenario = {
  id: 6,
  key: 'details',
  title: 'Detail requests per product vs the lower bound, products per hour of a key',
  async run(ctx) {
    const iaps = ctx.quick ? 5 : 40;
    const subscriptions = ctx.quick ? 5 : 40;
    ctx.progress(
      `generating an app with ${iaps} IAPs and ${subscriptions} subscriptions, details in 175 territories`,
    );
    const catalog = generateCatalog({
      seed: 12,
      apps: [{ iaps, groups: 2, subscriptionsPerGroup: subscriptions / 2 }],
      details: true,
    });
    const sim = await startSimulator({ catalog, port: 0, rateLimit: { perHour: 10_000_000 } });
    ctx.cleanup.defer('close simulator', () => sim.close());
    const key = await sim.createKey({ role: 'ADMIN', appIds: 'all' });
    const scratch = await createScratchDatabase(ctx.services, ctx.cleanup, 'details');
    const database = await openBenchDatabase(ctx.cleanup, scratch.url);
    const config = benchConfig({
      DATABASE_URL: scratch.url,
      APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
      APP_STORE_CONNECT_MAX_RETRIES: '0',
      // The product default (the other scenarios turn details off).
      DETAILS_BUDGET_SHARE: '0.5',
    });
    const service = serviceContext(database, config);
    const app = sim.catalog.apps[0]!;
    const projectId = `bench-details-${randomBytes(2).toString('hex')}`;
    await seedProjects(database.db, config, [
      {
        id: projectId,
        keyId: key.keyId,
        issuerId: key.issuerId,
        privateKeyPem: key.privateKeyPem,
        app: { appStoreId: app.id, bundleId: app.bundleId, name: app.name },
      },
    ]);
    const run = await syncProject(service, projectId, { trigger: 'manual' });
    sim.resetRequests();
    ctx.progress('reading every product’s details');
    const started = process.hrtime.bigint();
    const summary = await refreshDetails(service, { projectId, runId: run.runId, budget: null });
    const ms = msSince(started);
    const counted = sim.detailRequestCounts({ keyId: key.keyId });
    const byKind = new Map<string, { products: number; requests: number; bound: number; misses: number }>();
    for (const product of summary.refreshed) {
      const requests = Object.values(counted[product.appleId] ?? {}).reduce((a, b) => a + b, 0);
      const row = byKind.get(product.shape.kind) ?? { products: 0, requests: 0, bound: 0, misses: 0 };
      row.products++;
      row.requests += requests;
      row.bound += product.lowerBound;
      if (requests !== product.lowerBound) row.misses++;
      byKind.set(product.shape.kind, row);
    }
    // Subscription groups: one request each per run (their localizations and versions), not per product.
    const endpointCounts = sim.requestCounts({ keyId: key.keyId });
    const groupRequests =
      (endpointCounts['GET /v1/subscriptionGroups/{id}'] ?? 0) +
      (endpointCounts['GET /v1/subscriptionGroups/{id}/subscriptionGroupLocalizations'] ?? 0);
    const groupBound = summary.groups.reduce((n, g) => n + g.lowerBound, 0);
    byKind.set('subscription group', {
      products: summary.groups.length,
      requests: groupRequests,
      bound: groupBound,
      misses: groupRequests === groupBound ? 0 : summary.groups.length,
    });
    const total = [...byKind.values()].reduce(
      (t, r) => ({
        products: t.products + r.products,
        requests: t.requests + r.requests,
        misses: t.misses + r.misses,
      }),
      { products: 0, requests: 0, misses: 0 },
    );
    const perProduct = total.requests / Math.max(1, total.products);
    const share = config.details.budgetShare;
    const perHour = Math.floor((config.details.hourlyLimit * share) / perProduct);
    const rows: ResultTable['rows'] = [...byKind.entries()].map(([kind, r]) => [
      kind,
      r.products,
      r.bound,
      r.requests,
      round(r.requests / r.products, 2),
      r.misses,
    ]);
    const targets: TargetCheck[] = [
      {
        name: 'detail requests = lower bound, every product and group',
        target: `${total.products} of ${total.products}`,
        actual: `${total.products - total.misses} of ${total.products}`,
        met: total.misses === 0 && summary.failed.length === 0,
      },
    ];
    return {
      tables: [
        {
          title: 'Detail requests per product (simulator) vs detailRequestLowerBound(shape)',
          columns: ['kind', 'products (groups)', 'lower bound', 'requests', 'per product', 'off the bound'],
          rows,
        },
        {
          title: "Products refreshed per hour of one key's budget",
          columns: [
            'hourly limit',
            'details share',
            'requests per product',
            'products per hour',
            'wall ms per product',
          ],
          rows: [
            [
              config.details.hourlyLimit,
              share,
              round(perProduct, 2),
              perHour,
              round(ms / Math.max(1, total.products), 1),
            ],
          ],
        },
      ],
      targets,
      notes: [
        'Prices in 175 territories (some with scheduled changes), paid and free introductory offers, one promotional ' +
          'offer, offer code and win-back offer per subscription; each costs its own prices request (plan.ts says why). ' +
          'Versions, plan availabilities, promoted purchase, review screenshot and images ride on the product request; ' +
          'each subscription group costs one request per run (its localizations and versions).',
        'Products per hour = hourly limit × share ÷ measured requests per product; the simulator answers in-process, ' +
          'so wall time is this machine, not Apple.',
      ],
      data: { byKind: Object.fromEntries(byKind), total, perProduct, perHour, ms, changes: summary.changes },
    } satisfies ScenarioResult;
  },
};
