import { and, eq, sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import {
  detailMetadata,
  productAvailability,
  productLocalizations,
  productOffers,
  productPrices,
} from '../../db/schema.ts';
import type { Change } from '../catalog/diff.ts';
import { appendChangeRows, jsonb, ts } from '../sync/change-log.ts';
import {
  countChanges,
  countDetailChanges,
  type DetailsDiff,
  diffDetails,
  diffMetadata,
  isEmptyDetailsDiff,
} from './diff.ts';
import type {
  DetailAvailability,
  DetailLocalization,
  DetailMetadata,
  DetailOffer,
  DetailPrice,
  GroupDetails,
  MetadataKind,
  OfferPrice,
  ProductDetails,
  StoredDetails,
  StoredMetadata,
} from './model.ts';

/*
 * Reading and writing one product's details, inside the caller's transaction: the product's
 * details are written all together (prices, offers with their prices, localizations,
 * availability, their change rows and `details_read_at`) or not at all. Writes are batched
 * (`jsonb_to_recordset`), so a product of 175 territories costs a handful of statements.
 */

/** Advisory-lock namespace for "details of this product are being written" (key: hashtext(project/apple id)). */
export const DETAILS_LOCK_NAMESPACE = 7_243_012;

export async function loadStoredDetails(
  db: Db,
  projectId: string,
  productAppleId: string,
): Promise<StoredDetails> {
  const priceRows = await db
    .select()
    .from(productPrices)
    .where(and(eq(productPrices.projectId, projectId), eq(productPrices.productAppleId, productAppleId)));
  const offerRows = await db
    .select()
    .from(productOffers)
    .where(and(eq(productOffers.projectId, projectId), eq(productOffers.productAppleId, productAppleId)));
  const offerPriceRows = rowsOf<{
    offer_apple_id: string;
    territory: string;
    price_point_id: string | null;
    currency: string | null;
    customer_price: string | null;
    proceeds: string | null;
    proceeds_year2: string | null;
  }>(
    await db.execute(sql`
      select op.offer_apple_id, op.territory, op.price_point_id, op.currency, op.customer_price::text,
             op.proceeds::text, op.proceeds_year2::text
        from offer_prices op
        join product_offers o on o.project_id = op.project_id and o.apple_id = op.offer_apple_id
       where op.project_id = ${projectId} and o.product_apple_id = ${productAppleId} and op.removed_at is null
       order by op.offer_apple_id, op.territory`),
  );
  const pricesByOffer = new Map<string, OfferPrice[]>();
  for (const row of offerPriceRows) {
    const list = pricesByOffer.get(row.offer_apple_id) ?? [];
    list.push({
      territory: row.territory,
      pricePointId: row.price_point_id,
      currency: row.currency,
      customerPrice: row.customer_price,
      proceeds: row.proceeds,
      proceedsYear2: row.proceeds_year2,
    });
    pricesByOffer.set(row.offer_apple_id, list);
  }
  const localizationRows = await db
    .select()
    .from(productLocalizations)
    .where(
      and(
        eq(productLocalizations.projectId, projectId),
        eq(productLocalizations.productAppleId, productAppleId),
      ),
    );
  const [availability] = await db
    .select()
    .from(productAvailability)
    .where(
      and(
        eq(productAvailability.projectId, projectId),
        eq(productAvailability.productAppleId, productAppleId),
      ),
    );
  return {
    productAppleId,
    metadata: await loadStoredMetadata(db, projectId, productAppleId),
    prices: priceRows.map((row) => ({
      appleId: row.appleId,
      territory: row.territory,
      startDate: row.startDate,
      endDate: row.endDate,
      preserved: row.preserved,
      source: row.source,
      planType: row.planType,
      pricePointId: row.pricePointId,
      currency: row.currency,
      customerPrice: row.customerPrice,
      proceeds: row.proceeds,
      proceedsYear2: row.proceedsYear2,
      removedAt: row.removedAt,
    })),
    offers: offerRows.map((row) => ({
      appleId: row.appleId,
      kind: row.kind,
      territory: row.territory,
      name: row.name,
      offerMode: row.offerMode,
      duration: row.duration,
      numberOfPeriods: row.numberOfPeriods,
      startDate: row.startDate,
      endDate: row.endDate,
      active: row.active,
      eligibility: row.eligibility,
      raw: row.raw,
      prices: pricesByOffer.get(row.appleId) ?? [],
      removedAt: row.removedAt,
    })),
    localizations: localizationRows.map((row) => ({
      appleId: row.appleId,
      locale: row.locale,
      name: row.name,
      description: row.description,
      state: row.state,
      raw: row.raw,
      removedAt: row.removedAt,
    })),
    availability: availability
      ? {
          appleId: availability.appleId,
          availableInNewTerritories: availability.availableInNewTerritories,
          territories: [...availability.territories].sort(),
          removedAt: availability.removedAt,
        }
      : null,
  };
}

/** The metadata records (live and removed) of a product or group. */
export async function loadStoredMetadata(
  db: Db,
  projectId: string,
  ownerAppleId: string,
): Promise<StoredMetadata[]> {
  const rows = await db
    .select()
    .from(detailMetadata)
    .where(and(eq(detailMetadata.projectId, projectId), eq(detailMetadata.ownerAppleId, ownerAppleId)));
  return rows.map((row) => ({
    kind: row.kind as MetadataKind,
    appleId: row.appleId,
    state: row.state,
    version: row.version,
    label: row.label,
    attributes: row.attributes,
    removedAt: row.removedAt,
  }));
}

async function writeMetadata(
  tx: Db,
  projectId: string,
  owner: string,
  at: string,
  changes: Change<DetailMetadata>[],
) {
  const upserts = present(changes);
  if (upserts.length > 0) {
    await tx.execute(sql`
      insert into detail_metadata
        (project_id, owner_apple_id, kind, apple_id, state, version, label, attributes, first_seen_at, updated_at, removed_at)
      select ${projectId}, ${owner}, x.kind, x."appleId", x.state, x.version, x.label, x.attributes,
             ${ts(at)}, ${ts(at)}, null
        from jsonb_to_recordset(${jsonb(upserts)}) as x(
          kind text, "appleId" text, state text, version integer, label text, attributes jsonb)
      on conflict (project_id, kind, apple_id) do update set
        owner_apple_id = excluded.owner_apple_id, state = excluded.state, version = excluded.version,
        label = excluded.label, attributes = excluded.attributes, updated_at = excluded.updated_at,
        removed_at = null`);
  }
  const gone = removed(changes).map((m) => ({ kind: m.kind, appleId: m.appleId }));
  if (gone.length > 0) {
    await tx.execute(sql`
      update detail_metadata d set removed_at = ${ts(at)}, updated_at = ${ts(at)}
        from jsonb_to_recordset(${jsonb(gone)}) as x(kind text, "appleId" text)
       where d.project_id = ${projectId} and d.kind = x.kind and d.apple_id = x."appleId"`);
  }
}

/**
 * Records what the refresh schedules by: when the owner's details last changed, the next day a
 * scheduled price takes effect (null: none scheduled), and (groups) when they were read.
 */
async function writeSchedule(
  tx: Db,
  projectId: string,
  owner: string,
  at: string,
  input: { changed: boolean; nextChangeOn?: string | null; read?: boolean },
) {
  const next = input.nextChangeOn === undefined ? null : input.nextChangeOn;
  await tx.execute(sql`
    insert into detail_schedule (project_id, owner_apple_id, read_at, changed_at, next_change_on)
    values (${projectId}, ${owner}, ${input.read ? ts(at) : null}, ${input.changed ? ts(at) : null}, ${next})
    on conflict (project_id, owner_apple_id) do update set
      read_at = coalesce(excluded.read_at, detail_schedule.read_at),
      changed_at = coalesce(excluded.changed_at, detail_schedule.changed_at),
      next_change_on = ${input.nextChangeOn === undefined ? sql`detail_schedule.next_change_on` : sql`excluded.next_change_on`}`);
}

/** The first start date after `today` among the prices: when the product's price next changes. */
export function nextPriceChange(prices: readonly DetailPrice[], today: string): string | null {
  let next: string | null = null;
  for (const price of prices) {
    const start = price.startDate;
    if (start !== null && start > today && (next === null || start < next)) next = start;
  }
  return next;
}

const present = <T>(changes: readonly Change<T>[]): T[] =>
  changes.filter((c) => c.action !== 'removed' && c.after !== null).map((c) => c.after as T);
const removed = <T>(changes: readonly Change<T>[]): T[] =>
  changes.filter((c) => c.action === 'removed' && c.before !== null).map((c) => c.before as T);

async function writeTerritories(tx: Db, details: ProductDetails, at: string) {
  if (details.territories.length === 0) return;
  await tx.execute(sql`
    insert into territories (id, currency, updated_at)
    select x.id, x.currency, ${ts(at)} from jsonb_to_recordset(${jsonb(details.territories)}) as x(id text, currency text)
    on conflict (id) do update set currency = excluded.currency, updated_at = excluded.updated_at
     where territories.currency is distinct from excluded.currency`);
}

async function writePrices(
  tx: Db,
  projectId: string,
  product: string,
  at: string,
  changes: Change<DetailPrice>[],
) {
  const upserts = present(changes);
  if (upserts.length > 0) {
    await tx.execute(sql`
      insert into product_prices
        (project_id, product_apple_id, territory, apple_id, start_date, end_date, preserved, source, plan_type,
         price_point_id, currency, customer_price, proceeds, proceeds_year2, first_seen_at, updated_at, removed_at)
      select ${projectId}, ${product}, x.territory, x."appleId", x."startDate", x."endDate", x.preserved, x.source,
             x."planType", x."pricePointId", x.currency, x."customerPrice", x.proceeds, x."proceedsYear2",
             ${ts(at)}, ${ts(at)}, null
        from jsonb_to_recordset(${jsonb(upserts)}) as x(
          territory text, "appleId" text, "startDate" date, "endDate" date, preserved boolean, source text,
          "planType" text, "pricePointId" text, currency text, "customerPrice" numeric, proceeds numeric,
          "proceedsYear2" numeric)
      on conflict (project_id, product_apple_id, territory, coalesce(start_date, '-infinity'::date)) do update set
        apple_id = excluded.apple_id, end_date = excluded.end_date, preserved = excluded.preserved,
        source = excluded.source, plan_type = excluded.plan_type, price_point_id = excluded.price_point_id,
        currency = excluded.currency, customer_price = excluded.customer_price, proceeds = excluded.proceeds,
        proceeds_year2 = excluded.proceeds_year2, updated_at = excluded.updated_at, removed_at = null`);
  }
  const gone = removed(changes);
  if (gone.length > 0) {
    await tx.execute(sql`
      update product_prices p set removed_at = ${ts(at)}, updated_at = ${ts(at)}
        from jsonb_to_recordset(${jsonb(gone)}) as x(territory text, "startDate" date)
       where p.project_id = ${projectId} and p.product_apple_id = ${product} and p.territory = x.territory
         and p.start_date is not distinct from x."startDate"`);
  }
}

async function writeOffers(
  tx: Db,
  projectId: string,
  product: string,
  at: string,
  changes: Change<DetailOffer>[],
) {
  const upserts = present(changes);
  if (upserts.length > 0) {
    await tx.execute(sql`
      insert into product_offers
        (project_id, apple_id, product_apple_id, kind, territory, name, offer_mode, duration, number_of_periods,
         start_date, end_date, active, eligibility, raw, first_seen_at, updated_at, removed_at)
      select ${projectId}, x."appleId", ${product}, x.kind, x.territory, x.name, x."offerMode", x.duration,
             x."numberOfPeriods", x."startDate", x."endDate", x.active, x.eligibility, x.raw,
             ${ts(at)}, ${ts(at)}, null
        from jsonb_to_recordset(${jsonb(upserts)}) as x(
          "appleId" text, kind text, territory text, name text, "offerMode" text, duration text,
          "numberOfPeriods" integer, "startDate" date, "endDate" date, active boolean, eligibility jsonb, raw jsonb)
      on conflict (project_id, apple_id) do update set
        product_apple_id = excluded.product_apple_id, kind = excluded.kind, territory = excluded.territory,
        name = excluded.name, offer_mode = excluded.offer_mode, duration = excluded.duration,
        number_of_periods = excluded.number_of_periods, start_date = excluded.start_date,
        end_date = excluded.end_date, active = excluded.active, eligibility = excluded.eligibility,
        raw = excluded.raw, updated_at = excluded.updated_at, removed_at = null`);
    const priceRows = upserts.flatMap((offer) =>
      offer.prices.map((price) => ({ offer: offer.appleId, ...price })),
    );
    if (priceRows.length > 0) {
      await tx.execute(sql`
        insert into offer_prices
          (project_id, offer_apple_id, territory, price_point_id, currency, customer_price, proceeds, proceeds_year2,
           updated_at, removed_at)
        select ${projectId}, x.offer, x.territory, x."pricePointId", x.currency, x."customerPrice", x.proceeds,
               x."proceedsYear2", ${ts(at)}, null
          from jsonb_to_recordset(${jsonb(priceRows)}) as x(
            offer text, territory text, "pricePointId" text, currency text, "customerPrice" numeric,
            proceeds numeric, "proceedsYear2" numeric)
        on conflict (project_id, offer_apple_id, territory) do update set
          price_point_id = excluded.price_point_id, currency = excluded.currency,
          customer_price = excluded.customer_price, proceeds = excluded.proceeds,
          proceeds_year2 = excluded.proceeds_year2, updated_at = excluded.updated_at, removed_at = null`);
    }
    // Territories an updated offer is no longer priced in.
    const kept = upserts.map((offer) => ({
      offer: offer.appleId,
      territories: offer.prices.map((p) => p.territory),
    }));
    await tx.execute(sql`
      update offer_prices op set removed_at = ${ts(at)}, updated_at = ${ts(at)}
        from jsonb_to_recordset(${jsonb(kept)}) as x(offer text, territories jsonb)
       where op.project_id = ${projectId} and op.offer_apple_id = x.offer and op.removed_at is null
         and not (x.territories ? op.territory)`);
  }
  const gone = removed(changes).map((offer) => offer.appleId);
  if (gone.length > 0) {
    await tx.execute(sql`
      update product_offers set removed_at = ${ts(at)}, updated_at = ${ts(at)}
       where project_id = ${projectId} and apple_id in (select jsonb_array_elements_text(${jsonb(gone)}))`);
    await tx.execute(sql`
      update offer_prices set removed_at = ${ts(at)}, updated_at = ${ts(at)}
       where project_id = ${projectId} and removed_at is null
         and offer_apple_id in (select jsonb_array_elements_text(${jsonb(gone)}))`);
  }
}

async function writeLocalizations(
  tx: Db,
  projectId: string,
  product: string,
  at: string,
  changes: Change<DetailLocalization>[],
) {
  const upserts = present(changes);
  if (upserts.length > 0) {
    await tx.execute(sql`
      insert into product_localizations
        (project_id, apple_id, product_apple_id, locale, name, description, state, raw, first_seen_at, updated_at, removed_at)
      select ${projectId}, x."appleId", ${product}, x.locale, x.name, x.description, x.state, x.raw,
             ${ts(at)}, ${ts(at)}, null
        from jsonb_to_recordset(${jsonb(upserts)}) as x(
          "appleId" text, locale text, name text, description text, state text, raw jsonb)
      on conflict (project_id, apple_id) do update set
        product_apple_id = excluded.product_apple_id, locale = excluded.locale, name = excluded.name,
        description = excluded.description, state = excluded.state, raw = excluded.raw,
        updated_at = excluded.updated_at, removed_at = null`);
  }
  const gone = removed(changes).map((l) => l.appleId);
  if (gone.length > 0) {
    await tx.execute(sql`
      update product_localizations set removed_at = ${ts(at)}, updated_at = ${ts(at)}
       where project_id = ${projectId} and apple_id in (select jsonb_array_elements_text(${jsonb(gone)}))`);
  }
}

async function writeAvailability(
  tx: Db,
  projectId: string,
  product: string,
  at: string,
  change: Change<DetailAvailability> | null,
) {
  if (change === null) return;
  if (change.action === 'removed' || change.after === null) {
    await tx
      .update(productAvailability)
      .set({ removedAt: new Date(at), updatedAt: new Date(at) })
      .where(
        and(eq(productAvailability.projectId, projectId), eq(productAvailability.productAppleId, product)),
      );
    return;
  }
  const a = change.after;
  await tx
    .insert(productAvailability)
    .values({
      projectId,
      productAppleId: product,
      appleId: a.appleId,
      availableInNewTerritories: a.availableInNewTerritories,
      territories: a.territories,
      updatedAt: new Date(at),
      removedAt: null,
    })
    .onConflictDoUpdate({
      target: [productAvailability.projectId, productAvailability.productAppleId],
      set: {
        appleId: a.appleId,
        availableInNewTerritories: a.availableInNewTerritories,
        territories: a.territories,
        updatedAt: new Date(at),
        removedAt: null,
      },
    });
}

async function appendChanges(tx: Db, projectId: string, runId: string, at: string, diff: DetailsDiff) {
  const all = [
    ...diff.prices,
    ...diff.offers,
    ...diff.localizations,
    ...(diff.availability ? [diff.availability] : []),
    ...diff.metadata,
  ] as Change<unknown>[];
  await appendChangeRows(tx, { projectId, runId, at }, all);
}

export interface ApplyDetailsOutcome {
  at: Date;
  diff: DetailsDiff;
  counts: Record<string, number>;
  unchanged: boolean;
}

/**
 * Lock the product, diff against what is stored (with the database's clock and date, so
 * "scheduled" and "started" agree with the stamps), write everything, record the read.
 * Must run inside a transaction.
 */
export async function applyProductDetails(
  tx: Db,
  input: { projectId: string; runId: string; details: ProductDetails; requests: number },
): Promise<ApplyDetailsOutcome> {
  const { projectId, runId, details } = input;
  const product = details.productAppleId;
  await tx.execute(
    sql`select pg_advisory_xact_lock(${DETAILS_LOCK_NAMESPACE}, hashtext(${`${projectId}/${product}`}))`,
  );
  const [clock] = rowsOf<{ at: string; today: string }>(
    await tx.execute(
      sql`select to_json(clock_timestamp()) #>> '{}' as at, to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD') as today`,
    ),
  );
  if (!clock) throw new Error('clock query returned no row');
  const stored = await loadStoredDetails(tx, projectId, product);
  const diff = diffDetails(stored, details, clock.today);
  await writeTerritories(tx, details, clock.at);
  if (!isEmptyDetailsDiff(diff)) {
    await writePrices(tx, projectId, product, clock.at, diff.prices);
    await writeOffers(tx, projectId, product, clock.at, diff.offers);
    await writeLocalizations(tx, projectId, product, clock.at, diff.localizations);
    await writeAvailability(tx, projectId, product, clock.at, diff.availability);
    await writeMetadata(tx, projectId, product, clock.at, diff.metadata);
    await appendChanges(tx, projectId, runId, clock.at, diff);
  }
  // A first read adds everything: that is not a change of the product (it would make every new
  // product "recently changed" and re-read four times as often).
  const readBefore =
    stored.prices.length + stored.offers.length + stored.localizations.length + stored.metadata.length > 0 ||
    stored.availability !== null;
  await writeSchedule(tx, projectId, product, clock.at, {
    changed: readBefore && !isEmptyDetailsDiff(diff),
    nextChangeOn: nextPriceChange(details.prices, clock.today),
  });
  await tx.execute(sql`
    update products set details_read_at = ${ts(clock.at)}, details_requests = ${input.requests}
     where project_id = ${projectId} and apple_id = ${product}`);
  return {
    at: new Date(clock.at),
    diff,
    counts: countDetailChanges(diff),
    unchanged: isEmptyDetailsDiff(diff),
  };
}

export interface ApplyGroupOutcome {
  at: Date;
  changes: Change<DetailMetadata>[];
  counts: Record<string, number>;
}

/** A subscription group's metadata, like a product's details: locked, diffed, written, logged. */
export async function applyGroupDetails(
  tx: Db,
  input: { projectId: string; runId: string; details: GroupDetails },
): Promise<ApplyGroupOutcome> {
  const { projectId, runId, details } = input;
  const group = details.groupAppleId;
  await tx.execute(
    sql`select pg_advisory_xact_lock(${DETAILS_LOCK_NAMESPACE}, hashtext(${`${projectId}/${group}`}))`,
  );
  const [clock] = rowsOf<{ at: string }>(
    await tx.execute(sql`select to_json(clock_timestamp()) #>> '{}' as at`),
  );
  if (!clock) throw new Error('clock query returned no row');
  const stored = await loadStoredMetadata(tx, projectId, group);
  const changes = diffMetadata(stored, details.metadata, details.partialKinds);
  if (changes.length > 0) {
    await writeMetadata(tx, projectId, group, clock.at, changes);
    await appendChangeRows(tx, { projectId, runId, at: clock.at }, changes as Change<unknown>[]);
  }
  await writeSchedule(tx, projectId, group, clock.at, { changed: changes.length > 0, read: true });
  return { at: new Date(clock.at), changes, counts: countChanges(changes as Change<unknown>[]) };
}
