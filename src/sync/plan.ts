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

/** The only group's own collection, read directly: even an empty group costs its one page. */
const soleGroupPages = (subscriptions: number) => Math.max(1, pages(subscriptions));

/** Requests after the app request for the subscriptions, and the longest chain among them. */
function subscriptionRequests(shape: CatalogShape): { total: number; chain: number } {
  if (shape.groups === 0) return { total: 0, chain: 0 };
  if (shape.groups === 1) {
    const direct = soleGroupPages(shape.subscriptionsPerGroup[0] ?? 0);
    return { total: direct, chain: direct };
  }
  const listing = pages(shape.groups);
  const followUps = shape.subscriptionsPerGroup.map(followUpPages);
  return {
    total: listing + followUps.reduce((sum, n) => sum + n, 0),
    // Follow-ups start once the listing is complete; the capped groups are read in parallel.
    chain: listing + followUps.reduce((max, n) => Math.max(max, n), 0),
  };
}

/**
 * The fewest requests that fetch a whole catalog:
 *
 *   1                                       GET /v1/apps/{id} including inAppPurchasesV2 (≤ 50),
 *                                           subscriptionGroups (≤ 50) and subscriptionGracePeriod
 * + (iaps > 50 ? ⌈iaps / 200⌉ : 0)          the IAP collection, when the include was capped
 * + subscriptions, by the number of groups:
 *     0 groups:  0
 *     1 group:   max(1, ⌈s / 200⌉)           that group's subscriptions collection, directly
 *     2 or more: ⌈groups / 200⌉              the groups collection with subscriptions included
 *              + Σ over groups with s > 50 of ⌈s / 200⌉   each capped group's own collection
 *
 * Why no plan can do better:
 * - Something must name the app's grace settings and tell whether it has IAPs and groups at all;
 *   the app resource answers all three (and brings up to 50 IAPs and up to 50 groups with their
 *   names) in one request, which is why a catalog of ≤ 50 IAPs and no group costs exactly 1.
 * - Collections are cursor-paged: page k+1's URL exists only in page k's response, so a
 *   collection of n items costs ⌈n/200⌉ requests however much concurrency is available.
 * - An included to-many relationship stops at 50 items, and there is no offset to ask for
 *   "the rest" of it: once an app has more than 50 IAPs, the included 50 cannot be continued,
 *   so the whole collection is read (the included ones are discarded), ⌈n/200⌉ pages.
 * - Subscriptions are reachable only through their group (the app has no subscriptions
 *   relationship). With exactly one group, the app request already gave its id and attributes
 *   (and the total says there is no other), so its own collection is read at once: ⌈s/200⌉
 *   pages, at least one since only that request tells how many there are — never more than
 *   the listing, one fewer whenever s > 50. With two or more groups, how many subscriptions
 *   each has is unknown before the groups listing, which brings up to 50 of each group's in
 *   ⌈groups/200⌉ requests. Reading each group's collection directly instead costs one request
 *   more for every group of ≤ 50 and one fewer only per 200 groups, so it would pay off only
 *   if (nearly) every group were known to hold more than 50 — which would be a guess: the
 *   listing is the cheapest plan that needs no guessing. A group with more than 50 must then
 *   read its own collection in full, for the same no-offset reason.
 * Grace settings ride on the first request (an app without them is not an extra request).
 */
export function requestLowerBound(shape: CatalogShape): number {
  const iapPages = shape.iaps > INCLUDED_LIMIT ? pages(shape.iaps) : 0;
  return 1 + iapPages + subscriptionRequests(shape).total;
}

/**
 * The longest chain of requests that must run one after another, as the fetch runs them:
 * the app request; then, side by side, the IAP pages and the subscriptions chain — the only
 * group's subscription pages, or "groups pages, then the longest capped group's subscription
 * pages" (follow-ups start once the groups listing is complete; the capped groups are read in
 * parallel). With latency L per request, a fetch takes about criticalPath × L when
 * concurrency is not the bottleneck.
 */
export function criticalPath(shape: CatalogShape): number {
  const iapChain = shape.iaps > INCLUDED_LIMIT ? pages(shape.iaps) : 0;
  return 1 + Math.max(iapChain, subscriptionRequests(shape).chain);
}
