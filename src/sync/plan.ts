/*
 * How many App Store Connect requests a full catalog fetch needs, as a pure function of the
 * catalog's shape. `fetchCatalog` (fetch.ts) makes exactly this many; the tests assert it
 * against the simulator's accounting and the benchmarks report it.
 */

/** Apple caps any included to-many relationship (`limit[rel]`) at 50. */
export const INCLUDED_LIMIT = 50;
/** The largest `limit` of the collection endpoints the fetch pages through. */
export const PAGE_LIMIT = 200;

export interface CatalogShape {
  /** In-app purchases (consumable, non-consumable, non-renewing) of the app. */
  iaps: number;
  /** Subscription groups of the app. */
  groups: number;
  /** Subscriptions in each group (length = groups; order does not matter). */
  subscriptionsPerGroup: number[];
}

const pages = (items: number) => Math.ceil(items / PAGE_LIMIT);

/** Requests for a group's subscriptions beyond what the groups listing included. */
const followUpPages = (subscriptions: number) => (subscriptions > INCLUDED_LIMIT ? pages(subscriptions) : 0);

/**
 * The fewest requests that fetch a whole catalog:
 *
 *   1                                       GET /v1/apps/{id} including inAppPurchasesV2 (≤ 50),
 *                                           subscriptionGroups and subscriptionGracePeriod
 * + (iaps > 50 ? ⌈iaps / 200⌉ : 0)          the IAP collection, when the include was capped
 * + (groups > 0 ? ⌈groups / 200⌉ : 0)       the groups collection with subscriptions included
 * + Σ over groups with s > 50 of ⌈s / 200⌉   each capped group's own subscriptions collection
 *
 * Why no plan can do better:
 * - Something must name the app's grace settings and tell whether it has IAPs and groups at all;
 *   the app resource answers all three (and brings up to 50 IAPs) in one request, which is why a
 *   catalog of ≤ 50 IAPs and no group costs exactly 1.
 * - Collections are cursor-paged: page k+1's URL exists only in page k's response, so a
 *   collection of n items costs ⌈n/200⌉ requests however much concurrency is available.
 * - An included to-many relationship stops at 50 items, and there is no offset to ask for
 *   "the rest" of it: once an app has more than 50 IAPs, the included 50 cannot be continued,
 *   so the whole collection is read (the included ones are discarded), ⌈n/200⌉ pages.
 * - Subscriptions are reachable only through their group (the app has no subscriptions
 *   relationship), so any group at all costs the groups listing, which includes up to 50
 *   subscriptions per group; a group with more must read its own collection in full, for the
 *   same no-offset reason.
 * Grace settings ride on the first request (an app without them is not an extra request).
 */
export function requestLowerBound(shape: CatalogShape): number {
  const iapPages = shape.iaps > INCLUDED_LIMIT ? pages(shape.iaps) : 0;
  const groupPages = shape.groups > 0 ? pages(shape.groups) : 0;
  const subscriptionPages = shape.subscriptionsPerGroup.reduce((sum, s) => sum + followUpPages(s), 0);
  return 1 + iapPages + groupPages + subscriptionPages;
}

/**
 * The longest chain of requests that must run one after another, as the fetch runs them:
 * the app request; then, side by side, the IAP pages and the chain "groups pages, then the
 * longest capped group's subscription pages" (follow-ups start once the groups listing is
 * complete; the capped groups are read in parallel). With latency L per request, a fetch
 * takes about criticalPath × L when concurrency is not the bottleneck.
 */
export function criticalPath(shape: CatalogShape): number {
  const iapChain = shape.iaps > INCLUDED_LIMIT ? pages(shape.iaps) : 0;
  const longestFollowUp = shape.subscriptionsPerGroup.reduce((max, s) => Math.max(max, followUpPages(s)), 0);
  const groupChain = shape.groups > 0 ? pages(shape.groups) + longestFollowUp : 0;
  return 1 + Math.max(iapChain, groupChain);
}
