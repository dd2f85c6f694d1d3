import { dayOf, type PriceVersion, priceInForceAt } from './attribute.ts';

/*
 * Catalog health (pure): what in the stored catalog would hurt revenue or App Review, listed
 * after each sync and shown in `status`, the API and a metric.
 */

export const healthIssueKinds = [
  'product_state',
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
    const available = input.availability.get(product.appleId);
    if (product.kind === 'auto_renewable_subscription' && available) {
      const byTerritory = new Map<string, PriceVersion[]>();
      for (const price of input.prices.get(product.appleId) ?? []) {
        const list = byTerritory.get(price.territory) ?? [];
        list.push(price);
        byTerritory.set(price.territory, list);
      }
      const unpriced = available.filter((t) => !priceInForceAt(byTerritory.get(t) ?? [], input.now)).sort();
      if (unpriced.length > 0) {
        issues.push({
          ...base,
          kind: 'unpriced_territories',
          message: `${product.productId} is available in ${unpriced.length} territor${unpriced.length === 1 ? 'y' : 'ies'} without a price`,
          items: unpriced,
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
