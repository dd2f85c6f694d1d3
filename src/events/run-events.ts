import {
  type CatalogChangedPayload,
  type ChangeRow,
  MAX_INLINE_CHANGES,
  MAX_PRICES_IN_EVENT,
  type PayloadOf,
  type PriceChange,
  type PricesChangedPayload,
} from './types.ts';

/*
 * The events a completed run announces, from its change rows (pure; unit-tested). Counting is
 * generic over the rows' entity: a detail kind added later is counted and listed without code
 * here. Only prices get events of their own (the money a platform may subscribe to alone).
 */

/** One `catalog_changes` row as announce.ts reads it. */
export interface RunChangeRow {
  entity: string;
  entityId: string;
  action: 'added' | 'updated' | 'removed' | 'restored';
  changedFields: string[];
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  /** ISO time the row was stamped. */
  detectedAt: string;
  /** The day (UTC) it was stamped, YYYY-MM-DD. */
  detectedDay: string;
  /** The product id of a product's or a price's product, when stored. */
  productId: string | null;
  /** A new price version: the territory's version before it (its old price), when there is one. */
  previous?: { customerPrice: string | null; proceeds: string | null } | null;
}

type Planned =
  | { type: 'catalog.changed'; payload: PayloadOf<'catalog.changed'> }
  | { type: 'prices.changed'; payload: PayloadOf<'prices.changed'> }
  | { type: 'price_change.scheduled'; payload: PayloadOf<'price_change.scheduled'> }
  | { type: 'price_change.cancelled'; payload: PayloadOf<'price_change.cancelled'> };

export const runCursor = (runId: string) => `run:${runId}`;

const text = (value: unknown): string | null =>
  value === null || value === undefined ? null : typeof value === 'string' ? value : String(value);

/** `<product Apple id>/<territory>/<start date or "initial">` (src/details/diff.ts priceEntityId). */
function productAppleIdOf(entityId: string): string {
  return entityId.split('/')[0] ?? entityId;
}

export function priceChangeOf(row: RunChangeRow): PriceChange {
  const model = row.after ?? row.before ?? {};
  return {
    productId: row.productId,
    productAppleId: productAppleIdOf(row.entityId),
    territory: text(model['territory']) ?? '',
    currency: text(model['currency']),
    action: row.action,
    startDate: text(model['startDate']),
    oldCustomerPrice: text(row.before?.['customerPrice'] ?? row.previous?.customerPrice),
    newCustomerPrice: text(row.after?.['customerPrice']),
    oldProceeds: text(row.before?.['proceeds'] ?? row.previous?.proceeds),
    newProceeds: text(row.after?.['proceeds']),
  };
}

/** Whole days from `from` to `to` (both YYYY-MM-DD, UTC). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

export function buildRunEvents(input: {
  runId: string;
  trigger: string | null;
  /** The run's change rows in order (possibly capped; `totalChanges` is the true count). */
  rows: readonly RunChangeRow[];
  /** `<entity>.<action>` counts over every row of the run. */
  counts: Record<string, number>;
  totalChanges: number;
  rulesOpened: number;
  /** Today (UTC) when nothing was stamped (rules only). */
  today: string;
  maxInline?: number;
}): Planned[] {
  const { runId, rows } = input;
  if (input.totalChanges === 0 && input.rulesOpened === 0) return [];
  const detectedAt = new Date(rows[0]?.detectedAt ?? `${input.today}T00:00:00Z`).toISOString();
  const inline = input.totalChanges <= (input.maxInline ?? MAX_INLINE_CHANGES);
  const changes: ChangeRow[] = rows.map((row) => ({
    entity: row.entity,
    entityId: row.entityId,
    action: row.action,
    changedFields: row.changedFields,
    productId: row.entity === 'product' ? row.productId : null,
  }));
  const catalogChanged: CatalogChangedPayload = {
    version: 1,
    runId,
    trigger: input.trigger,
    detectedAt,
    counts: input.counts,
    totalChanges: input.totalChanges,
    changes: inline ? changes : null,
    changesCursor: runCursor(runId),
    rulesVersioned: input.rulesOpened > 0,
    rulesOpened: input.rulesOpened,
  };
  const planned: Planned[] = [{ type: 'catalog.changed', payload: catalogChanged }];

  const priceRows = rows.filter((row) => row.entity === 'price');
  const priceTotal = input.counts
    ? Object.entries(input.counts)
        .filter(([key]) => key.startsWith('price.'))
        .reduce((sum, [, n]) => sum + n, 0)
    : priceRows.length;
  if (priceTotal > 0) {
    const prices = priceRows.slice(0, MAX_PRICES_IN_EVENT).map(priceChangeOf);
    const payload: PricesChangedPayload = {
      version: 1,
      runId,
      detectedAt,
      total: priceTotal,
      prices,
      more: priceTotal - prices.length,
      changesCursor: runCursor(runId),
    };
    planned.push({ type: 'prices.changed', payload });
  }

  // A future-dated version that appears (or reappears) is a scheduled change; one that is removed
  // before its date was cancelled (details/diff.ts). One event per product and start date.
  const schedules = new Map<
    string,
    { type: 'price_change.scheduled' | 'price_change.cancelled'; rows: RunChangeRow[] }
  >();
  for (const row of priceRows) {
    const model = row.after ?? row.before ?? {};
    const start = text(model['startDate']);
    if (start === null || start <= row.detectedDay) continue;
    const type =
      row.action === 'added' || row.action === 'restored'
        ? 'price_change.scheduled'
        : row.action === 'removed'
          ? 'price_change.cancelled'
          : null;
    if (type === null) continue;
    const key = `${type}\u0000${productAppleIdOf(row.entityId)}\u0000${start}`;
    const group = schedules.get(key) ?? { type, rows: [] };
    group.rows.push(row);
    schedules.set(key, group);
  }
  for (const { type, rows: group } of schedules.values()) {
    const first = group[0]!;
    const model = first.after ?? first.before ?? {};
    const startDate = text(model['startDate'])!;
    const shown = group.slice(0, MAX_PRICES_IN_EVENT).map((row) => {
      const price = row.after ?? row.before ?? {};
      return {
        territory: text(price['territory']) ?? '',
        currency: text(price['currency']),
        customerPrice: text(price['customerPrice']),
        proceeds: text(price['proceeds']),
        previousCustomerPrice: text(row.previous?.customerPrice),
        previousProceeds: text(row.previous?.proceeds),
      };
    });
    planned.push({
      type,
      payload: {
        version: 1,
        runId,
        productId: first.productId,
        productAppleId: productAppleIdOf(first.entityId),
        startDate,
        daysUntil: daysBetween(first.detectedDay, startDate),
        prices: shown,
        more: group.length - shown.length,
      },
    });
  }
  return planned;
}
