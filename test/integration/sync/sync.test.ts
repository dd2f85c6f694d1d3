import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { AppStoreError } from '../../../src/appstore/index.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { loadCredentials } from '../../../src/credentials/index.ts';
import { AppError, NotFoundError, PreconditionError } from '../../../src/errors.ts';
import {
  generateCatalog,
  type SimApp,
  type SimIap,
  type Simulator,
  startSimulator,
} from '../../../src/simulator/index.ts';
import {
  listProducts,
  requestLowerBound,
  rulesAt,
  rulesInForce,
  SYNC_LOCK_NAMESPACE,
  syncProject,
} from '../../../src/sync/index.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { until } from '../../support/wait.ts';
import { changeRows, countRows, lockWaiters, snapshotCatalog, syncEnv } from './support.ts';

/*
 * The sync against real Postgres and the simulator over HTTP. The tests of the first
 * describe block run in order on one project, each changing the simulator's catalog and
 * checking exactly which change rows the next sync writes.
 */

const getDb = useTestDatabase();
let sim: Simulator;
let ctx: ServiceContext;
const APP = '1000000001';
const OTHER_APP = '1000000002';

const app = (id = APP): SimApp => sim.catalog.apps.find((a) => a.id === id)!;
const sync = (projectId = 'shop', options: Partial<Parameters<typeof syncProject>[2]> = {}) =>
  syncProject(ctx, projectId, { trigger: 'manual', ...options });

async function runRow(runId: string) {
  const [row] = rowsOf<{
    status: string;
    error_kind: string | null;
    error_message: string | null;
    requests_made: number;
    counts: Record<string, number> | null;
    finished_at: unknown;
    duration_ms: number | null;
  }>(await getDb().db.execute(sql`select * from sync_runs where id = ${runId}::uuid`));
  return row!;
}

async function lastRun(projectId: string) {
  const [row] = rowsOf<{ id: string }>(
    await getDb().db.execute(
      sql`select id from sync_runs where project_id = ${projectId} order by started_at desc limit 1`,
    ),
  );
  return runRow(row!.id);
}

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 5,
      apps: [
        {
          id: APP,
          iaps: 250,
          groups: 2,
          subscriptionsPerGroup: [60, 4],
          grace: {
            optIn: true,
            sandboxOptIn: false,
            duration: 'SIXTEEN_DAYS',
            renewalType: 'PAID_TO_PAID_ONLY',
          },
        },
        { id: OTHER_APP, iaps: 3, groups: 0, subscriptionsPerGroup: 0, grace: null },
      ],
    }),
  });
  ctx = testContext(getDb().db, syncEnv(sim));
  await createProject(ctx, sim, 'shop', APP);
});
afterAll(async () => {
  await sim?.close();
});

describe('a project synced again and again', () => {
  let counts: Record<string, number>;

  it('first sync stores 250 IAPs (two pages), a capped group of 60, a group of 4 and the grace settings', async () => {
    sim.resetRequests();
    const summary = await sync();
    expect(summary.changes).toEqual({
      'grace_period.added': 1,
      'product.added': 314,
      'revenue_attribution_rule.opened': 4,
      'subscription_group.added': 2,
    });
    expect(summary.unchanged).toBe(false);
    expect(summary.requests).toBe(
      requestLowerBound({ iaps: 250, groups: 2, subscriptionsPerGroup: [60, 4] }),
    );
    expect(sim.requestCounts()).toEqual({
      'GET /v1/apps/{id}': 1,
      'GET /v1/apps/{id}/inAppPurchasesV2': 2,
      'GET /v1/apps/{id}/subscriptionGroups': 1,
      'GET /v1/subscriptionGroups/{id}/subscriptions': 1,
    });

    const stored = await listProducts(ctx, 'shop');
    const expected = [
      ...app().iaps.map((iap) => [iap.id, iap.productId, iap.name, iap.state, null, null]),
      ...app().groups.flatMap((group) =>
        group.subscriptions.map((s) => [s.id, s.productId, s.name, s.state, group.id, s.groupLevel]),
      ),
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(
      stored
        .map((p) => [p.appleId, p.productId, p.referenceName, p.state, p.groupAppleId, p.groupLevel])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ).toEqual(expected);
    const kinds = new Set(stored.map((p) => p.kind));
    expect(kinds).toContain('auto_renewable_subscription');
    expect(stored.filter((p) => p.kind === 'auto_renewable_subscription')).toHaveLength(64);

    const [grace] = rowsOf<{
      apple_id: string;
      duration_days: number;
      renewal_type: string;
      opt_in: boolean;
    }>(await getDb().db.execute(sql`select * from grace_period_settings where project_id = 'shop'`));
    expect(grace).toMatchObject({
      apple_id: app().grace!.id,
      duration_days: 16,
      renewal_type: 'PAID_TO_PAID_ONLY',
      opt_in: true,
    });

    const rules = await rulesInForce(ctx, 'shop');
    expect(rules.map((r) => [r.environment, r.renewalKind, r.graceDays, r.recoveredRevenueDatedTo])).toEqual([
      ['production', 'paid_to_paid', 16, 'original_due_date'],
      ['production', 'offer_to_paid', 0, 'recovery_date'],
      ['sandbox', 'paid_to_paid', 0, 'recovery_date'],
      ['sandbox', 'offer_to_paid', 0, 'recovery_date'],
    ]);
    expect(rules.every((r) => r.sourceRunId === summary.runId)).toBe(true);

    counts = await countRows(getDb().db, 'shop');
    expect(counts).toEqual({
      products: 314,
      subscription_groups: 2,
      grace_period_settings: 1,
      catalog_changes: 317,
      revenue_attribution_rules: 4,
      sync_runs: 1,
    });
    const run = await runRow(summary.runId);
    expect(run).toMatchObject({
      status: 'succeeded',
      requests_made: 5,
      counts: summary.changes,
      error_kind: null,
    });
    expect(run.finished_at).not.toBeNull();
    expect(run.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('a second, unchanged sync adds no rows but its run', async () => {
    const before = await snapshotCatalog(getDb().db, 'shop');
    const summary = await sync();
    expect(summary).toMatchObject({ unchanged: true, superseded: false, changes: {} });
    expect(await snapshotCatalog(getDb().db, 'shop')).toEqual(before);
    expect(await countRows(getDb().db, 'shop')).toEqual({ ...counts, sync_runs: 2 });
    expect(await runRow(summary.runId)).toMatchObject({ status: 'succeeded', counts: {} });
  });

  it('an added product is one `added` row', async () => {
    const added = sim.mutate.addProduct(APP, { name: 'Brand New', inAppPurchaseType: 'NON_CONSUMABLE' });
    const summary = await sync();
    expect(summary.changes).toEqual({ 'product.added': 1 });
    expect(await changeRows(getDb().db, summary.runId)).toEqual([
      {
        entity: 'product',
        entity_id: added.id,
        action: 'added',
        changed_fields: [],
        before: null,
        after: expect.objectContaining({
          productId: added.productId,
          kind: 'non_consumable',
          referenceName: 'Brand New',
        }),
      },
    ]);
  });

  it('a rename is an update of referenceName, not a remove and an add', async () => {
    const target = app().iaps[0]!;
    const oldName = target.name;
    sim.mutate.updateProduct(target.id, { name: 'Renamed' });
    const summary = await sync();
    expect(summary.changes).toEqual({ 'product.updated': 1 });
    const [row] = await changeRows(getDb().db, summary.runId);
    expect(row).toMatchObject({
      entity: 'product',
      entity_id: target.id,
      action: 'updated',
      changed_fields: ['referenceName'],
    });
    expect(row!.before).toMatchObject({ referenceName: oldName });
    expect(row!.after).toMatchObject({ referenceName: 'Renamed' });
  });

  it('a state change is an update of state', async () => {
    const target = app().iaps[1]!;
    const next = target.state === 'APPROVED' ? 'DEVELOPER_REMOVED_FROM_SALE' : 'APPROVED';
    sim.mutate.updateProduct(target.id, { state: next });
    const summary = await sync();
    expect(await changeRows(getDb().db, summary.runId)).toEqual([
      expect.objectContaining({ entity_id: target.id, action: 'updated', changed_fields: ['state'] }),
    ]);
  });

  let removed: SimIap;
  it('a removed product is marked removed, never deleted', async () => {
    removed = structuredClone(app().iaps[2]!);
    sim.mutate.removeProduct(removed.id);
    const summary = await sync();
    expect(summary.changes).toEqual({ 'product.removed': 1 });
    expect(await changeRows(getDb().db, summary.runId)).toEqual([
      expect.objectContaining({ entity_id: removed.id, action: 'removed', changed_fields: [], after: null }),
    ]);
    const all = await listProducts(ctx, 'shop', { includeRemoved: true });
    expect(all.find((p) => p.appleId === removed.id)?.removedAt).toBeInstanceOf(Date);
    expect((await listProducts(ctx, 'shop')).some((p) => p.appleId === removed.id)).toBe(false);
    // Still absent: nothing more to record.
    expect((await sync()).changes).toEqual({});
  });

  it('a product that reappears is `restored`', async () => {
    sim.mutate.addProduct(APP, removed);
    const summary = await sync();
    expect(summary.changes).toEqual({ 'product.restored': 1 });
    expect(await changeRows(getDb().db, summary.runId)).toEqual([
      expect.objectContaining({ entity_id: removed.id, action: 'restored', changed_fields: [] }),
    ]);
    const restored = (await listProducts(ctx, 'shop')).find((p) => p.appleId === removed.id);
    expect(restored?.removedAt).toBeNull();
  });

  it('a subscription moved to another group is an update of its group', async () => {
    const [big, small] = [...app().groups].sort((a, b) => b.subscriptions.length - a.subscriptions.length);
    const moving = big!.subscriptions[0]!;
    sim.mutate.moveSubscription(moving.id, small!.id, { groupLevel: moving.groupLevel });
    const summary = await sync();
    const [row] = await changeRows(getDb().db, summary.runId);
    expect(summary.changes).toEqual({ 'product.updated': 1 });
    expect(row).toMatchObject({ entity_id: moving.id, action: 'updated', changed_fields: ['groupAppleId'] });
    expect(row!.before).toMatchObject({ groupAppleId: big!.id });
    expect(row!.after).toMatchObject({ groupAppleId: small!.id });
  });

  it('a group added with subscriptions, a group renamed, a group removed with its subscriptions', async () => {
    const added = sim.mutate.addGroup(APP, {
      referenceName: 'Family Plans',
      subscriptions: [{ name: 'Family Monthly' }, { name: 'Family Yearly', subscriptionPeriod: 'ONE_YEAR' }],
    });
    const summary = await sync();
    expect(summary.changes).toEqual({ 'product.added': 2, 'subscription_group.added': 1 });
    const rows = await changeRows(getDb().db, summary.runId);
    expect(rows.map((r) => [r.entity, r.entity_id, r.action])).toEqual([
      ['subscription_group', added.id, 'added'],
      ...added.subscriptions
        .map((s) => ['product', s.id, 'added'])
        .sort((a, b) => a[1]!.localeCompare(b[1]!)),
    ]);
    expect(rows.slice(1).every((r) => r.after?.groupAppleId === added.id)).toBe(true);

    sim.mutate.updateGroup(added.id, { referenceName: 'Family' });
    const renamed = await sync();
    expect(await changeRows(getDb().db, renamed.runId)).toEqual([
      expect.objectContaining({
        entity: 'subscription_group',
        action: 'updated',
        changed_fields: ['referenceName'],
      }),
    ]);

    sim.mutate.removeGroup(added.id);
    const gone = await sync();
    expect(gone.changes).toEqual({ 'product.removed': 2, 'subscription_group.removed': 1 });
    const [groupRow] = rowsOf<{ removed_at: unknown }>(
      await getDb().db.execute(sql`select removed_at from subscription_groups where apple_id = ${added.id}`),
    );
    expect(groupRow!.removed_at).not.toBeNull();
  });

  it('a grace change is one grace update, closes the four rules in force and opens four new ones', async () => {
    const before = await rulesInForce(ctx, 'shop');
    const between = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    sim.mutate.setGrace(APP, {
      duration: 'TWENTY_EIGHT_DAYS',
      renewalType: 'ALL_RENEWALS',
      sandboxOptIn: true,
    });
    const summary = await sync();
    expect(summary.changes).toEqual({ 'grace_period.updated': 1, 'revenue_attribution_rule.opened': 4 });
    expect(await changeRows(getDb().db, summary.runId)).toEqual([
      expect.objectContaining({
        entity: 'grace_period',
        action: 'updated',
        changed_fields: ['sandboxOptIn', 'duration', 'durationDays', 'renewalType'],
      }),
    ]);

    const all = rowsOf<{ id: number; effective_to: unknown }>(
      await getDb().db.execute(
        sql`select id, effective_to from revenue_attribution_rules where project_id = 'shop' order by id`,
      ),
    );
    expect(all).toHaveLength(8);
    expect(all.slice(0, 4).every((r) => r.effective_to !== null)).toBe(true);
    expect(all.slice(4).every((r) => r.effective_to === null)).toBe(true);
    expect(all.slice(0, 4).map((r) => Number(r.id))).toEqual(before.map((r) => r.id).sort((a, b) => a - b));

    const now = await rulesInForce(ctx, 'shop');
    expect(now.map((r) => r.graceDays)).toEqual([28, 28, 28, 28]);

    // Any past date is attributed with the rules in force then.
    const past = await rulesAt(ctx, 'shop', 'production', 'offer_to_paid', between);
    expect(past).toMatchObject({
      graceDays: 0,
      recoveredRevenueDatedTo: 'recovery_date',
      accessDuringGrace: false,
    });
    const present = await rulesAt(ctx, 'shop', 'production', 'offer_to_paid', new Date());
    expect(present).toMatchObject({
      graceDays: 28,
      recoveredRevenueDatedTo: 'original_due_date',
      accessDuringGrace: true,
      unrecoveredChurnAt: 'grace_period_end',
      effectiveTo: null,
    });
    expect(present!.effectiveFrom.getTime()).toBe(past!.effectiveTo!.getTime());
    expect(await rulesAt(ctx, 'shop', 'sandbox', 'paid_to_paid', new Date(2000, 0, 1))).toBeNull();

    // Unchanged settings write nothing.
    expect((await sync()).unchanged).toBe(true);
    expect(await countRows(getDb().db, 'shop')).toMatchObject({ revenue_attribution_rules: 8 });
  });

  it('grace settings that disappear are marked removed and the rules fall back to no grace', async () => {
    sim.mutate.removeGrace(APP);
    const summary = await sync();
    expect(summary.changes).toEqual({ 'grace_period.removed': 1, 'revenue_attribution_rule.opened': 4 });
    expect((await rulesInForce(ctx, 'shop')).map((r) => r.graceDays)).toEqual([0, 0, 0, 0]);
    sim.mutate.setGrace(APP, { duration: 'THREE_DAYS', optIn: true, sandboxOptIn: false });
    const back = await sync();
    expect(back.changes).toEqual({ 'grace_period.restored': 1, 'revenue_attribution_rule.opened': 4 });
  });

  it('a persistent failure on page 2 of the IAPs leaves every row as it was and records a failed run', async () => {
    sim.mutate.updateProduct(app().iaps[3]!.id, { name: 'Would be renamed' });
    sim.mutate.removeProduct(app().iaps[4]!.id);
    const before = await snapshotCatalog(getDb().db, 'shop');
    sim.faults.add({ path: '/v1/apps/{id}/inAppPurchasesV2', nth: 2, times: 'always', status: 500 });
    try {
      const error = await sync().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppStoreError);
      expect((error as AppStoreError).kind).toBe('transient');
    } finally {
      sim.faults.clear();
    }
    expect(await snapshotCatalog(getDb().db, 'shop')).toEqual(before);
    const run = await lastRun('shop');
    expect(run).toMatchObject({ status: 'failed', error_kind: 'transient', counts: null });
    expect(run.error_message).toMatch(/App Store Connect failed to answer/);
    expect(run.requests_made).toBeGreaterThanOrEqual(3);

    // Once the fault clears, the same changes are found and applied.
    const summary = await sync();
    expect(summary.changes).toEqual({ 'product.removed': 1, 'product.updated': 1 });
  });
});

describe('a failure inside the transaction', () => {
  it('rolls back every write of the sync (groups, products, grace, change log, rules) and records a failed run', async () => {
    const db = getDb().db;
    // The change log is written after the catalog tables: make that insert fail.
    await db.execute(sql`
      create function fail_changes() returns trigger language plpgsql as $$
      begin raise exception 'change log unavailable (test)'; end $$`);
    await db.execute(
      sql`create trigger fail_changes before insert on catalog_changes for each row execute function fail_changes()`,
    );
    const before = await snapshotCatalog(db, 'shop');
    sim.mutate.addProduct(APP, {});
    sim.mutate.updateGroup(app().groups[0]!.id, { referenceName: 'Rolled back' });
    sim.mutate.setGrace(APP, { duration: 'TWENTY_EIGHT_DAYS' });
    try {
      await expect(sync()).rejects.toMatchObject({
        kind: 'database',
        message: expect.stringContaining('change log unavailable'),
      });
    } finally {
      await db.execute(sql`drop trigger fail_changes on catalog_changes`);
      await db.execute(sql`drop function fail_changes()`);
    }
    expect(await snapshotCatalog(db, 'shop')).toEqual(before);
    const run = await lastRun('shop');
    expect(run).toMatchObject({ status: 'failed', error_kind: 'database', counts: null });
    expect(run.error_message).toContain('change log unavailable');
    // Postgres's reason, not drizzle's dump of the statement and the catalog in its parameters.
    expect(run.error_message).not.toContain('insert into');
    expect(run.error_message!.length).toBeLessThan(400);

    const summary = await sync();
    expect(summary.changes).toEqual({
      'grace_period.updated': 1,
      'product.added': 1,
      'revenue_attribution_rule.opened': 4,
      'subscription_group.updated': 1,
    });
  });

  it('a new Apple id reusing a stored product id is refused with a clear message, nothing written', async () => {
    const gone = structuredClone(app().iaps[5]!);
    sim.mutate.removeProduct(gone.id);
    await sync();
    const before = await snapshotCatalog(getDb().db, 'shop');
    // App Store Connect never does this (the simulator's mutation API refuses it as well), so the
    // catalog is edited directly, to prove the sync's own guard against such an upstream.
    const impostor = { ...structuredClone(gone), id: `${gone.id}9` };
    app().iaps.push(impostor);
    const error = await sync().catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'inconsistent_catalog' });
    expect((error as Error).message).toContain(`Apple id ${impostor.id}`);
    expect((error as Error).message).toContain(`Apple id ${gone.id} (since removed)`);
    expect(await snapshotCatalog(getDb().db, 'shop')).toEqual(before);
    app().iaps.splice(
      app().iaps.findIndex((iap) => iap.id === impostor.id),
      1,
    );
  });
});

describe('concurrent syncs of one project', () => {
  it('two syncs started at once produce one set of changes, not two', async () => {
    const a = sim.mutate.addProduct(APP, {});
    const b = sim.mutate.addProduct(APP, {});
    const results = await Promise.all([sync(), sync()]);
    const rows = (await Promise.all(results.map((r) => changeRows(getDb().db, r.runId)))).flat();
    expect(rows.map((r) => [r.entity_id, r.action]).sort()).toEqual(
      [
        [a.id, 'added'],
        [b.id, 'added'],
      ].sort(),
    );
    expect(results.filter((r) => r.unchanged)).toHaveLength(1);
    expect(results.every((r) => r.status === 'succeeded')).toBe(true);
  });

  it('with the lock held, a sync waits for it (lock: wait) and gives up at once (lock: skip)', async () => {
    const holder = postgres(getDb().url, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(${SYNC_LOCK_NAMESPACE}, hashtext('shop'))`;
      sim.mutate.addProduct(APP, {});
      const skipped = await sync('shop', { lock: 'skip' }).catch((e: unknown) => e);
      expect(skipped).toBeInstanceOf(AppError);
      expect(skipped).toMatchObject({ kind: 'sync_in_progress', retryable: true });
      expect(await lastRun('shop')).toMatchObject({ status: 'failed', error_kind: 'sync_in_progress' });

      let done = false;
      const waiting = sync('shop', { lock: 'wait' }).then((summary) => {
        done = true;
        return summary;
      });
      // The waiting sync's backend queues for the advisory lock: that state, not a pause, shows it waits.
      await until(async () => (await lockWaiters(getDb().db)) > 0, 'the sync to wait for the lock');
      expect(done).toBe(false);
      await holder`select pg_advisory_unlock(${SYNC_LOCK_NAMESPACE}, hashtext('shop'))`;
      expect((await waiting).changes).toEqual({ 'product.added': 1 });
    } finally {
      await holder.end();
    }
  });

  it('fetch time decides, not start time: a sync that started first but fetched after an edit applies it', async () => {
    const target = app().iaps[0]!;
    // The first sync's first request is slow, so the second (started later) fetches and applies first;
    // the edit lands after that, while the first sync's IAP request is still on its way.
    sim.faults.add({ path: '/v1/apps/{id}', nth: 1, times: 1, latencyMs: 2_000 });
    try {
      const first = sync();
      await until(async () => sim.faults.list().some((f) => f.fired > 0), 'the slow first request');
      const second = await sync();
      const renamed = `${target.name} (renamed)`;
      sim.mutate.updateProduct(target.id, { name: renamed });
      const later = await first;
      expect(second.superseded).toBe(false);
      expect(later).toMatchObject({ superseded: false, changes: { 'product.updated': 1 } });
      const stored = (await listProducts(ctx, 'shop')).find((p) => p.appleId === target.id);
      expect(stored?.referenceName).toBe(renamed);
    } finally {
      sim.faults.clear();
    }
  });

  it('a fetch older than one already applied is superseded and writes nothing', async () => {
    sim.mutate.addProduct(APP, {});
    const holder = postgres(getDb().url, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(${SYNC_LOCK_NAMESPACE}, hashtext('shop'))`;
      const pending = sync();
      // It fetched, stamped its fetch time and now waits for the project's lock.
      await until(async () => (await lockWaiters(getDb().db)) >= 1, 'the sync to wait for the lock');
      // Meanwhile a sync whose fetch completed later applied (as one that fetched after it and
      // reached the lock first would have): this older fetch must not write over it.
      await getDb().db.execute(sql`insert into sync_runs (project_id, trigger, status, fetched_at, finished_at)
        values ('shop', 'manual', 'succeeded', clock_timestamp() + interval '1 hour', clock_timestamp())`);
      await holder`select pg_advisory_unlock(${SYNC_LOCK_NAMESPACE}, hashtext('shop'))`;
      const superseded = await pending;
      expect(superseded).toMatchObject({ superseded: true, unchanged: true, changes: {} });
      expect(await changeRows(getDb().db, superseded.runId)).toEqual([]);
      expect(await runRow(superseded.runId)).toMatchObject({ status: 'succeeded', counts: {} });
    } finally {
      await holder.end();
    }
  });
});

describe('what stops a sync', () => {
  it('an unknown project: NotFoundError, no run', async () => {
    await expect(sync('nobody')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('no app selected: PreconditionError naming select-app, and a failed run', async () => {
    await createProject(ctx, sim, 'no-app', null);
    const error = await sync('no-app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreconditionError);
    expect((error as Error).message).toContain('catalog-sync select-app no-app');
    expect(await lastRun('no-app')).toMatchObject({ status: 'failed', error_kind: 'precondition' });
  });

  it('no credentials: PreconditionError naming credentials set', async () => {
    await getDb().db.execute(sql`insert into projects (id, app_store_id) values ('no-key', ${OTHER_APP})`);
    const error = await sync('no-key').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreconditionError);
    expect((error as Error).message).toContain('catalog-sync credentials set no-key');
  });

  it('a revoked key: auth error, failed run without secrets, credentials marked invalid', async () => {
    const { keyId } = await createProject(ctx, sim, 'revoked', OTHER_APP);
    sim.keys.remove(keyId);
    const error = await sync('revoked').catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'auth' });
    const run = await lastRun('revoked');
    expect(run).toMatchObject({ status: 'failed', error_kind: 'auth' });
    expect(run.error_message).not.toMatch(/BEGIN|eyJ|Bearer/);
    expect((await loadCredentials(ctx, 'revoked')).status).toBe('invalid');
    expect(await countRows(getDb().db, 'revoked')).toMatchObject({ products: 0, catalog_changes: 0 });
  });

  it('a key without catalog access: forbidden, credentials marked forbidden', async () => {
    await createProject(ctx, sim, 'sales', OTHER_APP, { role: 'SALES' });
    await expect(sync('sales')).rejects.toMatchObject({ kind: 'forbidden' });
    expect((await loadCredentials(ctx, 'sales')).status).toBe('forbidden');
    expect(await lastRun('sales')).toMatchObject({ status: 'failed', error_kind: 'forbidden' });
  });

  it('an agreement accepted since: the next successful sync marks the credentials valid again', async () => {
    const { keyId } = await createProject(ctx, sim, 'agreements', OTHER_APP, { agreementsMissing: true });
    await expect(sync('agreements')).rejects.toMatchObject({
      kind: 'forbidden',
      forbiddenReason: 'agreements',
    });
    expect(await loadCredentials(ctx, 'agreements')).toMatchObject({ status: 'forbidden' });

    sim.keys.update(keyId, { agreementsMissing: false });
    await sync('agreements');
    expect(await loadCredentials(ctx, 'agreements')).toMatchObject({ status: 'valid', statusDetail: null });
  });

  it('an app without subscriptions or grace settings is a normal catalog', async () => {
    await createProject(ctx, sim, 'plain', OTHER_APP);
    const summary = await sync('plain');
    expect(summary.changes).toEqual({ 'product.added': 3, 'revenue_attribution_rule.opened': 4 });
    expect(summary.requests).toBe(1);
    expect((await rulesInForce(ctx, 'plain')).map((r) => r.graceDays)).toEqual([0, 0, 0, 0]);
  });
});
