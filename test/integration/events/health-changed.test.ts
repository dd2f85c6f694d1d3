import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/client.ts';
import { emitHealthIfChanged, type HealthSnapshot, lastHealthTotals } from '../../../src/events/emit.ts';
import { MAX_HEALTH_ISSUES } from '../../../src/events/types.ts';
import { useTestDatabase } from '../../support/db.ts';

/*
 * `catalog.health_changed` is emitted when a project's health changes, never on every sync: the
 * last event is the record of what the platform was told.
 */

const getDb = useTestDatabase();

const issue = (productId: string, kind = 'product_state') => ({
  kind,
  productId,
  message: `${productId} is in MISSING_METADATA`,
});
const health = (...issues: HealthSnapshot['issues']): HealthSnapshot => ({
  counts: { product_state: issues.filter((i) => i.kind === 'product_state').length, stale_details: 0 },
  issues,
});

async function healthEvents(projectId: string) {
  return rowsOf<{
    payload: { counts: Record<string, number>; previousCounts: Record<string, number>; more: number };
  }>(
    await getDb().db.execute(
      sql`select payload from events where project_id = ${projectId} and type = 'catalog.health_changed' order by seq`,
    ),
  );
}

describe('catalog.health_changed', () => {
  it('says nothing for a healthy project, once per change, and again when it recovers', async () => {
    const db = getDb().db;
    expect(await emitHealthIfChanged(db, 'p-health', health())).toBeUndefined();
    expect(await emitHealthIfChanged(db, 'p-health', health(issue('a')))).toMatch(/^evt_/);
    // The same issues, reworded or recomputed: nothing new.
    expect(
      await emitHealthIfChanged(db, 'p-health', health({ ...issue('a'), message: 'other words' })),
    ).toBeUndefined();
    expect(await emitHealthIfChanged(db, 'p-health', health(issue('a'), issue('b')))).toMatch(/^evt_/);
    expect(await emitHealthIfChanged(db, 'p-health', health())).toMatch(/^evt_/);
    expect(await emitHealthIfChanged(db, 'p-health', health())).toBeUndefined();

    const events = await healthEvents('p-health');
    expect(
      events.map((e) => [e.payload.previousCounts.product_state ?? 0, e.payload.counts.product_state]),
    ).toEqual([
      [0, 1],
      [1, 2],
      [2, 0],
    ]);
  });

  it('bounds the issues it carries and counts the rest', async () => {
    const many = Array.from({ length: MAX_HEALTH_ISSUES + 7 }, (_, i) => issue(`p${i}`));
    await emitHealthIfChanged(getDb().db, 'p-many', health(...many));
    const [event] = await healthEvents('p-many');
    expect(event?.payload.more).toBe(7);
  });

  it('two workers reporting the same change at once record it once', async () => {
    const db = getDb().db;
    const results = await Promise.all(
      Array.from({ length: 4 }, () => emitHealthIfChanged(db, 'p-race', health(issue('x')))),
    );
    expect(results.filter((id) => id !== undefined)).toHaveLength(1);
    expect(await healthEvents('p-race')).toHaveLength(1);
  });

  it('the metric adds up the last health of every project, whichever worker reported it', async () => {
    const db = getDb().db;
    const before = await lastHealthTotals(db);
    await emitHealthIfChanged(db, 'p-total-a', health(issue('a'), issue('b')));
    await emitHealthIfChanged(db, 'p-total-a', health(issue('a'), issue('b'), issue('c')));
    await emitHealthIfChanged(db, 'p-total-b', health(issue('z')));
    const after = await lastHealthTotals(db);
    // Only each project's latest event counts: 3 + 1, not 2 + 3 + 1.
    expect((after.product_state ?? 0) - (before.product_state ?? 0)).toBe(4);
    await emitHealthIfChanged(db, 'p-total-a', health());
    expect(((await lastHealthTotals(db)).product_state ?? 0) - (before.product_state ?? 0)).toBe(1);
  });
});
