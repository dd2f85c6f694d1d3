import { and, asc, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import {
  detailMetadata,
  detailSchedule,
  environments,
  offerPrices,
  productAvailability,
  productLocalizations,
  productOffers,
  productPrices,
  products,
  renewalKinds,
} from '../../db/schema.ts';
import { dayOf, effectiveSpans, offersInForceAt, priceInForceAt } from '../details/attribute.ts';
import {
  catalogHealthIssues,
  countHealthIssues,
  type HealthIssue,
  type HealthIssueKind,
} from '../details/health.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { requireProject as requireProjectRow } from '../projects/store.ts';
import { rulesAt } from '../sync/queries.ts';
import type { DataContext } from './context.ts';

/*
 * Application operations for catalog details: the attribution query, prices and
 * offers, and the catalog's health. Each takes (ctx, input) and returns plain JSON-able data;
 * the CLI, the public API and the worker only translate.
 */

type AppContext = DataContext;

const territoryInput = z
  .string()
  .trim()
  .transform((t) => t.toUpperCase())
  .pipe(z.string().regex(/^[A-Z]{3}$/, 'must be a territory code of three letters, such as USA, GBR or DEU'));

const dateInput = z.union([z.date(), z.string()]).transform((value, ctx) => {
  const date = value instanceof Date ? value : new Date(value.trim());
  if (Number.isNaN(date.getTime())) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an ISO date or date-time, such as 2026-03-01T12:00:00Z',
    });
    return z.NEVER;
  }
  return date;
});

function parse<T extends z.ZodType>(schema: T, value: unknown, field: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidInputError(field, parsed.error.issues[0]?.message ?? 'is not valid');
  return parsed.data;
}

async function requireProject(ctx: AppContext, projectIdInput: string): Promise<string> {
  return (await requireProjectRow(ctx, projectIdInput)).id;
}

/** A product by its product id (`com.example.pro.monthly`) or its Apple id. */
async function requireProduct(ctx: AppContext, projectId: string, product: string) {
  const [row] = await ctx.db
    .select()
    .from(products)
    .where(
      and(
        eq(products.projectId, projectId),
        or(eq(products.productId, product), eq(products.appleId, product)),
      ),
    );
  if (!row) {
    throw new NotFoundError(
      `Project ${projectId} has no product ${JSON.stringify(product)} (by product id or Apple id). ` +
        `List them with \`catalog-sync products ${projectId}\`.`,
    );
  }
  return row;
}

const priceColumns = {
  productAppleId: productPrices.productAppleId,
  territory: productPrices.territory,
  startDate: productPrices.startDate,
  endDate: productPrices.endDate,
  preserved: productPrices.preserved,
  source: productPrices.source,
  planType: productPrices.planType,
  currency: productPrices.currency,
  customerPrice: productPrices.customerPrice,
  proceeds: productPrices.proceeds,
  proceedsYear2: productPrices.proceedsYear2,
  pricePointId: productPrices.pricePointId,
  removedAt: productPrices.removedAt,
};

export interface PriceRow {
  productId: string;
  productAppleId: string;
  territory: string;
  currency: string | null;
  customerPrice: string | null;
  proceeds: string | null;
  proceedsYear2: string | null;
  /** First day in force (null: since first priced). */
  from: string | null;
  /** The day it stops being in force (exclusive), null while it lasts. */
  until: string | null;
  source: string;
  preserved: boolean | null;
  planType: string | null;
  scheduled: boolean;
}

export interface ListPricesInput {
  projectId: string;
  productId?: string | undefined;
  territory?: string | undefined;
  /** Only the version in force at this time, per product and territory. */
  at?: Date | string | undefined;
}

/** Prices and proceeds: every version (past, current, scheduled), or the ones in force at `at`. */
export async function listPrices(
  ctx: AppContext,
  input: ListPricesInput,
): Promise<{ projectId: string; prices: PriceRow[] }> {
  const projectId = await requireProject(ctx, input.projectId);
  const territory =
    input.territory === undefined ? undefined : parse(territoryInput, input.territory, 'territory');
  const at = input.at === undefined ? undefined : parse(dateInput, input.at, 'at');
  const product =
    input.productId === undefined ? undefined : await requireProduct(ctx, projectId, input.productId);
  const rows = await ctx.db
    .select({ ...priceColumns, productId: products.productId })
    .from(productPrices)
    .innerJoin(
      products,
      and(
        eq(products.projectId, productPrices.projectId),
        eq(products.appleId, productPrices.productAppleId),
      ),
    )
    .where(
      and(
        eq(productPrices.projectId, projectId),
        product ? eq(productPrices.productAppleId, product.appleId) : undefined,
        territory ? eq(productPrices.territory, territory) : undefined,
      ),
    )
    .orderBy(
      asc(products.productId),
      asc(productPrices.territory),
      sql`${productPrices.startDate} nulls first`,
    );
  const groups = new Map<string, typeof rows>();
  for (const row of rows) {
    const key = `${row.productAppleId}/${row.territory}`;
    const list = groups.get(key) ?? [];
    list.push(row);
    groups.set(key, list);
  }
  const today = dayOf(new Date());
  const out: PriceRow[] = [];
  for (const versions of groups.values()) {
    const spans = at ? [priceInForceAt(versions, at)].filter((s) => s !== null) : effectiveSpans(versions);
    for (const { version, from, until } of spans) {
      out.push({
        productId: version.productId,
        productAppleId: version.productAppleId,
        territory: version.territory,
        currency: version.currency,
        customerPrice: version.customerPrice,
        proceeds: version.proceeds,
        proceedsYear2: version.proceedsYear2,
        from,
        until,
        source: version.source,
        preserved: version.preserved,
        planType: version.planType,
        scheduled: from !== null && from > today,
      });
    }
  }
  return { projectId, prices: out };
}

export interface OfferRow {
  appleId: string;
  productId: string;
  productAppleId: string;
  kind: string;
  territory: string | null;
  name: string | null;
  offerMode: string | null;
  duration: string | null;
  numberOfPeriods: number | null;
  startDate: string | null;
  endDate: string | null;
  active: boolean | null;
  eligibility: Record<string, unknown>;
  /** Per territory; null amounts: free. */
  prices: Array<{
    territory: string;
    currency: string | null;
    customerPrice: string | null;
    proceeds: string | null;
  }>;
  removedAt: Date | null;
}

async function loadOffers(ctx: AppContext, projectId: string, productAppleId?: string): Promise<OfferRow[]> {
  const offers = await ctx.db
    .select({
      appleId: productOffers.appleId,
      productId: products.productId,
      productAppleId: productOffers.productAppleId,
      kind: productOffers.kind,
      territory: productOffers.territory,
      name: productOffers.name,
      offerMode: productOffers.offerMode,
      duration: productOffers.duration,
      numberOfPeriods: productOffers.numberOfPeriods,
      startDate: productOffers.startDate,
      endDate: productOffers.endDate,
      active: productOffers.active,
      eligibility: productOffers.eligibility,
      removedAt: productOffers.removedAt,
      firstSeenAt: productOffers.firstSeenAt,
    })
    .from(productOffers)
    .innerJoin(
      products,
      and(
        eq(products.projectId, productOffers.projectId),
        eq(products.appleId, productOffers.productAppleId),
      ),
    )
    .where(
      and(
        eq(productOffers.projectId, projectId),
        productAppleId ? eq(productOffers.productAppleId, productAppleId) : undefined,
      ),
    )
    .orderBy(asc(products.productId), asc(productOffers.kind), asc(productOffers.appleId));
  const prices = await ctx.db
    .select({
      offerAppleId: offerPrices.offerAppleId,
      territory: offerPrices.territory,
      currency: offerPrices.currency,
      customerPrice: offerPrices.customerPrice,
      proceeds: offerPrices.proceeds,
    })
    .from(offerPrices)
    .where(and(eq(offerPrices.projectId, projectId), isNull(offerPrices.removedAt)))
    .orderBy(asc(offerPrices.offerAppleId), asc(offerPrices.territory));
  const byOffer = new Map<string, OfferRow['prices']>();
  for (const { offerAppleId, ...price } of prices) {
    const list = byOffer.get(offerAppleId) ?? [];
    list.push(price);
    byOffer.set(offerAppleId, list);
  }
  return offers.map(({ firstSeenAt: _firstSeenAt, ...offer }) => ({
    ...offer,
    prices: byOffer.get(offer.appleId) ?? [],
  }));
}

/** Offers of every kind, with their prices per territory; removed ones last-seen with `removedAt`. */
export async function listOffers(
  ctx: AppContext,
  input: { projectId: string },
): Promise<{ projectId: string; offers: OfferRow[] }> {
  const projectId = await requireProject(ctx, input.projectId);
  return { projectId, offers: await loadOffers(ctx, projectId) };
}

export interface MetadataRow {
  /** The product's or subscription group's Apple id. */
  ownerAppleId: string;
  kind: string;
  appleId: string;
  state: string | null;
  version: number | null;
  /** Plan type of a plan availability; locale of a group localization. */
  label: string | null;
  attributes: Record<string, unknown>;
  firstSeenAt: string;
  updatedAt: string;
}

export interface ProductMetadata {
  projectId: string;
  productId: string;
  productAppleId: string;
  /** The latest version that App Store Connect shows customers (APPROVED), if any. */
  live: MetadataRow | null;
  /** Versions after the live one that are not approved yet (in preparation or in review). */
  pending: MetadataRow[];
  /** The product's live metadata records and its subscription group's. */
  records: MetadataRow[];
}

/**
 * A product's 4.x metadata (src/details/model.ts metadataKinds): what is live and what waits
 * for review, its plan availabilities, promoted purchase, review screenshot, images, and its
 * subscription group's localizations and versions.
 */
export async function productMetadata(
  ctx: AppContext,
  input: { projectId: string; productId: string },
): Promise<ProductMetadata> {
  const projectId = await requireProject(ctx, input.projectId);
  const product = await requireProduct(ctx, projectId, input.productId);
  const owners = product.groupAppleId ? [product.appleId, product.groupAppleId] : [product.appleId];
  const rows = await ctx.db
    .select()
    .from(detailMetadata)
    .where(
      and(
        eq(detailMetadata.projectId, projectId),
        inArray(detailMetadata.ownerAppleId, owners),
        isNull(detailMetadata.removedAt),
      ),
    )
    .orderBy(
      asc(detailMetadata.ownerAppleId),
      asc(detailMetadata.kind),
      asc(detailMetadata.version),
      asc(detailMetadata.appleId),
    );
  const records: MetadataRow[] = rows.map((row) => ({
    ownerAppleId: row.ownerAppleId,
    kind: row.kind,
    appleId: row.appleId,
    state: row.state,
    version: row.version,
    label: row.label,
    attributes: row.attributes,
    firstSeenAt: row.firstSeenAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }));
  const versions = records.filter((r) => r.kind === 'version' && r.ownerAppleId === product.appleId);
  const live = versions.filter((v) => v.state === 'APPROVED').at(-1) ?? null;
  const pending = versions.filter(
    (v) => (live === null || (v.version ?? 0) > (live.version ?? 0)) && v.state !== 'APPROVED',
  );
  return {
    projectId,
    productId: product.productId,
    productAppleId: product.appleId,
    live,
    pending,
    records,
  };
}

export interface AttributeInput {
  projectId: string;
  /** Product id (`com.example.pro.monthly`) or Apple id. */
  productId: string;
  territory: string;
  at: Date | string;
  environment?: (typeof environments)[number] | undefined;
  renewal?: (typeof renewalKinds)[number] | undefined;
}

export interface Attribution {
  projectId: string;
  productId: string;
  productAppleId: string;
  territory: string;
  at: string;
  environment: string;
  renewal: string;
  /** Null when the product was not priced in that territory then (or its details were never read). */
  price: {
    currency: string | null;
    customerPrice: string | null;
    from: string | null;
    until: string | null;
    source: string;
    preserved: boolean | null;
  } | null;
  proceeds: { firstYear: string | null; afterFirstYear: string | null } | null;
  /** The first offer in force (introductory before the others), and all of them. */
  offer: (Omit<OfferRow, 'prices' | 'removedAt'> & { price: OfferRow['prices'][number] | null }) | null;
  offers: Array<Omit<OfferRow, 'prices' | 'removedAt'> & { price: OfferRow['prices'][number] | null }>;
  /** The grace-period rule for this environment and renewal kind in force at `at`. */
  rule: {
    graceDays: number;
    recoveredRevenueDatedTo: string;
    accessDuringGrace: boolean;
    unrecoveredChurnAt: string;
    effectiveFrom: string;
    effectiveTo: string | null;
  } | null;
  detailsReadAt: string | null;
}

/**
 * For a transaction or renewal at `at`: the price in force (currency, customer price), the
 * proceeds (first year and after), the offer in force if any, and the grace-period rule.
 */
export async function attribute(ctx: AppContext, input: AttributeInput): Promise<Attribution> {
  const projectId = await requireProject(ctx, input.projectId);
  if (!input.productId) throw new InvalidInputError('product', 'is required (a product id or Apple id)');
  const territory = parse(territoryInput, input.territory, 'territory');
  const at = parse(dateInput, input.at, 'at');
  const environment = parse(z.enum(environments), input.environment ?? 'production', 'environment');
  const renewal = parse(z.enum(renewalKinds), input.renewal ?? 'paid_to_paid', 'renewal');
  const product = await requireProduct(ctx, projectId, input.productId);

  const versions = await ctx.db
    .select(priceColumns)
    .from(productPrices)
    .where(
      and(
        eq(productPrices.projectId, projectId),
        eq(productPrices.productAppleId, product.appleId),
        eq(productPrices.territory, territory),
      ),
    );
  const span = priceInForceAt(versions, at);
  const offers = await ctx.db
    .select({
      appleId: productOffers.appleId,
      kind: productOffers.kind,
      territory: productOffers.territory,
      startDate: productOffers.startDate,
      endDate: productOffers.endDate,
      active: productOffers.active,
      removedAt: productOffers.removedAt,
      firstSeenAt: productOffers.firstSeenAt,
    })
    .from(productOffers)
    .where(and(eq(productOffers.projectId, projectId), eq(productOffers.productAppleId, product.appleId)));
  const offerRows = await loadOffers(ctx, projectId, product.appleId);
  const rowsById = new Map(offerRows.map((o) => [o.appleId, o]));
  const inForce = offersInForceAt(
    offers.map((o) => ({
      ...o,
      territories: (rowsById.get(o.appleId)?.prices ?? []).map((p) => p.territory),
    })),
    territory,
    at,
  ).map((o) => {
    const { prices, removedAt: _removedAt, ...row } = rowsById.get(o.appleId)!;
    return { ...row, price: prices.find((p) => p.territory === territory) ?? null };
  });
  const rule = await rulesAt(ctx, projectId, environment, renewal, at);
  return {
    projectId,
    productId: product.productId,
    productAppleId: product.appleId,
    territory,
    at: at.toISOString(),
    environment,
    renewal,
    price: span
      ? {
          currency: span.version.currency,
          customerPrice: span.version.customerPrice,
          from: span.from,
          until: span.until,
          source: span.version.source,
          preserved: span.version.preserved,
        }
      : null,
    proceeds: span
      ? {
          firstYear: span.version.proceeds,
          afterFirstYear: span.version.proceedsYear2 ?? span.version.proceeds,
        }
      : null,
    offer: inForce[0] ?? null,
    offers: inForce,
    rule: rule
      ? {
          graceDays: rule.graceDays,
          recoveredRevenueDatedTo: rule.recoveredRevenueDatedTo,
          accessDuringGrace: rule.accessDuringGrace,
          unrecoveredChurnAt: rule.unrecoveredChurnAt,
          effectiveFrom: rule.effectiveFrom.toISOString(),
          effectiveTo: rule.effectiveTo?.toISOString() ?? null,
        }
      : null,
    detailsReadAt: product.detailsReadAt?.toISOString() ?? null,
  };
}

export interface CatalogHealth {
  projectId: string;
  issues: HealthIssue[];
  counts: Record<HealthIssueKind, number>;
  /** Products whose details are older than the maximum age (or never read), and the oldest read. */
  staleProducts: number;
  oldestDetailsReadAt: string | null;
}

/** What in the stored catalog would hurt revenue or review (src/details/health.ts). */
export async function catalogHealth(
  ctx: AppContext,
  input: { projectId: string; now?: Date },
): Promise<CatalogHealth> {
  const projectId = await requireProject(ctx, input.projectId);
  const now = input.now ?? new Date();
  const productRows = await ctx.db
    .select({
      appleId: products.appleId,
      productId: products.productId,
      kind: products.kind,
      state: products.state,
      detailsReadAt: products.detailsReadAt,
      groupAppleId: products.groupAppleId,
    })
    .from(products)
    .where(and(eq(products.projectId, projectId), isNull(products.removedAt)));
  const prices = await ctx.db
    .select({
      productAppleId: productPrices.productAppleId,
      territory: productPrices.territory,
      startDate: productPrices.startDate,
      endDate: productPrices.endDate,
      removedAt: productPrices.removedAt,
    })
    .from(productPrices)
    .where(eq(productPrices.projectId, projectId));
  const availability = await ctx.db
    .select({
      productAppleId: productAvailability.productAppleId,
      territories: productAvailability.territories,
    })
    .from(productAvailability)
    .where(and(eq(productAvailability.projectId, projectId), isNull(productAvailability.removedAt)));
  const locales = await ctx.db
    .select({ productAppleId: productLocalizations.productAppleId, locale: productLocalizations.locale })
    .from(productLocalizations)
    .where(and(eq(productLocalizations.projectId, projectId), isNull(productLocalizations.removedAt)));
  const offers = await ctx.db
    .select({
      appleId: productOffers.appleId,
      productAppleId: productOffers.productAppleId,
      kind: productOffers.kind,
      territory: productOffers.territory,
      endDate: productOffers.endDate,
      active: productOffers.active,
    })
    .from(productOffers)
    .where(and(eq(productOffers.projectId, projectId), isNull(productOffers.removedAt)));
  const group = <T extends { productAppleId: string }, V>(rows: T[], value: (row: T) => V) => {
    const map = new Map<string, V[]>();
    for (const row of rows) {
      const list = map.get(row.productAppleId) ?? [];
      list.push(value(row));
      map.set(row.productAppleId, list);
    }
    return map;
  };
  // The metadata that names why a product is MISSING_METADATA: review screenshots (with their
  // delivery state) and group localizations, and which owners' metadata was read at all.
  const metadataRows = await ctx.db
    .select({
      productAppleId: detailMetadata.ownerAppleId,
      kind: detailMetadata.kind,
      state: detailMetadata.state,
    })
    .from(detailMetadata)
    .where(
      and(
        eq(detailMetadata.projectId, projectId),
        isNull(detailMetadata.removedAt),
        inArray(detailMetadata.kind, ['review_screenshot', 'group_localization']),
      ),
    );
  const scheduleRows = await ctx.db
    .select({ ownerAppleId: detailSchedule.ownerAppleId })
    .from(detailSchedule)
    .where(eq(detailSchedule.projectId, projectId));
  const issues = catalogHealthIssues({
    now,
    maxAgeMs: ctx.config.details.maxAgeMs,
    products: productRows,
    prices: group(prices, (row) => row),
    availability: new Map(availability.map((a) => [a.productAppleId, a.territories])),
    locales: group(locales, (row) => row.locale),
    offers,
    metadata: group(metadataRows, (row) => ({ kind: row.kind, state: row.state })),
    groups: new Map(
      productRows.flatMap((p) => (p.groupAppleId ? [[p.appleId, p.groupAppleId] as [string, string]] : [])),
    ),
    metadataRead: new Set(scheduleRows.map((row) => row.ownerAppleId)),
  });
  const reads = productRows.map((p) => p.detailsReadAt?.getTime() ?? 0);
  const oldest = productRows.length === 0 ? null : Math.min(...reads);
  return {
    projectId,
    issues,
    counts: countHealthIssues(issues),
    staleProducts: issues.filter((i) => i.kind === 'stale_details').length,
    oldestDetailsReadAt: oldest === null || oldest === 0 ? null : new Date(oldest).toISOString(),
  };
}
