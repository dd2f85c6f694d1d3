/*
 * Which price, proceeds and offer were in force for a transaction or renewal at a time (pure;
 * src/app/details.ts loads the rows). Dates are UTC calendar days, as Apple's start dates are.
 *
 * A territory's price versions form a timeline ordered by start date (null: since first priced).
 * A version is in force from its start until the next version starts. A version removed before
 * it started (a cancelled scheduled change) never was in force; one removed after it started
 * (the territory stopped being priced) was in force until its removal.
 */

export interface PriceVersion {
  territory: string;
  startDate: string | null;
  endDate: string | null;
  removedAt: Date | null;
}

export interface OfferVersion {
  appleId: string;
  kind: string;
  territory: string | null;
  startDate: string | null;
  endDate: string | null;
  active: boolean | null;
  removedAt: Date | null;
  firstSeenAt: Date;
  /** Territories the offer is priced in. */
  territories: readonly string[];
}

export const dayOf = (at: Date): string => at.toISOString().slice(0, 10);

const cancelled = (price: PriceVersion) =>
  price.removedAt !== null && price.startDate !== null && dayOf(price.removedAt) < price.startDate;

/** The timeline of one territory's versions: cancelled ones dropped, by start date (null first). */
export function priceTimeline<T extends PriceVersion>(versions: readonly T[]): T[] {
  return versions
    .filter((v) => !cancelled(v))
    .sort((a, b) => (a.startDate ?? '').localeCompare(b.startDate ?? ''));
}

export interface InForce<T> {
  version: T;
  /** First day of the version (null: since first priced). */
  from: string | null;
  /** The day the next version starts (exclusive), or null while it lasts. */
  until: string | null;
}

/** Each version with its effective span (pure): what `prices` lists. */
export function effectiveSpans<T extends PriceVersion>(versions: readonly T[]): InForce<T>[] {
  const timeline = priceTimeline(versions);
  return timeline.map((version, i) => {
    const next = timeline[i + 1]?.startDate ?? null;
    const removed = version.removedAt ? dayOf(version.removedAt) : null;
    const until = [next, removed].filter((d) => d !== null).sort()[0] ?? null;
    return { version, from: version.startDate, until };
  });
}

/** The version in force on `at`'s day in one territory, or null (not priced then). */
export function priceInForceAt<T extends PriceVersion>(versions: readonly T[], at: Date): InForce<T> | null {
  const day = dayOf(at);
  for (const span of effectiveSpans(versions)) {
    const started = span.from === null || span.from <= day;
    const notEnded = span.until === null || day < span.until;
    if (started && notEnded) return span;
  }
  return null;
}

/**
 * Offers a customer in `territory` could have had at `at`: within the offer's dates, priced in
 * that territory (introductory records: their own territory), listed by Apple at that time
 * (first seen before, not removed before) and, for offer codes, active. Introductory first (it
 * applies by itself to a new subscriber), then promotional, offer codes and win-back.
 */
export function offersInForceAt<T extends OfferVersion>(
  offers: readonly T[],
  territory: string,
  at: Date,
): T[] {
  const day = dayOf(at);
  const order: Record<string, number> = { introductory: 0, promotional: 1, offer_code: 2, win_back: 3 };
  return offers
    .filter((offer) => {
      if (offer.removedAt !== null && offer.removedAt.getTime() <= at.getTime()) return false;
      if (offer.startDate !== null && day < offer.startDate) return false;
      if (offer.endDate !== null && day >= offer.endDate) return false;
      if (offer.active === false) return false;
      if (offer.kind === 'introductory') return offer.territory === territory;
      return offer.territories.includes(territory);
    })
    .sort((a, b) => (order[a.kind] ?? 9) - (order[b.kind] ?? 9) || a.appleId.localeCompare(b.appleId));
}
