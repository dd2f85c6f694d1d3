import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../../db/client.ts';
import { migrateDatabase } from '../../../db/migrate.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { rulesInForce, syncProject } from '../../../src/sync/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { changeRows, countRows, snapshotCatalog, syncEnv } from './support.ts';

/* The same pipeline on the embedded database (PGlite), the CLI's default without DATABASE_URL. */

const APP = '4000000001';
let dataDir: string;
let database: Database;
let sim: Simulator;
let ctx: ServiceContext;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'catalog-sync-embedded-sync-'));
  await migrateDatabase({ dataDir });
  database = await openDatabase({ dataDir });
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 21,
      apps: [{ id: APP, iaps: 120, groups: 2, subscriptionsPerGroup: [55, 2], grace: { optIn: true } }],
    }),
  });
  ctx = testContext(database.db, syncEnv(sim));
  await createProject(ctx, sim, 'embedded', APP);
});
afterAll(async () => {
  await sim?.close();
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('sync on PGlite', () => {
  it('first sync, unchanged sync, two at once, and a failed one that rolls back', async () => {
    const first = await syncProject(ctx, 'embedded', { trigger: 'manual' });
    expect(first.changes).toMatchObject({ 'product.added': 177, 'subscription_group.added': 2 });
    expect(await rulesInForce(ctx, 'embedded')).toHaveLength(4);

    const again = await syncProject(ctx, 'embedded', { trigger: 'schedule' });
    expect(again.unchanged).toBe(true);
    // The digest's triggers and the unchanged path's function work here too (migration 0005): a
    // hand edit forgets the digest, and the next sync repairs the product.
    await database.db.execute(
      sql`update products set state = 'edited' where project_id = 'embedded' and apple_id = (
        select min(apple_id) from products where project_id = 'embedded')`,
    );
    expect((await syncProject(ctx, 'embedded', { trigger: 'manual' })).changes).toEqual({
      'product.updated': 1,
    });
    expect((await syncProject(ctx, 'embedded', { trigger: 'manual' })).unchanged).toBe(true);

    const added = sim.mutate.addProduct(APP, {});
    const both = await Promise.all([
      syncProject(ctx, 'embedded', { trigger: 'manual' }),
      syncProject(ctx, 'embedded', { trigger: 'manual' }),
    ]);
    const rows = (await Promise.all(both.map((r) => changeRows(database.db, r.runId)))).flat();
    expect(rows.map((r) => [r.entity_id, r.action])).toEqual([[added.id, 'added']]);

    // A fetch failure, then a refusal inside the transaction: both leave every row as it was.
    sim.mutate.removeProduct(added.id);
    const before = await snapshotCatalog(database.db, 'embedded');
    sim.faults.add({ path: '/v1/apps/{id}/subscriptionGroups', times: 'always', status: 503 });
    try {
      await expect(syncProject(ctx, 'embedded', { trigger: 'manual' })).rejects.toMatchObject({
        kind: 'transient',
      });
    } finally {
      sim.faults.clear();
    }
    expect(await snapshotCatalog(database.db, 'embedded')).toEqual(before);
    await syncProject(ctx, 'embedded', { trigger: 'manual' });
    const removed = await snapshotCatalog(database.db, 'embedded');
    // A new Apple id with a deleted product's id: App Store Connect never does this (the
    // simulator's mutation API refuses it), so it is edited in directly to prove the guard.
    sim.catalog.apps.find((a) => a.id === APP)!.iaps.push({ ...structuredClone(added), id: `${added.id}9` });
    sim.mutate.setGrace(APP, { duration: 'TWENTY_EIGHT_DAYS' });
    await expect(syncProject(ctx, 'embedded', { trigger: 'manual' })).rejects.toMatchObject({
      kind: 'inconsistent_catalog',
    });
    expect(await snapshotCatalog(database.db, 'embedded')).toEqual(removed);
    expect(await countRows(database.db, 'embedded')).toMatchObject({ sync_runs: 9 });
  });
});
