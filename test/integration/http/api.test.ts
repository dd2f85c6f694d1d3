import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { announceRunChanges } from '../../../src/app/events.ts';
import { refreshDetails } from '../../../src/details/refresh.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { useApiHarness } from './support.ts';

/*
 * The HTTP API in this process over real Postgres, Redis and the simulator: every operation
 * once, through the same express app the worker and `catalog-sync serve` serve. Each answer is
 * validated against the OpenAPI document by the harness.
 */

const APP = '1000000001';
const PROJECT = 'acme/meditation';
const path = `/projects/${encodeURIComponent(PROJECT)}`;

const h = useApiHarness({
  catalog: {
    seed: 22,
    apps: [
      { id: APP, iaps: 3, groups: 1, subscriptionsPerGroup: 2, grace: {} },
      { id: '1000000002', iaps: 1, groups: 0, subscriptionsPerGroup: 0 },
    ],
    details: { iapOfferCodes: 1 },
  },
});

async function count(table: string): Promise<number> {
  const [row] = rowsOf<{ n: number }>(
    await h.db().db.execute(sql`select count(*)::int as n from ${sql.identifier(table)}`),
  );
  return row!.n;
}

describe('the HTTP API, operation by operation', () => {
  it('onboards a project: save → verify → apps → select → sync requested', async () => {
    const key = await h.sim().createKey({ role: 'APP_MANAGER', appIds: 'all' });
    const saved = await h.call('PUT', `${path}/credentials`, {
      body: {
        keyId: key.keyId,
        issuerId: key.issuerId,
        privateKey: key.privateKeyPem,
        fileName: `AuthKey_${key.keyId}.p8`,
      },
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({ projectId: PROJECT, status: 'unverified', sync: null });
    expect(saved.text).not.toContain('PRIVATE KEY');

    const verified = await h.call('POST', `${path}/credentials/verify`);
    expect(verified.status).toBe(200);
    expect(verified.body.status).toBe('valid');
    expect(verified.body.apps.map((a: { appStoreId: string }) => a.appStoreId).sort()).toEqual([
      APP,
      '1000000002',
    ]);

    const apps = await h.call('GET', `${path}/apps`, { token: h.tokens().read });
    expect(apps.body).toMatchObject({ credentialStatus: 'valid', selectedAppStoreId: null });

    const selected = await h.call('PUT', `${path}/app`, { body: { appStoreId: APP } });
    expect(selected.body).toMatchObject({ projectId: PROJECT, appStoreId: APP });

    const requested = await h.call('POST', `${path}/syncs`);
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({ projectId: PROJECT, trigger: 'manual', outcome: 'added' });
    // Recorded in Postgres like every producer's request, so an emptied Redis gets it again.
    const [pending] = rowsOf<{ at: string | null }>(
      await h.db().db.execute(sql`select sync_requested_at as at from projects where id = ${PROJECT}`),
    );
    expect(pending!.at).not.toBeNull();
  });

  it('reads status, the catalog, prices, offers, attribution and health after a sync', async () => {
    const summary = await syncProject(h.ctx(), PROJECT, { trigger: 'manual' });
    await refreshDetails(h.ctx(), { projectId: PROJECT, runId: summary.runId, budget: null });
    // The run is complete: its changes become its events, as runSync does at its end.
    await announceRunChanges(h.ctx(), summary.runId);

    const status = await h.call('GET', `${path}/status?runs=2`, { token: h.tokens().read });
    expect(status.status).toBe(200);
    expect(status.body.lastRuns[0]).toMatchObject({ runId: summary.runId, status: 'succeeded' });
    expect(status.body.lastRuns[0].startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const products = await h.call('GET', `${path}/products?includeRemoved=false`);
    expect(products.body.products.length).toBe(5);

    const first = await h.call('GET', `${path}/changes?limit=2`);
    expect(first.body.changes).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    // Page by page to the end: every change of the run, once each, in order.
    const ids: number[] = first.body.changes.map((c: { id: number }) => c.id);
    let cursor: string | null = first.body.nextCursor;
    while (cursor) {
      const page = await h.call('GET', `${path}/changes?runId=${summary.runId}&limit=500&cursor=${cursor}`);
      ids.push(...page.body.changes.map((c: { id: number }) => c.id));
      cursor = page.body.nextCursor;
    }
    const stored = rowsOf<{ id: number }>(
      await h
        .db()
        .db.execute(
          sql`select id::int as id from catalog_changes where run_id = ${summary.runId} order by detected_at, id`,
        ),
    );
    expect(ids).toEqual(stored.map((r) => r.id));

    const rules = await h.call('GET', `${path}/rules`);
    expect(rules.body.rules).toHaveLength(4);

    const prices = await h.call('GET', `${path}/prices?territory=USA`);
    expect(prices.body.prices.length).toBeGreaterThan(0);
    for (const price of prices.body.prices) {
      if (price.customerPrice !== null) expect(price.customerPrice).toMatch(/^\d+(\.\d+)?$/);
    }
    const priced = prices.body.prices.find((p: { customerPrice: string | null }) => p.customerPrice !== null);
    const at = new Date().toISOString();
    const attribution = await h.call(
      'GET',
      `${path}/attribution?productId=${encodeURIComponent(priced.productId)}&territory=USA&at=${at}`,
    );
    expect(attribution.status).toBe(200);
    expect(attribution.body).toMatchObject({ productId: priced.productId, territory: 'USA' });

    expect((await h.call('GET', `${path}/offers`)).status).toBe(200);
    expect((await h.call('GET', `${path}/health`)).status).toBe(200);
  });

  it('schedules, unschedules and lists schedules', async () => {
    const set = await h.call('PUT', `${path}/schedule`, { body: { every: '6h' } });
    expect(set.body).toMatchObject({ projectId: PROJECT, every: '6h', everySeconds: 21_600 });
    const listed = await h.call('GET', '/schedules');
    expect(listed.body.schedules.map((s: { projectId: string }) => s.projectId)).toContain(PROJECT);
    const removed = await h.call('DELETE', `${path}/schedule`);
    expect(removed.body).toEqual({ projectId: PROJECT, removed: true });
  });

  it('registers webhooks, rotates their secrets, and reads events and deliveries', async () => {
    const added = await h.call('POST', '/webhooks', {
      body: { url: 'http://127.0.0.1:9/hook', projectId: PROJECT, eventTypes: ['catalog.changed'] },
    });
    expect(added.status).toBe(201);
    expect(added.body.secret).toMatch(/^whsec_/);
    const id = added.body.endpoint.id;
    const listed = await h.call('GET', `/webhooks?projectId=${encodeURIComponent(PROJECT)}`);
    expect(listed.body.webhooks.map((w: { id: string }) => w.id)).toContain(id);
    expect(listed.text).not.toContain(added.body.secret);
    const rotated = await h.call('POST', `/webhooks/${id}/secret`);
    expect(rotated.body.secret).not.toBe(added.body.secret);
    expect((await h.call('POST', `/webhooks/${id}/enable`)).body.endpoint.status).toBe('enabled');
    const tested = await h.call('POST', `/webhooks/${id}/test`);
    expect(tested.body).toMatchObject({ endpointId: id, ok: false });

    const events = await h.call('GET', `${path}/events?type=catalog.changed&limit=1`);
    expect(events.body.events).toHaveLength(1);
    expect(events.body.nextCursor).toEqual(expect.any(String));
    const all = await h.call('GET', `${path}/events`);
    const more = await h.call('GET', `${path}/events?cursor=${events.body.nextCursor}`);
    expect(all.body.events.length).toBeGreaterThan(1);
    expect(more.body.events.map((e: { id: string }) => e.id)).toEqual(
      all.body.events
        .slice(all.body.events.findIndex((e: { id: string }) => e.id === events.body.events[0].id) + 1)
        .map((e: { id: string }) => e.id),
    );

    const redelivered = await h.call('POST', '/redeliveries', {
      body: { eventId: events.body.events[0].id, endpointId: id },
    });
    expect(redelivered.body).toEqual({ events: 1, deliveries: 1 });
    const deliveries = await h.call('GET', `/deliveries?endpointId=${id}`);
    expect(deliveries.body.deliveries.length).toBeGreaterThan(0);

    expect((await h.call('DELETE', `/webhooks/${id}`)).body).toEqual({ id, removed: true });
    expect(await count('webhook_endpoints')).toBe(0);
  });

  it('serves the OpenAPI document without a token', async () => {
    const response = await fetch(`${h.baseUrl()}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe('3.1.0');
    expect(document).toEqual(h.checker.document);
  });
});
