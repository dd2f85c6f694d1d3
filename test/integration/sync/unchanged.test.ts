import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase, rowsOf } from '../../../db/client.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { listProducts, SYNC_LOCK_NAMESPACE, type SyncSummary, syncProject } from '../../../src/sync/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { until } from '../../support/wait.ts';
import { changeRows, lockWaiters, snapshotCatalog, syncEnv } from './support.ts';

/*
 * The unchanged re-sync by digest (src/sync/unchanged.ts, migration 0005): one statement when the
 * fetched catalog is the stored one, and the full diff whenever the stored catalog could differ,
 * whoever changed it. Real Postgres, the simulator over HTTP.
 */

const getDb = useTestDatabase();
let sim: Simulator;
let ctx: ServiceContext;
let counted: Database;
let countedCtx: ServiceContext;
let statements: string[] = [];
const APP = '1000000001';
const sync = (options: Partial<Parameters<typeof syncProject>[2]> = {}) =>
  syncProject(ctx, 'shop', { trigger: 'manual', ...options });

async function storedDigest(): Promise<{ digest: string; run_id: string } | undefined> {
  const [row] = rowsOf<{ digest: string; run_id: string }>(
    await getDb().db.execute(sql`select digest, run_id from catalog_digests where project_id = 'shop'`),
  );
  return row;
}

/** A sync through a connection that records each statement it sends. */
async function countedSync(): Promise<{ result: SyncSummary; statements: string[] }> {
  statements = [];
  const result = await syncProject(countedCtx, 'shop', { trigger: 'manual' });
  return { result, statements };
}

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 11,
      apps: [{ id: APP, iaps: 60, groups: 2, subscriptionsPerGroup: [20, 20] }],
    }),
  });
  ctx = testContext(getDb().db, syncEnv(sim));
  await createProject(ctx, sim, 'shop', APP);
  counted = await openDatabase({ databaseUrl: getDb().url, onQuery: (query) => statements.push(query) });
  countedCtx = testContext(counted.db, syncEnv(sim));
  await sync();
});
afterAll(async () => {
  await counted?.close();
  await sim?.close();
});
beforeEach(async () => {
  // Every test starts from a stored catalog that is the simulator's, with its digest.
  const summary = await sync();
  expect(await storedDigest()).toBeDefined();
  expect(summary.superseded).toBe(false);
});

describe('the unchanged re-sync', () => {
  it('ends in one statement after its run opened, and leaves the digest of the sync that applied', async () => {
    const before = await storedDigest();
    const catalog = await snapshotCatalog(getDb().db, 'shop');
    const { result, statements } = await countedSync();
    expect(result).toMatchObject({ status: 'succeeded', unchanged: true, superseded: false, changes: {} });
    expect(statements).toHaveLength(2);
    expect(statements[1]).toContain('catalog_sync_finish_unchanged');
    expect(await storedDigest()).toEqual(before);
    expect(await snapshotCatalog(getDb().db, 'shop')).toEqual(catalog);
    const [run] = rowsOf<{ status: string; counts: unknown; fetched_at: unknown; requests_made: number }>(
      await getDb().db.execute(
        sql`select status, counts, fetched_at, requests_made from sync_runs where id = ${result.runId}::uuid`,
      ),
    );
    expect(run).toMatchObject({ status: 'succeeded', counts: {}, requests_made: result.requests });
    expect(run!.fetched_at).not.toBeNull();
  });

  it('clears a sync request made before the run started, and keeps one made while it ran', async () => {
    const db = getDb().db;
    await db.execute(
      sql`update projects set sync_requested_at = clock_timestamp(), sync_request_trigger = 'api' where id = 'shop'`,
    );
    await sync();
    const pending = async () =>
      rowsOf<{ at: unknown }>(
        await db.execute(sql`select sync_requested_at as at from projects where id = 'shop'`),
      )[0]!.at;
    expect(await pending()).toBeNull();

    // A request made after the run started (while Apple was answering) is left for the next sync.
    sim.faults.add({ path: '/v1/apps/{id}', nth: 1, times: 1, latencyMs: 300 });
    try {
      const running = sync();
      await until(async () => sim.faults.list().some((f) => f.fired > 0), 'the sync to fetch');
      await db.execute(
        sql`update projects set sync_requested_at = clock_timestamp(), sync_request_trigger = 'api' where id = 'shop'`,
      );
      expect((await running).unchanged).toBe(true);
    } finally {
      sim.faults.clear();
    }
    expect(await pending()).not.toBeNull();
    await db.execute(
      sql`update projects set sync_requested_at = null, sync_request_trigger = null where id = 'shop'`,
    );
  });

  it('a hand edit of a stored product forgets the digest, and the next sync repairs the product', async () => {
    const target = (await listProducts(ctx, 'shop'))[3]!;
    await getDb().db.execute(
      sql`update products set reference_name = 'edited by hand' where project_id = 'shop' and apple_id = ${target.appleId}`,
    );
    expect(await storedDigest()).toBeUndefined();
    const summary = await sync();
    expect(summary).toMatchObject({ unchanged: false, changes: { 'product.updated': 1 } });
    expect(await changeRows(getDb().db, summary.runId)).toMatchObject([
      { entity_id: target.appleId, action: 'updated', changed_fields: ['referenceName'] },
    ]);
    expect((await listProducts(ctx, 'shop')).find((p) => p.appleId === target.appleId)?.referenceName).toBe(
      target.referenceName,
    );
    expect((await storedDigest())?.run_id).toBe(summary.runId);
  });

  it('a closed rule or a deleted group row written by hand forgets the digest too', async () => {
    const db = getDb().db;
    await db.execute(
      sql`update revenue_attribution_rules set effective_to = now() where project_id = 'shop' and effective_to is null`,
    );
    expect(await storedDigest()).toBeUndefined();
    expect((await sync()).changes).toEqual({ 'revenue_attribution_rule.opened': 4 });

    await db.execute(sql`delete from subscription_groups where project_id = 'shop' and apple_id = (
      select min(apple_id) from subscription_groups where project_id = 'shop')`);
    expect(await storedDigest()).toBeUndefined();
    expect((await sync()).changes).toEqual({ 'subscription_group.added': 1 });
  });

  it('a details stamp on a product (details_read_at) keeps the digest: it is not the catalog', async () => {
    const before = await storedDigest();
    await getDb().db.execute(
      sql`update products set details_read_at = now(), details_requests = 3 where project_id = 'shop'`,
    );
    expect(await storedDigest()).toEqual(before);
    expect((await countedSync()).statements).toHaveLength(2);
  });

  it('a change at Apple is applied in full and stores the new digest', async () => {
    const before = await storedDigest();
    const added = sim.mutate.addProduct(APP, {});
    const summary = await sync();
    expect(summary.changes).toEqual({ 'product.added': 1 });
    const after = await storedDigest();
    expect(after).toEqual({ digest: expect.any(String), run_id: summary.runId });
    expect(after!.digest).not.toBe(before!.digest);
    expect((await listProducts(ctx, 'shop')).some((p) => p.appleId === added.id)).toBe(true);
  });
});

describe('the unchanged re-sync and the project lock', () => {
  it('waits for the lock (lock: wait), gives up at once (lock: skip), and reports a newer applied fetch', async () => {
    const holder = postgres(getDb().url, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(${SYNC_LOCK_NAMESPACE}, hashtext('shop'))`;
      await expect(sync({ lock: 'skip' })).rejects.toMatchObject({
        kind: 'sync_in_progress',
        retryable: true,
      });

      const pending = sync();
      await until(async () => (await lockWaiters(getDb().db)) >= 1, 'the sync to wait for the lock');
      // While it waits, a sync whose fetch completed later applies (as one reaching the lock first would).
      await getDb().db.execute(sql`insert into sync_runs (project_id, trigger, status, fetched_at, finished_at)
        values ('shop', 'manual', 'succeeded', clock_timestamp() + interval '1 hour', clock_timestamp())`);
      await holder`select pg_advisory_unlock(${SYNC_LOCK_NAMESPACE}, hashtext('shop'))`;
      expect(await pending).toMatchObject({ unchanged: true, superseded: true, changes: {} });
    } finally {
      await holder.end();
      await getDb().db.execute(
        sql`delete from sync_runs where project_id = 'shop' and fetched_at > clock_timestamp()`,
      );
    }
  });

  it('reads the digest after the lock: a catalog applied while it waited sends it to the full diff', async () => {
    const holder = postgres(getDb().url, { max: 1, onnotice: () => {} });
    const edited = (await listProducts(ctx, 'shop'))[0]!;
    try {
      await holder`select pg_advisory_lock(${SYNC_LOCK_NAMESPACE}, hashtext('shop'))`;
      const pending = sync();
      await until(async () => (await lockWaiters(getDb().db)) >= 1, 'the sync to wait for the lock');
      // The holder changes the stored catalog (the digest goes with it) and commits by unlocking.
      await holder`update products set state = 'REMOVED_FROM_SALE' where project_id = 'shop' and apple_id = ${edited.appleId}`;
      await holder`select pg_advisory_unlock(${SYNC_LOCK_NAMESPACE}, hashtext('shop'))`;
      const summary = await pending;
      expect(summary).toMatchObject({ unchanged: false, changes: { 'product.updated': 1 } });
      expect((await listProducts(ctx, 'shop')).find((p) => p.appleId === edited.appleId)?.state).toBe(
        edited.state,
      );
    } finally {
      await holder.end();
    }
  });
});

describe('the IAP count stored with the digest', () => {
  const appRequests = () => sim.requests.filter((r) => r.path === `/v1/apps/${APP}`);

  it('leaves the IAPs out of the app request when the last catalog had more than it can include', async () => {
    sim.resetRequests();
    const summary = await sync();
    expect(appRequests().map((r) => r.query.include)).toEqual(['subscriptionGroups,subscriptionGracePeriod']);
    expect(summary.requests).toBe(summary.requestLowerBound);
  });

  it('after the count fell to 50 or fewer, pays one request more once, then includes them again', async () => {
    const iaps = sim.catalog.apps.find((a) => a.id === APP)!.iaps;
    for (const iap of iaps.slice(0, iaps.length - 50)) sim.mutate.removeProduct(iap.id);
    sim.resetRequests();
    const shrunk = await sync();
    expect(shrunk.shape.iaps).toBe(50);
    expect(shrunk.requests).toBe(shrunk.requestLowerBound + 1);

    sim.resetRequests();
    const next = await sync();
    expect(next).toMatchObject({ unchanged: true, requests: next.requestLowerBound });
    expect(appRequests().map((r) => r.query.include)).toEqual([
      'inAppPurchasesV2,subscriptionGroups,subscriptionGracePeriod',
    ]);
  });
});
