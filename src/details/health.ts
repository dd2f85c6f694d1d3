import { dayOf, type PriceVersion, priceInForceAt } from './attribute.ts';

/*
 * Catalog health (pure): what in the stored catalog would hurt revenue or App Review, listed
 * after each sync and shown in `status`, the API and a metric.
 */

export const healthIssueKinds = [
  'product_state',
  'missing_metadata',
  'unpriced_territories',
  'ended_offer_listed',
  'missing_locales',
  'stale_details',
] as const;
export type HealthIssueKind = (typeof healthIssueKinds)[number];

export interface HealthIssue {
  kind: HealthIssueKind;
  productId: string;
  productAppleId: string;
  message: string;
  /** Territories, locales or offer ids concerned. */
  items: string[];
  /** Why (missing_metadata, unpriced_territories): one of missingMetadataReasons. */
  reason?: MissingMetadataReason;
  /** What to do in App Store Connect, in its words. */
  fix?: string;
}

/**
 * Why a product is MISSING_METADATA (or cannot be bought somewhere it is available), as far as
 * the catalog read tells, and the fix as App Store Connect words it.
 */
export const missingMetadataReasons = [
  'no_localization',
  'no_group_localization',
  'no_review_screenshot',
  'review_screenshot_incomplete',
  'no_price',
  'no_availability',
  'unpriced_territories',
  'unknown',
] as const;
export type MissingMetadataReason = (typeof missingMetadataReasons)[number];

const FIXES: Record<MissingMetadataReason, { what: string; fix: (kind: string) => string }> = {
  no_localization: {
    what: 'has no localization',
    fix: () =>
      'In App Store Connect, open the product and under App Store Localization click Add Localization; enter a Display Name and Description.',
  },
  no_group_localization: {
    what: 'is in a subscription group without a localization',
    fix: () =>
      'In App Store Connect, open the subscription group and under App Store Localization click Add Localization; enter a Subscription Group Display Name.',
  },
  no_review_screenshot: {
    what: 'has no screenshot for review',
    fix: () =>
      'In App Store Connect, open the product and under Review Information upload a Screenshot of the purchase in your app.',
  },
  review_screenshot_incomplete: {
    what: 'has a review screenshot whose upload did not complete',
    fix: () =>
      'In App Store Connect, open the product and under Review Information delete the Screenshot and upload it again.',
  },
  no_price: {
    what: 'has no price',
    fix: (kind) =>
      kind === 'auto_renewable_subscription'
        ? 'In App Store Connect, open the subscription and under Subscription Prices click Add Subscription Price; choose a price for your base country or region.'
        : 'In App Store Connect, open the in-app purchase and under Price Schedule click Add Pricing; choose a price for your base country or region.',
  },
  no_availability: {
    what: 'is not available in any country or region',
    fix: () =>
      'In App Store Connect, open the product and under Availability click Set Up Availability; select the countries or regions.',
  },
  unpriced_territories: {
    what: 'is available where it has no price',
    fix: (kind) =>
      kind === 'auto_renewable_subscription'
        ? 'In App Store Connect, open the subscription and under Subscription Prices click View all Subscription Pricing; set a price for each listed country or region (or remove it under Availability).'
        : 'In App Store Connect, open the in-app purchase and under Price Schedule click Edit; set a price for each listed country or region (or remove it under Availability).',
  },
  unknown: {
    what: 'lacks metadata this worker does not read',
    fix: () =>
      'In App Store Connect, open the product: the fields still missing are marked; complete them and submit the product with your next app version.',
  },
};

/** The fix, in App Store Connect's words, for a reason (any product kind). */
export function fixFor(reason: MissingMetadataReason, kind: string): string {
  return FIXES[reason].fix(kind);
}

export interface HealthInput {
  now: Date;
  maxAgeMs: number;
  products: Array<{
    appleId: string;
    productId: string;
    kind: string;
    state: string;
    detailsReadAt: Date | null;
  }>;
  /** Live (not removed) price versions per product apple id. */
  prices: Map<string, PriceVersion[]>;
  availability: Map<string, string[]>;
  locales: Map<string, string[]>;
  offers: Array<{
    appleId: string;
    productAppleId: string;
    kind: string;
    territory: string | null;
    endDate: string | null;
    active: boolean | null;
  }>;
  /**
   * Live metadata per owner (product or group apple id): review screenshots with their delivery
   * state, group localizations. Absent: the metadata was never read (no reason is guessed from it).
   */
  metadata?: Map<string, Array<{ kind: string; state: string | null }>>;
  /** Products' subscription groups (apple id → group apple id). */
  groups?: Map<string, string>;
  /**
   * Products and groups whose metadata was read (what they lack is known, even when nothing);
   * one read before metadata was read at all names no reason from it.
   */
  metadataRead?: Set<string>;
}

const INCOMPLETE_UPLOADS = new Set(['AWAITING_UPLOAD', 'UPLOAD_COMPLETE', 'FAILED']);

/**
 * The reasons a MISSING_METADATA product lacks what App Review needs, from what was read (pure).
 * Only what the details show is named; with nothing found the reason is `unknown`.
 */
export function missingMetadataReasonsOf(
  product: { appleId: string; kind: string },
  input: Pick<
    HealthInput,
    'prices' | 'availability' | 'locales' | 'metadata' | 'groups' | 'metadataRead' | 'now'
  >,
): Array<{ reason: MissingMetadataReason; items: string[] }> {
  const found: Array<{ reason: MissingMetadataReason; items: string[] }> = [];
  if ((input.locales.get(product.appleId) ?? []).length === 0)
    found.push({ reason: 'no_localization', items: [] });
  const group = input.groups?.get(product.appleId);
  if (group && input.metadataRead?.has(group)) {
    const localized = (input.metadata?.get(group) ?? []).some((m) => m.kind === 'group_localization');
    if (!localized) found.push({ reason: 'no_group_localization', items: [group] });
  }
  const own = input.metadata?.get(product.appleId);
  if (input.metadataRead?.has(product.appleId)) {
    const screenshot = own?.find((m) => m.kind === 'review_screenshot');
    if (!screenshot) found.push({ reason: 'no_review_screenshot', items: [] });
    else if (screenshot.state && INCOMPLETE_UPLOADS.has(screenshot.state))
      found.push({ reason: 'review_screenshot_incomplete', items: [screenshot.state] });
  }
  const prices = input.prices.get(product.appleId) ?? [];
  const priced = prices.some((p) => p.removedAt === null);
  if (!priced) found.push({ reason: 'no_price', items: [] });
  const available = input.availability.get(product.appleId);
  if (!available || available.length === 0) found.push({ reason: 'no_availability', items: [] });
  else if (priced) {
    const unpriced = unpricedTerritories(available, prices, input.now);
    if (unpriced.length > 0) found.push({ reason: 'unpriced_territories', items: unpriced });
  }
  return found.length > 0 ? found : [{ reason: 'unknown', items: [] }];
}

function unpricedTerritories(
  available: readonly string[],
  prices: readonly PriceVersion[],
  now: Date,
): string[] {
  const byTerritory = new Map<string, PriceVersion[]>();
  for (const price of prices) {
    const list = byTerritory.get(price.territory) ?? [];
    list.push(price);
    byTerritory.set(price.territory, list);
  }
  return available.filter((t) => !priceInForceAt(byTerritory.get(t) ?? [], now)).sort();
}

const BAD_STATES = new Set(['MISSING_METADATA', 'REJECTED']);

export function catalogHealthIssues(input: HealthInput): HealthIssue[] {
  const issues: HealthIssue[] = [];
  const today = dayOf(input.now);
  const allLocales = new Set<string>();
  for (const product of input.products)
    for (const locale of input.locales.get(product.appleId) ?? []) allLocales.add(locale);

  for (const product of input.products) {
    const base = { productId: product.productId, productAppleId: product.appleId };
    if (BAD_STATES.has(product.state)) {
      issues.push({
        ...base,
        kind: 'product_state',
        message: `${product.productId} is ${product.state}: it cannot be sold until it is fixed in App Store Connect`,
        items: [product.state],
      });
    }
    if (product.state === 'MISSING_METADATA' && product.detailsReadAt !== null) {
      for (const { reason, items } of missingMetadataReasonsOf(product, input)) {
        const fix = fixFor(reason, product.kind);
        issues.push({
          ...base,
          kind: 'missing_metadata',
          message: `${product.productId} is MISSING_METADATA: it ${FIXES[reason].what}${items.length > 0 && reason === 'unpriced_territories' ? ` (${items.join(', ')})` : ''}. ${fix}`,
          items,
          reason,
          fix,
        });
      }
    }
    const read = product.detailsReadAt;
    if (read === null || input.now.getTime() - read.getTime() > input.maxAgeMs) {
      issues.push({
        ...base,
        kind: 'stale_details',
        message:
          read === null
            ? `${product.productId}: details not read yet`
            : `${product.productId}: details last read ${read.toISOString()}, older than the maximum age`,
        items: [],
      });
    }
    if (read === null) continue;
    // Cannot be bought where it is available: no price in force there (any kind of product).
    const available = input.availability.get(product.appleId);
    if (available) {
      const unpriced = unpricedTerritories(available, input.prices.get(product.appleId) ?? [], input.now);
      if (unpriced.length > 0) {
        const fix = fixFor('unpriced_territories', product.kind);
        issues.push({
          ...base,
          kind: 'unpriced_territories',
          message: `${product.productId} is available in ${unpriced.length} territor${unpriced.length === 1 ? 'y' : 'ies'} without a price, so it cannot be bought there. ${fix}`,
          items: unpriced,
          reason: 'unpriced_territories',
          fix,
        });
      }
    }
    const have = new Set(input.locales.get(product.appleId) ?? []);
    const missing = [...allLocales].filter((l) => !have.has(l)).sort();
    if (missing.length > 0 && have.size > 0) {
      issues.push({
        ...base,
        kind: 'missing_locales',
        message: `${product.productId} has no localization for ${missing.join(', ')} (other products have)`,
        items: missing,
      });
    }
  }

  const productsById = new Map(input.products.map((p) => [p.appleId, p]));
  const ended = new Map<string, string[]>();
  for (const offer of input.offers) {
    const over = (offer.endDate !== null && offer.endDate <= today) || offer.active === false;
    if (!over) continue;
    const list = ended.get(offer.productAppleId) ?? [];
    list.push(offer.appleId);
    ended.set(offer.productAppleId, list);
  }
  for (const [productAppleId, offerIds] of ended) {
    const product = productsById.get(productAppleId);
    if (!product) continue;
    issues.push({
      productId: product.productId,
      productAppleId,
      kind: 'ended_offer_listed',
      message: `${product.productId} still lists ${offerIds.length} ended offer record${offerIds.length === 1 ? '' : 's'}`,
      items: offerIds.sort(),
    });
  }
  return issues.sort(
    (a, b) =>
      healthIssueKinds.indexOf(a.kind) - healthIssueKinds.indexOf(b.kind) ||
      a.productId.localeCompare(b.productId),
  );
}

/** Counts by kind (the metric and the status line). */
export function countHealthIssues(issues: readonly HealthIssue[]): Record<HealthIssueKind, number> {
  const counts = Object.fromEntries(healthIssueKinds.map((k) => [k, 0])) as Record<HealthIssueKind, number>;
  for (const issue of issues) counts[issue.kind]++;
  return counts;
}
