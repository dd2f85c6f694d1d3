/*
 * How many App Store Connect requests reading one product's details needs, as a pure function
 * of the product's shape. `fetchProductDetails` (fetch.ts) makes exactly this many; the
 * integration tests assert it against the simulator's per-product accounting.
 */

/** Apple caps an included to-many relationship at 50 (`limit[rel]`). */
export const DETAIL_INCLUDED_LIMIT = 50;
/** The largest `limit` of the detail collections (prices, offers, territories). */
export const DETAIL_PAGE_LIMIT = 200;

export interface DetailShape {
  kind: 'subscription' | 'iap';
  /** Subscriptions: price records (one per territory and start date). IAPs: manual prices. */
  priceRecords: number;
  /** IAPs: automatic (equalized) prices; 0 for subscriptions. */
  automaticPrices: number;
  /** IAPs: whether the product has a price schedule at all. */
  hasPriceSchedule: boolean;
  /** Subscriptions: introductory offer records (Apple has one per territory). */
  introductoryRecords: number;
  /** Whether any introductory record carries a price point (pay as you go / up front). */
  introductoryPaid: boolean;
  /** Promotional offers, offer codes, win-back offers (IAPs: offer codes only). */
  promotionalOffers: number;
  offerCodes: number;
  winBackOffers: number;
  /** For every promotional offer, offer code and win-back offer: territories it is priced in. */
  offerTerritories: number[];
  locales: number;
  /** Territories of the product's availability; null when it has none (Apple: 404). */
  availabilityTerritories: number | null;
}

const pages = (n: number) => Math.ceil(n / DETAIL_PAGE_LIMIT);
/** A collection read in full costs its pages, and at least one (only reading it tells it is empty). */
const atLeastOnePage = (n: number) => Math.max(1, pages(n));
/** A relationship the product request included: a follow-up only when it hit the cap. */
const overflow = (n: number) => (n > DETAIL_INCLUDED_LIMIT ? pages(n) : 0);

/**
 * The fewest detail requests for one product:
 *
 * Subscription:
 *   1                          GET /v1/subscriptions/{id} including localizations, the four offer
 *                              kinds, the availability and prices (limit 1: only for the total)
 * + (prices > 0 ? ⌈prices/200⌉)   …/prices?include=subscriptionPricePoint,territory
 * + introductory records > 0 and (> 50 or any paid) ? ⌈records/200⌉   …/introductoryOffers with price points
 * + per offer kind: (count > 50 ? ⌈count/200⌉)   the kind's own listing when the include was capped
 * + Σ over promotional / offer-code / win-back offers of max(1, ⌈territories/200⌉)   …/{offer}/prices
 * + (locales > 50 ? ⌈locales/200⌉)   the localizations listing
 * + (availability ? max(1, ⌈territories/200⌉))   …/availableTerritories
 *
 * IAP: 1 (GET /v2/inAppPurchases/{id} including localizations, price schedule, availability,
 * offer codes) + (schedule ? max(1, ⌈manual/200⌉) + max(1, ⌈automatic/200⌉)) + offer codes as
 * above + localizations and availability as above.
 *
 * The 4.x metadata — versions (with their state), plan availabilities, the promoted purchase,
 * the review screenshot and images, present or missing — costs nothing more: all of it is
 * included in the product request (to-ones, and to-manys of at most 50 by the include cap; the
 * spec has no listing of its own for any of them, so there is no follow-up to make).
 *
 * Why no plan can do better (reading one product's details):
 * - Amounts (customerPrice, proceeds, proceedsYear2) live only on price points, and a price
 *   point comes along only with the listing of the prices that use it (nested includes such as
 *   `prices.subscriptionPricePoint` are not in the spec; the product's pricePoints listing is
 *   every tier of every territory, ~800 × 175). So every priced collection — the product's
 *   prices, paid introductory records, each offer's prices — must be listed once, in ⌈n/200⌉
 *   cursor-paged requests; a free introductory offer of ≤ 50 records has no price point to
 *   read, so its included records suffice.
 * - Everything that needs no amounts (localizations, offer attributes, the availability's id
 *   and flag, the prices' total) rides on the one product request, up to the include cap of 50
 *   per relationship; past the cap there is no offset to continue from, so the whole listing is
 *   read instead.
 * - An offer's prices hang off the offer (Apple has no "all offer prices of a product"
 *   listing), so each offer costs at least its own request, however few territories it has.
 * - The availability's territories are not includable on the product (nested), so they cost
 *   their own listing; no availability (linkage null) costs nothing.
 */
export function detailRequestLowerBound(shape: DetailShape): number {
  const offerPrices = shape.offerTerritories.reduce((sum, n) => sum + atLeastOnePage(n), 0);
  const common =
    1 +
    offerPrices +
    overflow(shape.offerCodes) +
    overflow(shape.locales) +
    (shape.availabilityTerritories === null ? 0 : atLeastOnePage(shape.availabilityTerritories));
  if (shape.kind === 'iap') {
    const schedule = shape.hasPriceSchedule
      ? atLeastOnePage(shape.priceRecords) + atLeastOnePage(shape.automaticPrices)
      : 0;
    return common + schedule;
  }
  const prices = shape.priceRecords > 0 ? pages(shape.priceRecords) : 0;
  const introductory =
    shape.introductoryRecords > 0 &&
    (shape.introductoryRecords > DETAIL_INCLUDED_LIMIT || shape.introductoryPaid)
      ? pages(shape.introductoryRecords)
      : 0;
  return common + prices + introductory + overflow(shape.promotionalOffers) + overflow(shape.winBackOffers);
}

/** A subscription group's shape: its localizations and versions (read once per group). */
export interface GroupShape {
  locales: number;
  versions: number;
}

/**
 * The fewest requests for a subscription group's metadata: 1 (GET /v1/subscriptionGroups/{id}
 * including its localizations and versions) + (locales > 50 ? ⌈locales/200⌉) for the group's
 * localization listing. Versions past 50 have no listing in the spec: none is read.
 * Why no plan can do better: the localizations are not includable on the product (nested) nor
 * on the app's group listing without reading the group listing again, so the group costs one
 * request of its own — once per group, however many subscriptions it has.
 */
export function groupRequestLowerBound(shape: GroupShape): number {
  return 1 + overflow(shape.locales);
}

/** A rough cost before a product's shape is known (refresh.ts reserves this much budget). */
export function estimatedDetailRequests(kind: 'subscription' | 'iap', previous?: DetailShape): number {
  if (previous) return detailRequestLowerBound(previous);
  return kind === 'iap' ? 4 : 6;
}
