import { describe, expect, it } from 'vitest';
import { buildRunEvents, daysBetween, type RunChangeRow } from '../../../src/events/run-events.ts';
import { payloadSchemas } from '../../../src/events/types.ts';

const AT = '2026-12-04T10:00:00.000Z';
const DAY = '2026-12-04';

function row(
  partial: Partial<RunChangeRow> & Pick<RunChangeRow, 'entity' | 'entityId' | 'action'>,
): RunChangeRow {
  return {
    changedFields: [],
    before: null,
    after: null,
    detectedAt: AT,
    detectedDay: DAY,
    productId: null,
    ...partial,
  };
}

function counts(rows: RunChangeRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[`${r.entity}.${r.action}`] = (out[`${r.entity}.${r.action}`] ?? 0) + 1;
  return out;
}

const price = (territory: string, startDate: string | null, customerPrice: string, proceeds: string) => ({
  territory,
  startDate,
  currency: territory === 'USA' ? 'USD' : 'EUR',
  customerPrice,
  proceeds,
});

function plan(rows: RunChangeRow[], extra: { rulesOpened?: number; maxInline?: number } = {}) {
  const planned = buildRunEvents({
    runId: 'r1',
    trigger: 'manual',
    rows,
    counts: counts(rows),
    totalChanges: rows.length,
    rulesOpened: extra.rulesOpened ?? 0,
    today: DAY,
    ...(extra.maxInline ? { maxInline: extra.maxInline } : {}),
  });
  // Every planned payload is valid against the schema the outbox checks it with.
  for (const event of planned) payloadSchemas[event.type].parse(event.payload);
  return planned;
}

describe('the events of a run', () => {
  it('counts every entity kind generically, a kind added later included, and totals the rows', () => {
    const rows = [
      row({
        entity: 'product',
        entityId: '1',
        action: 'updated',
        changedFields: ['state'],
        productId: 'p.one',
      }),
      row({ entity: 'offer', entityId: 'o1', action: 'added' }),
      row({ entity: 'localization', entityId: 'l1', action: 'removed' }),
      row({ entity: 'availability', entityId: '1', action: 'updated' }),
      row({ entity: 'promoted_purchase', entityId: 'pp1', action: 'added' }),
    ];
    const [changed, ...rest] = plan(rows);
    expect(rest).toEqual([]);
    expect(changed!.type).toBe('catalog.changed');
    expect(changed!.payload).toMatchObject({
      totalChanges: 5,
      counts: {
        'product.updated': 1,
        'offer.added': 1,
        'localization.removed': 1,
        'availability.updated': 1,
        'promoted_purchase.added': 1,
      },
      changesCursor: 'run:r1',
      rulesVersioned: false,
      rulesOpened: 0,
    });
    expect((changed!.payload as { changes: unknown[] }).changes).toHaveLength(5);
  });

  it('a price-only change: one catalog.changed and one prices.changed with the old and new money', () => {
    const before = price('USA', null, '9.99', '8.49');
    const after = price('USA', null, '12.99', '11.04');
    const planned = plan([
      row({
        entity: 'price',
        entityId: '6741/USA/initial',
        action: 'updated',
        before,
        after,
        productId: 'p.pro',
        changedFields: ['customerPrice', 'proceeds'],
      }),
    ]);
    expect(planned.map((e) => e.type)).toEqual(['catalog.changed', 'prices.changed']);
    expect(planned[1]!.payload).toMatchObject({
      total: 1,
      more: 0,
      prices: [
        {
          productId: 'p.pro',
          productAppleId: '6741',
          territory: 'USA',
          currency: 'USD',
          action: 'updated',
          startDate: null,
          oldCustomerPrice: '9.99',
          newCustomerPrice: '12.99',
          oldProceeds: '8.49',
          newProceeds: '11.04',
        },
      ],
    });
  });

  it('a future-dated version is scheduled once per product and date; one removed before its date is cancelled', () => {
    const planned = plan([
      row({
        entity: 'price',
        entityId: '6741/USA/2027-01-03',
        action: 'added',
        after: price('USA', '2027-01-03', '12.99', '11.04'),
      }),
      row({
        entity: 'price',
        entityId: '6741/FRA/2027-01-03',
        action: 'added',
        after: price('FRA', '2027-01-03', '12.99', '10.40'),
      }),
      row({
        entity: 'price',
        entityId: '6741/USA/2026-12-01',
        action: 'added',
        after: price('USA', '2026-12-01', '9.99', '8.49'),
      }),
      row({
        entity: 'price',
        entityId: '9999/USA/2027-02-01',
        action: 'removed',
        before: price('USA', '2027-02-01', '4.99', '4.24'),
      }),
    ]);
    expect(planned.map((e) => e.type)).toEqual([
      'catalog.changed',
      'prices.changed',
      'price_change.scheduled',
      'price_change.cancelled',
    ]);
    expect(planned[2]!.payload).toMatchObject({
      productAppleId: '6741',
      startDate: '2027-01-03',
      daysUntil: 30,
      prices: [
        { territory: 'USA', currency: 'USD', customerPrice: '12.99', proceeds: '11.04' },
        { territory: 'FRA', currency: 'EUR', customerPrice: '12.99', proceeds: '10.40' },
      ],
      more: 0,
    });
    expect(planned[3]!.payload).toMatchObject({
      productAppleId: '9999',
      startDate: '2027-02-01',
      daysUntil: 59,
    });
  });

  it('gives the cursor only beyond the inline limit; rules alone are announced too', () => {
    const rows = Array.from({ length: 3 }, (_, i) =>
      row({ entity: 'product', entityId: String(i), action: 'added' }),
    );
    const [changed] = plan(rows, { maxInline: 2 });
    expect(changed!.payload).toMatchObject({ changes: null, totalChanges: 3, changesCursor: 'run:r1' });
    const [rulesOnly] = plan([], { rulesOpened: 4 });
    expect(rulesOnly!.payload).toMatchObject({
      totalChanges: 0,
      rulesVersioned: true,
      rulesOpened: 4,
      counts: {},
    });
    expect(plan([])).toEqual([]);
  });

  it('counts days in UTC calendar days', () => {
    expect(daysBetween('2026-12-04', '2027-01-03')).toBe(30);
    expect(daysBetween('2027-03-27', '2027-03-29')).toBe(2);
  });
});
