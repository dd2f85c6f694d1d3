import { type Cell, renderTable } from '../format/table.ts';
import type { DiscoveredApp } from '../onboarding/index.ts';
import type { ChangeRow, ProductRow, RuleRow } from '../sync/index.ts';

/*
 * The demo's tables: pure functions from stored rows to readable text, so a newcomer sees
 * the catalog, the change log and the revenue-attribution rules the way an operator would.
 */

const KIND_LABELS: Record<string, string> = {
  consumable: 'consumable',
  non_consumable: 'non-consumable',
  non_renewing_subscription: 'non-renewing',
  auto_renewable_subscription: 'auto-renewable',
};

export function appsTable(apps: DiscoveredApp[], selectedId?: string): string {
  return renderTable(
    ['', 'App Store ID', 'Bundle ID', 'Name', 'SKU'],
    apps.map((app) => [
      app.appStoreId === selectedId ? '→' : '',
      app.appStoreId,
      app.bundleId,
      app.name,
      app.sku,
    ]),
  );
}

export function productsTable(rows: ProductRow[], groupNames: ReadonlyMap<string, string>): string {
  return renderTable(
    ['Product ID', 'Kind', 'Reference name', 'State', 'Group (level)', 'Period'],
    rows.map((row): Cell[] => [
      row.productId,
      KIND_LABELS[row.kind] ?? row.kind,
      row.referenceName,
      row.state,
      row.groupAppleId
        ? `${groupNames.get(row.groupAppleId) ?? row.groupAppleId} (level ${row.groupLevel ?? '?'})`
        : '',
      row.subscriptionPeriod ?? '',
    ]),
  );
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '∅';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The entity as a person knows it: the product id for products, the name for groups. */
function label(change: ChangeRow): string {
  const model = (change.after ?? change.before ?? {}) as Record<string, unknown>;
  if (change.entity === 'product' && typeof model.productId === 'string') return model.productId;
  if (change.entity === 'subscription_group' && typeof model.referenceName === 'string') {
    return `${model.referenceName} (${change.entityId})`;
  }
  return change.entityId;
}

/** One line per changed field, `raw` (Apple's attributes as received) only when nothing else changed. */
export function describeChange(change: ChangeRow): string {
  const before = (change.before ?? {}) as Record<string, unknown>;
  const after = (change.after ?? {}) as Record<string, unknown>;
  if (change.action === 'added') {
    const kind = typeof after.kind === 'string' ? `${KIND_LABELS[after.kind] ?? after.kind} ` : '';
    const name = after.referenceName ?? after.duration;
    return `new ${kind}${show(name)}${typeof after.state === 'string' ? `, ${after.state}` : ''}`;
  }
  if (change.action === 'removed') {
    return `no longer in App Store Connect (was ${show(before.referenceName ?? before.duration)})`;
  }
  const modelled = change.changedFields.filter((field) => field !== 'raw');
  const fields = modelled.length > 0 ? modelled : change.changedFields;
  const lines = fields.map((field) =>
    field === 'raw' ? 'raw attributes changed' : `${field}: ${show(before[field])} → ${show(after[field])}`,
  );
  if (change.action === 'restored') lines.unshift('back in App Store Connect');
  return lines.join('\n');
}

export function changesTable(rows: ChangeRow[]): string {
  return renderTable(
    ['Entity', 'Which', 'Action', 'What changed'],
    rows.map((row) => [row.entity.replace('_', ' '), label(row), row.action, describeChange(row)]),
  );
}

const READABLE: Record<string, string> = {
  original_due_date: 'original due date',
  recovery_date: 'recovery date',
  grace_period_end: 'end of grace',
  due_date: 'due date',
  paid_to_paid: 'paid → paid',
  offer_to_paid: 'offer → paid',
};

export function rulesTable(rows: RuleRow[]): string {
  return renderTable(
    [
      'Environment',
      'Renewal',
      'Grace\ndays',
      'Recovered revenue\ndated to',
      'Access\nin grace',
      'Unrecovered\nchurns at',
      'In force since\n(UTC)',
    ],
    rows.map((row) => [
      row.environment,
      READABLE[row.renewalKind] ?? row.renewalKind,
      row.graceDays,
      READABLE[row.recoveredRevenueDatedTo] ?? row.recoveredRevenueDatedTo,
      row.accessDuringGrace ? 'yes' : 'no',
      READABLE[row.unrecoveredChurnAt] ?? row.unrecoveredChurnAt,
      // Time of day to the millisecond: the demo's two versions are seconds apart.
      row.effectiveFrom.toISOString().slice(11, 23),
    ]),
  );
}

/** `{ 'product.added': 3 }` → `3 products added`. */
export function describeCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).filter(([, n]) => n > 0);
  if (entries.length === 0) return 'no changes';
  return entries
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => {
      const [entity = key, action = ''] = key.split('.');
      const noun = entity.replaceAll('_', ' ');
      return `${n} ${noun}${n === 1 || noun.endsWith('s') ? '' : 's'} ${action}`.trim();
    })
    .join(', ');
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
