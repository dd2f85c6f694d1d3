import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { catalogHealth, productMetadata } from '../../../src/app/details.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { refreshDetails } from '../../../src/details/refresh.ts';
import {
  generateCatalog,
  type SimApp,
  type Simulator,
  startSimulator,
} from '../../../src/simulator/index.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { changeRows, syncEnv } from '../sync/support.ts';

/*
 * Apple's 4.x metadata against real Postgres and the simulator over HTTP: a first sync stores
 * every product's versions, plan availability, promoted purchase, review screenshot and images
 * and every group's localizations and versions; each mutation in the simulator (a version
 * submitted, a group localization removed, a screenshot missing, a promotion ended, an upfront
 * plan) is one change row of its own entity; an unchanged re-read writes no change row.
 */

const getDb = useTestDatabase();
let sim: Simulator;
let ctx: ServiceContext;
const APP = '1000000001';
const PROJECT = 'meta';

const app = (): SimApp => sim.catalog.apps.find((a) => a.id === APP)!;
const subscriptions = () => app().groups.flatMap((g) => g.subscriptions);

/** A sync, then every product's details re-read (maximum age 0: all are due). */
async function syncAndReadAll() {
  const summary = await syncProject(ctx, PROJECT, { trigger: 'manual' });
  const details = await refreshDetails(ctx, {
    projectId: PROJECT,
    runId: summary.runId,
    budget: null,
    maxAgeMs: 0,
  });
  expect(details.failed).toEqual([]);
  return { runId: summary.runId, details, changes: await changeRows(getDb().db, summary.runId) };
}

async function metadataRows() {
  return rowsOf<{
    owner_apple_id: string;
    kind: string;
    apple_id: string;
    state: string | null;
    removed: boolean;
  }>(
    await getDb().db.execute(
      sql`select owner_apple_id, kind, apple_id, state, removed_at is not null as removed
            from detail_metadata where project_id = ${PROJECT} order by kind, apple_id`,
    ),
  );
}

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 26,
      apps: [{ id: APP, iaps: 4, groups: 2, subscriptionsPerGroup: 3, grace: {} }],
      details: { territories: 3, locales: 2 },
    }),
  });
  ctx = testContext(getDb().db, syncEnv(sim));
  await createProject(ctx, sim, PROJECT, APP);
});

afterAll(async () => {
  await sim?.close();
});

describe('catalog metadata', () => {
  it('a first sync stores each product’s and group’s metadata', async () => {
    const { details, changes } = await syncAndReadAll();
    expect(details.refreshed).toHaveLength(10);
    expect(details.groups).toHaveLength(2);
    const rows = await metadataRows();
    const count = (kind: string) => rows.filter((r) => r.kind === kind).length;
    const products = [...subscriptions(), ...app().iaps];
    // One version per product and per group; a plan availability per subscription.
    expect(count('version')).toBe(products.length + app().groups.length);
    expect(count('plan_availability')).toBe(subscriptions().length);
    expect(count('group_localization')).toBe(2 * app().groups.length);
    const withScreenshot = products.filter((p) => p.details!.reviewScreenshot);
    expect(count('review_screenshot')).toBe(withScreenshot.length);
    expect(count('image')).toBe(products.reduce((n, p) => n + (p.details!.images?.length ?? 0), 0));
    expect(count('promoted_purchase')).toBe(products.filter((p) => p.details!.promotedPurchase).length);
    expect(count('promoted_purchase')).toBeGreaterThan(0);
    // Every stored record was logged as added, under its own entity.
    const added = changes.filter((c) => c.action === 'added' && c.entity === 'version');
    expect(added).toHaveLength(count('version'));
  });

  it('an unchanged re-read writes no change row', async () => {
    const { details, changes } = await syncAndReadAll();
    expect(details.refreshed).toHaveLength(10);
    expect(details.changes).toEqual({});
    expect(changes).toEqual([]);
  });

  it('each mutation is one change row of its entity', async () => {
    const [first, second, third] = subscriptions();
    const iap = app().iaps[1]!;
    const group = app().groups[0]!;
    const wasPromoted = Boolean(third!.details!.promotedPurchase);
    const version = sim.mutate.submitVersion(first!.id);
    const groupLocalization = group.localizations![0]!;
    sim.mutate.removeLocalization(groupLocalization.id);
    sim.mutate.setReviewScreenshot(iap.id, null);
    sim.mutate.setPlanAvailability(second!.id, { planType: 'UPFRONT', availableInNewTerritories: false });
    sim.mutate.setPromotedPurchase(third!.id, { enabled: false, state: 'APPROVED' });
    const groupVersion = sim.mutate.submitVersion(group.id);

    const { changes } = await syncAndReadAll();
    const summary = changes.map((c) => `${c.entity}.${c.action}:${c.entity_id}`).sort();
    const expected = [
      `group_localization.removed:${groupLocalization.id}`,
      `plan_availability.added:${second!.id}-upfront`,
      `review_screenshot.removed:${iap.id}-review-screenshot`,
      // The first subscription's version 1 was approved: submitting starts version 2.
      `version.added:${version.id}`,
      `version.added:${groupVersion.id}`,
    ];
    if (wasPromoted) expect(summary).toContain(`promoted_purchase.updated:${third!.id}-promoted`);
    else expect(summary).toContain(`promoted_purchase.added:${third!.id}-promoted`);
    for (const line of expected) expect(summary).toContain(line);
    expect(summary).toHaveLength(expected.length + 1);
    const submitted = changes.find((c) => c.entity_id === version.id)!;
    expect(submitted.after).toMatchObject({ kind: 'version', version: 2, state: 'WAITING_FOR_REVIEW' });

    const rows = await metadataRows();
    expect(rows.find((r) => r.apple_id === `${iap.id}-review-screenshot`)).toMatchObject({ removed: true });
    expect(rows.find((r) => r.apple_id === groupLocalization.id)).toMatchObject({ removed: true });

    // What is live and what waits for review, as the application answers it.
    const metadata = await productMetadata(ctx, { projectId: PROJECT, productId: first!.productId });
    expect(metadata.live).toMatchObject({ version: 1, state: 'APPROVED' });
    expect(metadata.pending.map((v) => [v.version, v.state])).toEqual([[2, 'WAITING_FOR_REVIEW']]);
    expect(metadata.records.some((r) => r.kind === 'group_localization')).toBe(true);

    // Review moves the same version on: an update of its state, nothing else.
    sim.mutate.submitVersion(first!.id, { state: 'IN_REVIEW' });
    const next = await syncAndReadAll();
    expect(next.changes.map((c) => [c.entity, c.action, c.entity_id, c.changed_fields])).toEqual([
      ['version', 'updated', version.id, ['attributes', 'state']],
    ]);
  });

  it('catalog health names the reason of each MISSING_METADATA product, with the fix', async () => {
    const group = app().groups[1]!;
    const subscription = group.subscriptions[0]!;
    const iap = app().iaps[2]!;
    sim.mutate.updateProduct(subscription.id, { state: 'MISSING_METADATA' });
    sim.mutate.setReviewScreenshot(subscription.id, null);
    for (const localization of [...(group.localizations ?? [])])
      sim.mutate.removeLocalization(localization.id);
    sim.mutate.updateProduct(iap.id, { state: 'MISSING_METADATA' });
    const iapDetails = structuredClone(iap.details!);
    sim.mutate.setDetails(iap.id, { ...iapDetails, localizations: [], prices: [] });
    sim.mutate.setReviewScreenshot(iap.id, { fileName: 'review.png' });
    await syncAndReadAll();

    const health = await catalogHealth(ctx, { projectId: PROJECT });
    const reasons = (appleId: string) =>
      health.issues
        .filter((i) => i.kind === 'missing_metadata' && i.productAppleId === appleId)
        .map((i) => i.reason);
    expect(reasons(subscription.id)).toEqual(['no_group_localization', 'no_review_screenshot']);
    expect(reasons(iap.id)).toEqual(['no_localization', 'no_price']);
    const fix = health.issues.find((i) => i.reason === 'no_group_localization')!;
    expect(fix.message).toContain('Subscription Group Display Name');
    // Every MISSING_METADATA product has at least one reason named.
    const missing = [...subscriptions(), ...app().iaps].filter((p) => p.state === 'MISSING_METADATA');
    expect(missing.length).toBeGreaterThanOrEqual(2);
    for (const product of missing) expect(reasons(product.id).length).toBeGreaterThan(0);
    // Without a price anywhere it is available, the IAP cannot be bought there either.
    const unbuyable = health.issues.find(
      (i) => i.kind === 'unpriced_territories' && i.productAppleId === iap.id,
    )!;
    expect(unbuyable.items).toHaveLength(3);
  });
});
