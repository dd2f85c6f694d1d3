import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { attribute, catalogHealth, listOffers, listPrices } from '../../../src/app/details.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { refreshDetails } from '../../../src/details/refresh.ts';
import {
  addDays,
  amountsFor,
  generateCatalog,
  type SimApp,
  type Simulator,
  startSimulator,
  TERRITORIES,
} from '../../../src/simulator/index.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { changeRows, snapshotCatalog, syncEnv } from '../sync/support.ts';

/*
 * Details against real Postgres and the simulator over HTTP: a first sync stores every price,
 * offer, localization and availability; a scheduled price change becomes a new version with a
 * `price` change row; `attribute` answers on either side of a price change and of a grace
 * change; an unchanged re-sync writes nothing but its run (and the read stamps).
 */

const getDb = useTestDatabase();
let sim: Simulator;
let ctx: ServiceContext;
const APP = '1000000001';
const PROJECT = 'shop';
const today = () => new Date().toISOString().slice(0, 10);

const app = (): SimApp => sim.catalog.apps.find((a) => a.id === APP)!;
const subscriptions = () => app().groups.flatMap((g) => g.subscriptions);

async function syncWithDetails() {
  const summary = await syncProject(ctx, PROJECT, { trigger: 'manual' });
  const details = await refreshDetails(ctx, { projectId: PROJECT, runId: summary.runId, budget: null });
  return { summary, details };
}

const detailTables = [
  'product_prices',
  'product_offers',
  'offer_prices',
  'product_localizations',
  'product_availability',
];

async function snapshotDetails(projectId: string) {
  const out: Record<string, string[]> = {};
  for (const table of detailTables) {
    const rows = rowsOf<{ row: string }>(
      await getDb().db.execute(
        sql`select t::text as row from ${sql.identifier(table)} t where t.project_id = ${projectId} order by 1`,
      ),
    );
    out[table] = rows.map((r) => r.row);
  }
  return out;
}

async function query<T>(text: ReturnType<typeof sql>) {
  return rowsOf<T>(await getDb().db.execute(text));
}

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 12,
      apps: [{ id: APP, iaps: 6, groups: 1, subscriptionsPerGroup: 4, grace: {} }],
      details: { scheduledShare: 0.5, manualShare: 0.5, iapOfferCodes: 2 },
    }),
  });
  ctx = testContext(getDb().db, syncEnv(sim));
  await createProject(ctx, sim, PROJECT, APP);
});

afterAll(async () => {
  await sim?.close();
});

describe('details of a catalog', () => {
  it('a first sync stores every price, offer, localization and availability', async () => {
    const { details } = await syncWithDetails();
    expect(details.failed).toEqual([]);
    expect(details.refreshed).toHaveLength(10);

    // Subscriptions: priced in all 175 territories today, amounts from the simulator's tiers.
    for (const subscription of subscriptions()) {
      const inForce = await listPrices(ctx, {
        projectId: PROJECT,
        productId: subscription.productId,
        at: new Date(),
      });
      expect(inForce.prices).toHaveLength(TERRITORIES.length);
      const usa = inForce.prices.find((p) => p.territory === 'USA')!;
      const entry = subscription
        .details!.prices.filter(
          (p) => (p.startDate ?? '') <= today() && (!p.territories || p.territories.includes('USA')),
        )
        .sort((a, b) => (a.startDate ?? '').localeCompare(b.startDate ?? ''))
        .at(-1)!;
      const expected = amountsFor(entry.tier, 'USA');
      expect(usa).toMatchObject({
        currency: 'USD',
        customerPrice: expected.customerPrice,
        proceeds: expected.proceeds,
        proceedsYear2: expected.proceedsYear2,
      });
      // Every scheduled change is stored as a version with its start date.
      for (const scheduled of subscription.details!.prices.filter((p) => (p.startDate ?? '') > today())) {
        const versions = await listPrices(ctx, {
          projectId: PROJECT,
          productId: subscription.productId,
          territory: scheduled.territories?.[0] ?? 'USA',
        });
        expect(versions.prices.some((p) => p.from === scheduled.startDate && p.scheduled)).toBe(true);
      }
    }
    // IAPs: manual in the base territory (and the manual territories), automatic elsewhere.
    const sources = await query<{ source: string; n: number }>(
      sql`select p.source, count(*)::int as n from product_prices p join products pr
            on pr.project_id = p.project_id and pr.apple_id = p.product_apple_id
           where p.project_id = ${PROJECT} and pr.kind <> 'auto_renewable_subscription' group by 1 order by 1`,
    );
    expect(sources.map((s) => s.source)).toEqual(['automatic', 'manual']);
    const usaIap = await query<{ source: string }>(
      sql`select distinct source from product_prices where project_id = ${PROJECT} and territory = 'USA' and source <> 'manual'
             and product_apple_id in (select apple_id from products where project_id = ${PROJECT} and kind <> 'auto_renewable_subscription')`,
    );
    expect(usaIap).toEqual([]);

    // Offers of each kind, with prices per territory.
    const offers = await listOffers(ctx, { projectId: PROJECT });
    expect(new Set(offers.offers.map((o) => o.kind))).toEqual(
      new Set(['introductory', 'promotional', 'offer_code', 'win_back']),
    );
    for (const kind of ['promotional', 'offer_code', 'win_back']) {
      expect(offers.offers.filter((o) => o.kind === kind).every((o) => o.prices.length > 0)).toBe(true);
    }
    const simOffers = [...subscriptions(), ...app().iaps].flatMap((p) => p.details?.offers ?? []);
    const nonIntro = simOffers.filter((o) => o.kind !== 'introductory').length;
    expect(offers.offers.filter((o) => o.kind !== 'introductory')).toHaveLength(nonIntro);

    // Localizations and availability.
    const [locs] = await query<{ n: number }>(
      sql`select count(*)::int as n from product_localizations where project_id = ${PROJECT}`,
    );
    const simLocs = [...subscriptions(), ...app().iaps].reduce(
      (n, p) => n + (p.details?.localizations.length ?? 0),
      0,
    );
    expect(locs!.n).toBe(simLocs);
    const availability = await query<{ product_apple_id: string; territories: string[] }>(
      sql`select product_apple_id, territories from product_availability where project_id = ${PROJECT}`,
    );
    for (const product of [...subscriptions(), ...app().iaps]) {
      const row = availability.find((a) => a.product_apple_id === product.id);
      expect(row?.territories.length ?? null).toBe(product.details?.availability?.territories.length ?? null);
    }
    // Territories with their currencies.
    const [territoryCount] = await query<{ n: number }>(sql`select count(*)::int as n from territories`);
    expect(territoryCount!.n).toBe(TERRITORIES.length);
  });

  it('an unchanged re-sync writes nothing but its run', async () => {
    const before = {
      catalog: await snapshotCatalog(getDb().db, PROJECT),
      details: await snapshotDetails(PROJECT),
    };
    const { summary, details } = await syncWithDetails();
    expect(summary.unchanged).toBe(true);
    // Nothing was due: every product was read moments ago.
    expect(details.due).toBe(0);
    // Forced: every product read again (stale), still nothing written but the read stamps.
    const forced = await refreshDetails(ctx, {
      projectId: PROJECT,
      runId: summary.runId,
      budget: null,
      maxAgeMs: 0,
    });
    expect(forced.refreshed).toHaveLength(10);
    expect(forced.changes).toEqual({});
    expect(await snapshotDetails(PROJECT)).toEqual(before.details);
    const strip = (rows: string[]) => rows.map((r) => r.replace(/,"?[0-9-]{10} [0-9:.+]+"?,\d+\)$/, ')'));
    const after = await snapshotCatalog(getDb().db, PROJECT);
    expect(after.catalog_changes).toEqual(before.catalog.catalog_changes);
    expect(strip(after.products!)).toEqual(strip(before.catalog.products!));
  });

  it('a price change scheduled in the simulator appears as a new version and a price change row', async () => {
    const subscription = subscriptions()[0]!;
    const start = addDays(today(), 30);
    sim.mutate.schedulePrice(subscription.id, { startDate: start, tier: 40, territories: ['FRA'] });
    const { summary } = await syncProject(ctx, PROJECT, { trigger: 'manual' }).then(async (s) => ({
      summary: s,
      details: await refreshDetails(ctx, { projectId: PROJECT, runId: s.runId, budget: null, maxAgeMs: 0 }),
    }));
    const changes = await changeRows(getDb().db, summary.runId);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      entity: 'price',
      entity_id: `${subscription.id}/FRA/${start}`,
      action: 'added',
    });
    expect(changes[0]!.after).toMatchObject({ territory: 'FRA', startDate: start, ...amountsFor(40, 'FRA') });

    // attribute on either side of the change.
    const dayBefore = new Date(`${addDays(start, -1)}T12:00:00Z`);
    const dayOf = new Date(`${start}T00:00:00Z`);
    const beforeChange = await attribute(ctx, {
      projectId: PROJECT,
      productId: subscription.productId,
      territory: 'fra',
      at: dayBefore,
    });
    const afterChange = await attribute(ctx, {
      projectId: PROJECT,
      productId: subscription.productId,
      territory: 'FRA',
      at: dayOf,
    });
    expect(afterChange.price).toMatchObject({
      currency: 'EUR',
      customerPrice: amountsFor(40, 'FRA').customerPrice,
      from: start,
    });
    expect(afterChange.proceeds).toEqual({
      firstYear: amountsFor(40, 'FRA').proceeds,
      afterFirstYear: amountsFor(40, 'FRA').proceedsYear2,
    });
    expect(beforeChange.price?.customerPrice).not.toBe(afterChange.price?.customerPrice);
    expect(beforeChange.price?.until).toBe(start);
  });

  it('attribute follows a grace-period change', async () => {
    const subscription = subscriptions()[1]!;
    sim.mutate.setGrace(APP, {
      optIn: false,
      sandboxOptIn: false,
      duration: 'THREE_DAYS',
      renewalType: 'ALL_RENEWALS',
    });
    await syncWithDetails();
    const beforeChange = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    sim.mutate.setGrace(APP, {
      optIn: true,
      sandboxOptIn: false,
      duration: 'SIXTEEN_DAYS',
      renewalType: 'ALL_RENEWALS',
    });
    const { summary } = await syncWithDetails();
    expect(summary.changes['grace_period.updated']).toBe(1);
    const ask = (at: Date) =>
      attribute(ctx, {
        projectId: PROJECT,
        productId: subscription.productId,
        territory: 'USA',
        at,
        renewal: 'offer_to_paid',
      });
    const first = await ask(beforeChange);
    const now = await ask(new Date());
    expect(first.rule).toMatchObject({
      graceDays: 0,
      recoveredRevenueDatedTo: 'recovery_date',
      accessDuringGrace: false,
    });
    expect(now.rule).toMatchObject({
      graceDays: 16,
      recoveredRevenueDatedTo: 'original_due_date',
      accessDuringGrace: true,
    });
    expect(first.rule?.effectiveTo).toBe(now.rule?.effectiveFrom);
    expect(now.price?.customerPrice).toBe(first.price?.customerPrice);
    expect(now.price?.currency).toBe('USD');
  });

  it('an ended offer, an added locale and a narrower availability are changes; health lists them', async () => {
    const subscription = subscriptions()[2]!;
    const promotional = subscription.details!.offers.find((o) => o.kind === 'promotional')!;
    const winBack = subscription.details!.offers.find((o) => o.kind === 'winBack')!;
    sim.mutate.endOffer(promotional.id);
    sim.mutate.endOffer(winBack.id, { endDate: addDays(today(), -1) });
    sim.mutate.addLocalization(subscription.id, { locale: 'pt-BR', name: 'Pro (BR)' });
    sim.mutate.setAvailability(subscription.id, {
      territories: subscription.details!.availability!.territories.filter((t) => t !== 'USA'),
    });
    const summary = await syncProject(ctx, PROJECT, { trigger: 'manual' });
    const details = await refreshDetails(ctx, {
      projectId: PROJECT,
      runId: summary.runId,
      budget: null,
      maxAgeMs: 0,
    });
    // No longer sold in the USA: its USA price ended too (kept, marked removed), and its offers'
    // USA records and prices went with it (so more offer rows than the two ended offers).
    expect(details.changes).toMatchObject({
      'price.removed': 1,
      'localization.added': 1,
      'availability.updated': 1,
    });
    const changes = await changeRows(getDb().db, summary.runId);
    expect(changes.find((c) => c.entity === 'price')?.entity_id).toMatch(
      new RegExp(`^${subscription.id}/USA/`),
    );
    expect(changes.find((c) => c.entity === 'offer' && c.entity_id === winBack.id)).toMatchObject({
      action: 'updated',
      changed_fields: expect.arrayContaining(['endDate']),
    });
    expect(changes.find((c) => c.entity === 'offer' && c.entity_id === promotional.id)?.action).toBe(
      'removed',
    );
    const health = await catalogHealth(ctx, { projectId: PROJECT });
    expect(health.issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'ended_offer_listed',
          productAppleId: subscription.id,
          items: [winBack.id],
        }),
        expect.objectContaining({ kind: 'missing_locales', items: ['pt-BR'] }),
      ]),
    );
    // The removed promotional offer is kept, marked removed; the ended win-back is no longer in force.
    const offers = await listOffers(ctx, { projectId: PROJECT });
    expect(offers.offers.find((o) => o.appleId === promotional.id)?.removedAt).toBeInstanceOf(Date);
    const now = await attribute(ctx, {
      projectId: PROJECT,
      productId: subscription.productId,
      territory: 'FRA',
      at: new Date(),
    });
    expect(now.offers.map((o) => o.appleId)).not.toContain(winBack.id);
  });

  it('reports catalog health', async () => {
    const health = await catalogHealth(ctx, { projectId: PROJECT });
    expect(health.staleProducts).toBe(0);
    expect(health.counts).toBeDefined();
  });
});
