import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import { jsonb } from '../sync/change-log.ts';
import type {
  CatalogView,
  HistoryEntry,
  ObservedPoint,
  OfferView,
  PriceVersionView,
  ProductView,
  RuleVersion,
} from './attribute.ts';
import type { Attribution, EntryKind } from './model.ts';

/*
 * Postgres for attribution: the catalog as attribute.ts reads it (loaded per batch, only for the
 * products a batch names), the subscriber's stored history, the current version of each
 * attribution, and the writes — one statement per kind for a whole chunk (jsonb_to_recordset),
 * so a chunk of 500 transactions costs the same handful of statements as a chunk of 5.
 */

/** The project's territories (currencies) and grace rules: the same for every product. */
export async function loadProjectView(
  db: Db,
  projectId: string,
): Promise<Pick<CatalogView, 'currencies' | 'rules'>> {
  const territories = rowsOf<{ id: string; currency: string }>(
    await db.execute(sql`select id, currency from territories`),
  );
  const rules = rowsOf<{
    environment: RuleVersion['environment'];
    renewal_kind: RuleVersion['renewalKind'];
    grace_days: number;
    recovered_revenue_dated_to: RuleVersion['recoveredRevenueDatedTo'];
    access_during_grace: boolean;
    unrecovered_churn_at: RuleVersion['unrecoveredChurnAt'];
    effective_from: string | Date;
    effective_to: string | Date | null;
  }>(
    await db.execute(sql`
      select environment, renewal_kind, grace_days, recovered_revenue_dated_to, access_during_grace,
             unrecovered_churn_at, effective_from, effective_to
        from revenue_attribution_rules where project_id = ${projectId}`),
  );
  return {
    currencies: new Map(territories.map((t) => [t.id, t.currency])),
    rules: rules.map((r) => ({
      environment: r.environment,
      renewalKind: r.renewal_kind,
      graceDays: r.grace_days,
      recoveredRevenueDatedTo: r.recovered_revenue_dated_to,
      accessDuringGrace: r.access_during_grace,
      unrecoveredChurnAt: r.unrecovered_churn_at,
      effectiveFrom: new Date(r.effective_from),
      effectiveTo: r.effective_to === null ? null : new Date(r.effective_to),
    })),
  };
}

const date = (value: string | Date | null): Date | null => (value === null ? null : new Date(value));
const dayText = (value: string | Date | null): string | null =>
  value === null ? null : typeof value === 'string' ? value.slice(0, 10) : value.toISOString().slice(0, 10);

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * Products by product id, with every price version, every observed price point and the offers.
 * The catalog's current versions are first copied into the observed points, so a version App
 * Store Connect later stops listing (or re-prices in place) still prices its preserved subscribers.
 */
export async function loadProducts(
  db: Db,
  projectId: string,
  productIds: readonly string[],
): Promise<Map<string, ProductView>> {
  const out = new Map<string, ProductView>();
  if (productIds.length === 0) return out;
  const rows = rowsOf<{ apple_id: string; product_id: string; kind: string }>(
    await db.execute(sql`
      select p.apple_id, p.product_id, p.kind from products p
        join jsonb_array_elements_text(${jsonb(productIds)}) as x(id) on x.id = p.product_id
       where p.project_id = ${projectId}`),
  );
  if (rows.length === 0) return out;
  const appleIds = rows.map((r) => r.apple_id);
  await db.execute(sql`
    insert into attribution_price_points
      (project_id, product_apple_id, territory, currency, customer_price, proceeds, proceeds_year2, source, price_point_id)
    select project_id, product_apple_id, territory, currency, customer_price, proceeds, proceeds_year2, 'catalog', price_point_id
      from product_prices
     where project_id = ${projectId} and product_apple_id in (select jsonb_array_elements_text(${jsonb(appleIds)}))
       and currency is not null and customer_price is not null
    on conflict do nothing`);
  const prices = rowsOf<{
    product_apple_id: string;
    territory: string;
    start_date: string | Date | null;
    end_date: string | Date | null;
    removed_at: string | Date | null;
    currency: string | null;
    customer_price: string | null;
    proceeds: string | null;
    proceeds_year2: string | null;
  }>(
    await db.execute(sql`
      select product_apple_id, territory, start_date, end_date, removed_at, currency,
             customer_price::text, proceeds::text, proceeds_year2::text
        from product_prices
       where project_id = ${projectId} and product_apple_id in (select jsonb_array_elements_text(${jsonb(appleIds)}))`),
  );
  const observed = rowsOf<{
    product_apple_id: string;
    territory: string;
    currency: string;
    customer_price: string;
    proceeds: string | null;
    proceeds_year2: string | null;
    source: ObservedPoint['source'];
  }>(
    await db.execute(sql`
      select product_apple_id, territory, currency, customer_price::text, proceeds::text, proceeds_year2::text, source
        from attribution_price_points
       where project_id = ${projectId} and product_apple_id in (select jsonb_array_elements_text(${jsonb(appleIds)}))
       order by first_seen_at desc, id desc`),
  );
  const offers = rowsOf<{
    apple_id: string;
    product_apple_id: string;
    kind: string;
    territory: string | null;
    name: string | null;
    offer_mode: string | null;
    start_date: string | Date | null;
    end_date: string | Date | null;
    active: boolean | null;
    removed_at: string | Date | null;
    first_seen_at: string | Date;
    offer_code: string | null;
    offer_id: string | null;
  }>(
    await db.execute(sql`
      select apple_id, product_apple_id, kind, territory, name, offer_mode, start_date, end_date, active,
             removed_at, first_seen_at, raw->>'offerCode' as offer_code, raw->>'offerId' as offer_id
        from product_offers
       where project_id = ${projectId} and product_apple_id in (select jsonb_array_elements_text(${jsonb(appleIds)}))`),
  );
  const offerPrices = rowsOf<{
    offer_apple_id: string;
    territory: string;
    currency: string | null;
    customer_price: string | null;
    proceeds: string | null;
    proceeds_year2: string | null;
  }>(
    await db.execute(sql`
      select op.offer_apple_id, op.territory, op.currency, op.customer_price::text, op.proceeds::text, op.proceeds_year2::text
        from offer_prices op
        join product_offers o on o.project_id = op.project_id and o.apple_id = op.offer_apple_id
       where op.project_id = ${projectId} and op.removed_at is null
         and o.product_apple_id in (select jsonb_array_elements_text(${jsonb(appleIds)}))`),
  );
  const pricesOf = new Map<string, PriceVersionView[]>();
  for (const p of prices) {
    push(pricesOf, p.product_apple_id, {
      territory: p.territory,
      startDate: dayText(p.start_date),
      endDate: dayText(p.end_date),
      removedAt: date(p.removed_at),
      currency: p.currency,
      customerPrice: p.customer_price,
      proceeds: p.proceeds,
      proceedsYear2: p.proceeds_year2,
    });
  }
  const observedOf = new Map<string, ObservedPoint[]>();
  for (const o of observed) {
    push(observedOf, `${o.product_apple_id}/${o.territory}`, {
      currency: o.currency,
      customerPrice: o.customer_price,
      proceeds: o.proceeds,
      proceedsYear2: o.proceeds_year2,
      source: o.source,
    });
  }
  const offerPricesOf = new Map<string, OfferView['prices']>();
  for (const op of offerPrices) {
    const map = offerPricesOf.get(op.offer_apple_id) ?? new Map();
    map.set(op.territory, {
      currency: op.currency,
      customerPrice: op.customer_price,
      proceeds: op.proceeds,
      proceedsYear2: op.proceeds_year2,
    });
    offerPricesOf.set(op.offer_apple_id, map);
  }
  const offersOf = new Map<string, OfferView[]>();
  for (const o of offers) {
    const prices = offerPricesOf.get(o.apple_id) ?? new Map();
    push(offersOf, o.product_apple_id, {
      appleId: o.apple_id,
      kind: o.kind,
      territory: o.territory,
      offerMode: o.offer_mode,
      startDate: dayText(o.start_date),
      endDate: dayText(o.end_date),
      active: o.active,
      removedAt: date(o.removed_at),
      firstSeenAt: new Date(o.first_seen_at),
      identifiers: [o.offer_code, o.offer_id, o.name, o.apple_id].filter((v): v is string => v !== null),
      territories: [...prices.keys()],
      prices,
    });
  }
  for (const row of rows) {
    const byTerritory = new Map<string, PriceVersionView[]>();
    for (const p of pricesOf.get(row.apple_id) ?? []) push(byTerritory, p.territory, p);
    const observedByTerritory = new Map<string, ObservedPoint[]>();
    for (const territory of new Set([
      ...byTerritory.keys(),
      ...[...observedOf.keys()]
        .filter((k) => k.startsWith(`${row.apple_id}/`))
        .map((k) => k.slice(row.apple_id.length + 1)),
    ])) {
      const list = observedOf.get(`${row.apple_id}/${territory}`);
      if (list) observedByTerritory.set(territory, list);
    }
    out.set(row.product_id, {
      appleId: row.apple_id,
      productId: row.product_id,
      kind: row.kind,
      prices: byTerritory,
      observed: observedByTerritory,
      offers: offersOf.get(row.apple_id) ?? [],
    });
  }
  return out;
}

/** Keeps a price point looked up in App Store Connect. */
export async function savePricePoint(
  db: Db,
  projectId: string,
  point: { productAppleId: string; territory: string; pricePointId: string | null } & Omit<
    ObservedPoint,
    'source'
  >,
): Promise<void> {
  await db.execute(sql`
    insert into attribution_price_points
      (project_id, product_apple_id, territory, currency, customer_price, proceeds, proceeds_year2, source, price_point_id)
    values (${projectId}, ${point.productAppleId}, ${point.territory}, ${point.currency}, ${point.customerPrice}::numeric,
            ${point.proceeds}::numeric, ${point.proceedsYear2}::numeric, 'app_store_connect', ${point.pricePointId})
    on conflict do nothing`);
}

/** The stored charges of these subscribers (current versions), as history for paid days and renewals. */
export async function loadHistory(
  db: Db,
  projectId: string,
  originalIds: readonly string[],
): Promise<Map<string, HistoryEntry[]>> {
  const out = new Map<string, HistoryEntry[]>();
  if (originalIds.length === 0) return out;
  const rows = rowsOf<{
    original_transaction_id: string;
    transaction_id: string;
    purchase_date: string | Date;
    service_end: string | Date | null;
    paid_service: boolean;
    offer_period: boolean;
  }>(
    await db.execute(sql`
      select distinct on (transaction_id) original_transaction_id, transaction_id, purchase_date, service_end,
             paid_service, offer_period
        from transaction_attributions
       where project_id = ${projectId} and entry = 'charge'
         and original_transaction_id in (select jsonb_array_elements_text(${jsonb(originalIds)}))
       order by transaction_id, version desc`),
  );
  for (const r of rows) {
    push(out, r.original_transaction_id, {
      transactionId: r.transaction_id,
      purchaseDate: new Date(r.purchase_date).getTime(),
      expiresDate: r.service_end === null ? null : new Date(r.service_end).getTime(),
      paid: r.paid_service,
      offer: r.offer_period,
    });
  }
  return out;
}

export interface CurrentVersion {
  version: number;
  digest: string;
  answer: Attribution;
}

/** The current version of each (transaction, entry). */
export async function loadCurrent(
  db: Db,
  projectId: string,
  transactionIds: readonly string[],
): Promise<Map<string, CurrentVersion>> {
  const out = new Map<string, CurrentVersion>();
  if (transactionIds.length === 0) return out;
  const rows = rowsOf<{
    transaction_id: string;
    entry: EntryKind;
    version: number;
    digest: string;
    answer: Attribution;
  }>(
    await db.execute(sql`
      select distinct on (transaction_id, entry) transaction_id, entry, version, digest, ${answerJson} as answer
        from transaction_attributions a
       where project_id = ${projectId}
         and transaction_id in (select jsonb_array_elements_text(${jsonb(transactionIds)}))
       order by transaction_id, entry, version desc`),
  );
  for (const r of rows)
    out.set(`${r.transaction_id}/${r.entry}`, { version: r.version, digest: r.digest, answer: r.answer });
  return out;
}

/** An attribution row as the API returns it (money as text, exactly as stored). */
const answerJson = sql.raw(`jsonb_build_object(
  'transactionId', a.transaction_id, 'originalTransactionId', a.original_transaction_id, 'entry', a.entry,
  'kind', a.kind, 'productId', a.product_id, 'productAppleId', a.product_apple_id, 'territory', a.territory,
  'environment', a.environment, 'currency', a.currency, 'customerPrice', a.customer_price::text,
  'customerPriceSource', a.customer_price_source, 'proceeds', a.proceeds::text, 'proceedsRate', a.proceeds_rate,
  'proceedsReason', a.proceeds_reason, 'basis', a.basis, 'pricePoint', a.price_point, 'paidDays', a.paid_days,
  'paidDaysSource', a.paid_days_source, 'offer', a.offer, 'rule', a.rule,
  'revenueDate', to_char(a.revenue_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'dueDate', to_char(a.due_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'recoveredInGrace', a.recovered_in_grace,
  'purchaseDate', to_char(a.purchase_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'serviceStart', to_char(a.service_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'serviceEnd', to_char(a.service_end at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`);

/** The digest of an answer: equal answers, equal digests (the fields are always built in one order). */
export function digestOf(answer: Attribution): string {
  return createHash('sha256').update(JSON.stringify(answer)).digest('base64url');
}

export interface VersionRow {
  answer: Attribution;
  version: number;
  reason: string;
  digest: string;
  paidService: boolean;
  offerPeriod: boolean;
}

/** Writes new versions (one statement); a version another writer stored first is left as it is. */
export async function insertVersions(db: Db, projectId: string, rows: readonly VersionRow[]): Promise<void> {
  if (rows.length === 0) return;
  const records = rows.map(({ answer: a, version, reason, digest, paidService, offerPeriod }) => ({
    ...a,
    version,
    reason,
    digest,
    paidService,
    offerPeriod,
  }));
  await db.execute(sql`
    insert into transaction_attributions
      (project_id, transaction_id, original_transaction_id, entry, version, version_reason, kind, product_id,
       product_apple_id, territory, environment, currency, customer_price, customer_price_source, proceeds,
       proceeds_rate, proceeds_reason, basis, price_point, paid_days, paid_days_source, offer, rule, revenue_date,
       due_date, recovered_in_grace, purchase_date, service_start, service_end, paid_service, offer_period, digest)
    select ${projectId}, x."transactionId", x."originalTransactionId", x.entry, x.version, x.reason, x.kind,
           x."productId", x."productAppleId", x.territory, x.environment, x.currency, x."customerPrice",
           x."customerPriceSource", x.proceeds, x."proceedsRate", x."proceedsReason", x.basis, x."pricePoint",
           x."paidDays", x."paidDaysSource", x.offer, x.rule, x."revenueDate", x."dueDate", x."recoveredInGrace",
           x."purchaseDate", x."serviceStart", x."serviceEnd", x."paidService", x."offerPeriod", x.digest
      from jsonb_to_recordset(${jsonb(records)}) as x(
        "transactionId" text, "originalTransactionId" text, entry text, version int, reason text, kind text,
        "productId" text, "productAppleId" text, territory text, environment text, currency text,
        "customerPrice" numeric, "customerPriceSource" text, proceeds numeric, "proceedsRate" text,
        "proceedsReason" text, basis text, "pricePoint" jsonb, "paidDays" int, "paidDaysSource" text, offer jsonb,
        rule jsonb, "revenueDate" timestamptz, "dueDate" timestamptz, "recoveredInGrace" boolean,
        "purchaseDate" timestamptz, "serviceStart" timestamptz, "serviceEnd" timestamptz, "paidService" boolean,
        "offerPeriod" boolean, digest text)
    on conflict do nothing`);
}

export type RevenueGrouping = 'day' | 'month' | 'product' | 'territory';

export interface RevenueRow {
  key: string;
  currency: string;
  customerPrice: string;
  proceeds: string;
  /** Entries whose proceeds are unknown (not in `proceeds`). */
  unknownProceeds: number;
  count: number;
}

/** Sums of the current versions whose revenue date is in [from, to), per key and currency. */
export async function sumRevenue(
  db: Db,
  projectId: string,
  options: { from: Date; to: Date; by: RevenueGrouping; environment: string },
): Promise<RevenueRow[]> {
  const key =
    options.by === 'day'
      ? sql.raw(`to_char(revenue_date at time zone 'UTC', 'YYYY-MM-DD')`)
      : options.by === 'month'
        ? sql.raw(`to_char(revenue_date at time zone 'UTC', 'YYYY-MM')`)
        : options.by === 'product'
          ? sql.raw('product_id')
          : sql.raw('territory');
  const rows = rowsOf<{
    key: string;
    currency: string;
    customer_price: string;
    proceeds: string;
    unknown_proceeds: number;
    count: number;
  }>(
    await db.execute(sql`
      with current as (
        -- The current version first: a later version may have moved the revenue date out of the range.
        select distinct on (transaction_id, entry) *
          from transaction_attributions
         where project_id = ${projectId} and environment = ${options.environment}
           and transaction_id in (
             select transaction_id from transaction_attributions
              where project_id = ${projectId}
                and revenue_date >= ${options.from.toISOString()}::timestamptz
                and revenue_date < ${options.to.toISOString()}::timestamptz)
         order by transaction_id, entry, version desc)
      select ${key} as key, currency, coalesce(sum(customer_price), 0)::text as customer_price,
             coalesce(sum(proceeds), 0)::text as proceeds,
             (count(*) filter (where proceeds is null))::int as unknown_proceeds, count(*)::int as count
        from current
       where revenue_date >= ${options.from.toISOString()}::timestamptz
         and revenue_date < ${options.to.toISOString()}::timestamptz
       group by 1, 2
       order by 1, 2`),
  );
  return rows.map((r) => ({
    key: r.key,
    currency: r.currency,
    customerPrice: r.customer_price,
    proceeds: r.proceeds,
    unknownProceeds: r.unknown_proceeds,
    count: r.count,
  }));
}
