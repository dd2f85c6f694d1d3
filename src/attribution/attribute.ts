import { attributeRenewal, ruleInForceAt } from '../catalog/rules.ts';
import type { RenewalKind } from '../catalog/vocabulary.ts';
import { effectiveSpans, type InForce, offersInForceAt } from '../details/attribute.ts';
import type { Attribution, DecodedTransaction, EntryKind, TransactionKind } from './model.ts';
import { fromMilliunits, negate, percentOf, sameAmount, zero } from './money.ts';

/*
 * What one transaction earned (pure: the catalog and the subscriber's history come in as data,
 * src/app/attribution.ts loads them). Apple's rules, as docs/attribution.md explains:
 * - the customer price is the transaction's own `price` when Apple gave one (a preserved price,
 *   an offer, a price increase all differ from the catalog's price of the day);
 * - proceeds come from the price version whose customer price is that price: the one in force
 *   at the purchase (`exact`), an older or looked-up one (`preserved_price`), or none (null,
 *   `unknown_proceeds`, never invented);
 * - the year-2 rate applies once the subscriber has 365 days of paid service for this original
 *   transaction; gaps of up to 60 days pause the count, longer ones reset it; free trials and
 *   family-shared copies do not count;
 * - a renewal paid after its due date within the grace period belongs to the due date;
 * - a refund is negative and belongs to the revocation date.
 */

export const DAY_MS = 86_400_000;
/** One year of paid service. */
export const YEAR2_AFTER_MS = 365 * DAY_MS;
/** A lapse longer than this resets the days of paid service. */
export const MAX_GAP_MS = 60 * DAY_MS;

export interface PriceVersionView {
  territory: string;
  startDate: string | null;
  endDate: string | null;
  removedAt: Date | null;
  currency: string | null;
  customerPrice: string | null;
  proceeds: string | null;
  proceedsYear2: string | null;
}

/** A price point seen once (a catalog version, or one looked up in App Store Connect), kept for good. */
export interface ObservedPoint {
  currency: string;
  customerPrice: string;
  proceeds: string | null;
  proceedsYear2: string | null;
  source: 'catalog' | 'app_store_connect';
}

export interface OfferView {
  appleId: string;
  kind: string;
  territory: string | null;
  offerMode: string | null;
  startDate: string | null;
  endDate: string | null;
  active: boolean | null;
  removedAt: Date | null;
  firstSeenAt: Date;
  /** What a transaction's `offerIdentifier` may name: the promotional offer code, win-back offer id, name, Apple id. */
  identifiers: string[];
  territories: string[];
  prices: Map<
    string,
    {
      currency: string | null;
      customerPrice: string | null;
      proceeds: string | null;
      proceedsYear2: string | null;
    }
  >;
}

export interface ProductView {
  appleId: string;
  productId: string;
  kind: string;
  /** Every version per territory, removed ones included (history). */
  prices: Map<string, PriceVersionView[]>;
  observed: Map<string, ObservedPoint[]>;
  offers: OfferView[];
}

export interface RuleVersion {
  environment: 'production' | 'sandbox';
  renewalKind: RenewalKind;
  graceDays: number;
  recoveredRevenueDatedTo: 'original_due_date' | 'recovery_date';
  accessDuringGrace: boolean;
  unrecoveredChurnAt: 'grace_period_end' | 'due_date';
  effectiveFrom: Date;
  effectiveTo: Date | null;
}

export interface CatalogView {
  /** By product id (`com.example.pro.monthly`). */
  products: Map<string, ProductView>;
  /** Territory (ISO alpha-3) → currency. */
  currencies: Map<string, string>;
  rules: RuleVersion[];
}

/** What catalog-sync knows of a subscriber's other transactions (this batch and stored ones). */
export interface HistoryEntry {
  transactionId: string;
  purchaseDate: number;
  expiresDate: number | null;
  /** Not a free trial, not a family-shared copy, not fully refunded. */
  paid: boolean;
  /** An introductory, promotional, offer-code or win-back period. */
  offer: boolean;
}

export function historyEntryOf(tx: DecodedTransaction): HistoryEntry {
  const fullyRefunded =
    tx.revocationDate !== undefined &&
    tx.revocationType !== 'REFUND_PRORATED' &&
    (tx.revocationPercentage === undefined || tx.revocationPercentage >= 100_000);
  const free = tx.offerDiscountType === 'FREE_TRIAL' || (tx.price !== undefined && tx.price === 0);
  return {
    transactionId: tx.transactionId,
    purchaseDate: tx.purchaseDate,
    expiresDate: tx.expiresDate ?? null,
    paid: !free && !fullyRefunded && tx.inAppOwnershipType !== 'FAMILY_SHARED',
    offer: tx.offerType !== undefined,
  };
}

/**
 * Days of paid service before `at` (in milliseconds): paid periods in order, overlaps counted
 * once, a period cut at `at`; a lapse of more than 60 days before a period (or before `at`)
 * starts the count again.
 */
export function paidServiceBefore(history: readonly HistoryEntry[], at: number): number {
  const periods = history
    .filter((h) => h.paid && h.expiresDate !== null && h.purchaseDate < at)
    .sort((a, b) => a.purchaseDate - b.purchaseDate);
  let total = 0;
  let lastEnd: number | null = null;
  for (const period of periods) {
    const end = Math.min(period.expiresDate as number, at);
    if (lastEnd !== null && period.purchaseDate - lastEnd > MAX_GAP_MS) total = 0;
    const start = lastEnd === null ? period.purchaseDate : Math.max(period.purchaseDate, lastEnd);
    if (end > start) total += end - start;
    lastEnd = lastEnd === null ? end : Math.max(lastEnd, end);
  }
  if (lastEnd !== null && at - lastEnd > MAX_GAP_MS) total = 0;
  return total;
}

/** The subscriber's transaction just before this one, if catalog-sync was given it. */
export function previousOf(history: readonly HistoryEntry[], tx: DecodedTransaction): HistoryEntry | null {
  let previous: HistoryEntry | null = null;
  for (const h of history) {
    if (h.transactionId === tx.transactionId || h.purchaseDate >= tx.purchaseDate) continue;
    if (previous === null || h.purchaseDate > previous.purchaseDate) previous = h;
  }
  return previous;
}

export function classify(tx: DecodedTransaction, previous: HistoryEntry | null): TransactionKind {
  const subscription = tx.type === undefined || tx.type === 'Auto-Renewable Subscription';
  if (!subscription) return 'purchase';
  if (tx.offerType !== undefined) return 'offer_period';
  if (previous?.offer) return 'conversion';
  if (previous) return 'renewal';
  if (tx.transactionReason === 'RENEWAL') return 'renewal';
  return 'first_purchase';
}

export const environmentOf = (environment: string): 'production' | 'sandbox' | null =>
  environment === 'Production' ? 'production' : environment === 'Sandbox' ? 'sandbox' : null;

const OFFER_TYPES: Record<number, 'introductory' | 'promotional' | 'offer_code' | 'win_back'> = {
  1: 'introductory',
  2: 'promotional',
  3: 'offer_code',
  4: 'win_back',
};

export type AttributeFailure = {
  code: 'unknown_product' | 'unknown_storefront' | 'currency_mismatch' | 'wrong_environment' | 'invalid';
  message: string;
};

export interface AttributeRequest {
  tx: DecodedTransaction;
  history: readonly HistoryEntry[];
  /** Days of paid service before this transaction, from the caller. */
  paidDays?: number | undefined;
  notificationType?: string | undefined;
  /**
   * The refund catalog-sync stored for this transaction, if any: a reversal gives back what was
   * refunded (a prorated refund's share, not the whole price), and nothing when nothing was.
   */
  storedRefund?: { customerPrice: string | null; proceeds: string | null } | null | undefined;
}

/** A price the catalog does not have for this product and territory: App Store Connect may. */
export interface MissingPricePoint {
  productAppleId: string;
  territory: string;
  currency: string;
  customerPrice: string;
}

export type AttributeResult =
  | { ok: true; entries: Attribution[]; missing: MissingPricePoint | null }
  | { ok: false; failure: AttributeFailure };

/*
 * Dates are formatted here rather than by Date#toISOString, which dominated the cost of an
 * attribution (a handful per transaction): a day's text is computed once and kept (a bounded
 * cache), the time of day by arithmetic. Valid for 1970–9999, as Apple's dates are.
 */
const dayTexts = new Map<number, string>();
export function dayText(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  let text = dayTexts.get(day);
  if (text === undefined) {
    text = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dayTexts.size >= 50_000) dayTexts.clear();
    dayTexts.set(day, text);
  }
  return text;
}
const pad = (n: number, width: number) => String(n).padStart(width, '0');
export function iso(ms: number): string {
  const inDay = ms - Math.floor(ms / DAY_MS) * DAY_MS;
  const hours = Math.floor(inDay / 3_600_000);
  const minutes = Math.floor((inDay % 3_600_000) / 60_000);
  const seconds = Math.floor((inDay % 60_000) / 1000);
  return `${dayText(ms)}T${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}.${pad(inDay % 1000, 3)}Z`;
}

// A territory's versions with their spans, computed once per version list (the catalog is loaded once per stream).
const spansOf = new WeakMap<readonly PriceVersionView[], InForce<PriceVersionView>[]>();
function inForceOn(versions: readonly PriceVersionView[], day: string): InForce<PriceVersionView> | null {
  let spans = spansOf.get(versions);
  if (!spans) {
    spans = effectiveSpans(versions);
    spansOf.set(versions, spans);
  }
  for (const span of spans) {
    if ((span.from === null || span.from <= day) && (span.until === null || day < span.until)) return span;
  }
  return null;
}

function ruleFor(rules: readonly RuleVersion[], environment: string, renewalKind: RenewalKind, at: Date) {
  const mine = rules.filter((r) => r.environment === environment && r.renewalKind === renewalKind);
  const inForce = ruleInForceAt(mine, at);
  if (inForce) return { rule: inForce, assumed: false };
  // Before the first sync no rule was observed: the first version observed is the best guess.
  const first = mine.reduce<RuleVersion | null>(
    (a, r) => (a === null || r.effectiveFrom < a.effectiveFrom ? r : a),
    null,
  );
  if (first && at < first.effectiveFrom) return { rule: first, assumed: true };
  return null;
}

interface PriceChoice {
  customerPrice: string | null;
  customerPriceSource: 'transaction' | 'catalog';
  proceedsFirst: string | null;
  proceedsYear2: string | null;
  basis: Attribution['basis'];
  pricePoint: Attribution['pricePoint'];
  reason: string;
  missing: MissingPricePoint | null;
}

function choosePrice(
  product: ProductView,
  territory: string,
  currency: string,
  price: string | null,
  at: Date,
): PriceChoice {
  const versions = product.prices.get(territory) ?? [];
  const day = dayText(at.getTime());
  const span = inForceOn(versions, day);
  const inForce = span?.version ?? null;
  if (price === null) {
    if (inForce?.customerPrice) {
      return {
        customerPrice: inForce.customerPrice,
        customerPriceSource: 'catalog',
        proceedsFirst: inForce.proceeds,
        proceedsYear2: inForce.proceedsYear2 ?? inForce.proceeds,
        basis: 'exact',
        pricePoint: { source: 'catalog', from: span?.from ?? null, until: span?.until ?? null },
        reason: `the transaction carries no price: the catalog's price in force on ${day}`,
        missing: null,
      };
    }
    return {
      customerPrice: null,
      customerPriceSource: 'catalog',
      proceedsFirst: null,
      proceedsYear2: null,
      basis: 'unknown_proceeds',
      pricePoint: null,
      reason: `the transaction carries no price and the catalog has no price of ${product.productId} in ${territory} on ${day}`,
      missing: null,
    };
  }
  const matches = (v: { currency: string | null; customerPrice: string | null }) =>
    v.customerPrice !== null &&
    (v.currency === null || v.currency === currency) &&
    sameAmount(v.customerPrice, price);
  if (inForce && matches(inForce)) {
    return {
      customerPrice: price,
      customerPriceSource: 'transaction',
      proceedsFirst: inForce.proceeds,
      proceedsYear2: inForce.proceedsYear2 ?? inForce.proceeds,
      basis: 'exact',
      pricePoint: { source: 'catalog', from: span?.from ?? null, until: span?.until ?? null },
      reason: `the catalog's price in force on ${day}`,
      missing: null,
    };
  }
  // An older price this subscriber kept (a preserved price), latest first.
  const older = [...versions]
    .filter(matches)
    .sort((a, b) => (b.startDate ?? '').localeCompare(a.startDate ?? ''));
  const version = older.find((v) => (v.startDate ?? '') <= day) ?? older[0];
  if (version) {
    return {
      customerPrice: price,
      customerPriceSource: 'transaction',
      proceedsFirst: version.proceeds,
      proceedsYear2: version.proceedsYear2 ?? version.proceeds,
      basis: 'preserved_price',
      pricePoint: { source: 'catalog', from: version.startDate, until: version.endDate },
      reason: `the subscriber's price ${price} ${currency} is not the price in force on ${day} (${inForce?.customerPrice ?? 'none'}): proceeds of the catalog's version from ${version.startDate ?? 'the first price'}`,
      missing: null,
    };
  }
  const observed = (product.observed.get(territory) ?? []).find(matches);
  if (observed) {
    return {
      customerPrice: price,
      customerPriceSource: 'transaction',
      proceedsFirst: observed.proceeds,
      proceedsYear2: observed.proceedsYear2 ?? observed.proceeds,
      basis: 'preserved_price',
      pricePoint: { source: observed.source, from: null, until: null },
      reason: `the subscriber's price ${price} ${currency} is not the price in force on ${day} (${inForce?.customerPrice ?? 'none'}): proceeds of that price point, ${observed.source === 'app_store_connect' ? 'looked up in App Store Connect' : 'observed earlier'}`,
      missing: null,
    };
  }
  return {
    customerPrice: price,
    customerPriceSource: 'transaction',
    proceedsFirst: null,
    proceedsYear2: null,
    basis: 'unknown_proceeds',
    pricePoint: null,
    reason: `no price point of ${product.productId} in ${territory} costs ${price} ${currency} (the catalog's price on ${day}: ${inForce?.customerPrice ?? 'none'})`,
    missing: { productAppleId: product.appleId, territory, currency, customerPrice: price },
  };
}

function matchOffer(
  product: ProductView,
  tx: DecodedTransaction,
  territory: string,
  at: Date,
): OfferView | null {
  const type = tx.offerType === undefined ? undefined : OFFER_TYPES[tx.offerType];
  if (!type) return null;
  const candidates = offersInForceAt(
    product.offers.filter((o) => o.kind === type),
    territory,
    at,
  );
  // Offers in force first, then any of that kind (an offer may have ended since, or been seen late).
  const pool = [...candidates, ...product.offers.filter((o) => o.kind === type && !candidates.includes(o))];
  if (type === 'introductory') {
    const mode = tx.offerDiscountType;
    return (
      pool.find((o) => o.territory === territory && (mode === undefined || o.offerMode === mode)) ??
      pool.find((o) => o.territory === territory) ??
      null
    );
  }
  if (!tx.offerIdentifier) return null;
  return pool.find((o) => o.identifiers.includes(tx.offerIdentifier as string)) ?? null;
}

/** What a transaction earned, as one entry per part (its charge; a refund; a reversal; a revocation). */
export function attributeTransaction(request: AttributeRequest, catalog: CatalogView): AttributeResult {
  const { tx } = request;
  const environment = environmentOf(tx.environment);
  if (environment === null) {
    return {
      ok: false,
      failure: {
        code: 'wrong_environment',
        message: `environment ${JSON.stringify(tx.environment)} is not the App Store's (Production or Sandbox): Xcode and local-testing transactions earn nothing`,
      },
    };
  }
  const product = catalog.products.get(tx.productId);
  if (!product) {
    return {
      ok: false,
      failure: {
        code: 'unknown_product',
        message: `product ${JSON.stringify(tx.productId)} is not in the project's catalog: sync the catalog (catalog-sync sync <project>) or check the app`,
      },
    };
  }
  const territory = tx.storefront.toUpperCase();
  const territoryCurrency = catalog.currencies.get(territory);
  if (territoryCurrency === undefined) {
    return {
      ok: false,
      failure: {
        code: 'unknown_storefront',
        message: `storefront ${JSON.stringify(tx.storefront)} is not a territory the catalog knows (ISO 3166-1 alpha-3, such as USA)`,
      },
    };
  }
  if (tx.currency !== undefined && tx.currency !== territoryCurrency) {
    return {
      ok: false,
      failure: {
        code: 'currency_mismatch',
        message: `currency ${tx.currency} does not belong to territory ${territory}, whose prices are in ${territoryCurrency}`,
      },
    };
  }
  if (tx.price !== undefined && tx.currency === undefined) {
    return {
      ok: false,
      failure: { code: 'invalid', message: 'the transaction has a price but no currency' },
    };
  }
  const currency = territoryCurrency;
  const purchase = new Date(tx.purchaseDate);
  const previous = previousOf(request.history, tx);
  const kind = classify(tx, previous);
  const subscription = kind !== 'purchase';

  // Only Apple's own renewal charge is dated to the due date (and recovered in grace): a purchase
  // the customer made (an upgrade, a crossgrade, a resubscription) belongs to its own day.
  const billingRenewal = tx.transactionReason !== 'PURCHASE';
  // A renewal charged ahead of its due date pays for the period from that date: its paid days
  // (and so the year-2 rate) are counted up to the due date, not to the charge.
  const periodStart =
    billingRenewal && previous?.expiresDate != null && previous.expiresDate > tx.purchaseDate
      ? previous.expiresDate
      : tx.purchaseDate;
  const counted = paidServiceBefore(request.history, periodStart);
  const paidDays = request.paidDays ?? Math.floor(counted / DAY_MS);
  const year2 =
    subscription && (request.paidDays !== undefined ? request.paidDays >= 365 : counted >= YEAR2_AFTER_MS);

  const familyShared = tx.inAppOwnershipType === 'FAMILY_SHARED';
  const offer = tx.offerType === undefined ? null : matchOffer(product, tx, territory, purchase);
  const offerPrice = offer?.prices.get(territory) ?? null;
  const freeTrial =
    tx.offerDiscountType === 'FREE_TRIAL' || (offer?.offerMode === 'FREE_TRIAL' && tx.price === undefined);
  const price = tx.price === undefined ? null : fromMilliunits(tx.price, currency);

  let choice: PriceChoice;
  if (familyShared) {
    choice = {
      customerPrice: zero(currency),
      customerPriceSource: 'transaction',
      proceedsFirst: zero(currency),
      proceedsYear2: zero(currency),
      basis: 'exact',
      pricePoint: null,
      reason: 'a family-shared copy: the purchaser paid, not this family member',
      missing: null,
    };
  } else if (freeTrial) {
    choice = {
      customerPrice: zero(currency),
      customerPriceSource: price === null ? 'catalog' : 'transaction',
      proceedsFirst: zero(currency),
      proceedsYear2: zero(currency),
      basis: 'exact',
      pricePoint: null,
      reason: 'a free trial earns nothing',
      missing: null,
    };
  } else if (tx.offerType !== undefined) {
    const offerAmount = offerPrice?.customerPrice ?? null;
    if (offerPrice && offerAmount !== null && (price === null || sameAmount(offerAmount, price))) {
      choice = {
        customerPrice: price ?? offerAmount,
        customerPriceSource: price === null ? 'catalog' : 'transaction',
        proceedsFirst: offerPrice.proceeds,
        proceedsYear2: offerPrice.proceedsYear2 ?? offerPrice.proceeds,
        basis: 'exact',
        pricePoint: { source: 'offer', from: offer?.startDate ?? null, until: offer?.endDate ?? null },
        reason: `the offer's price in ${territory}`,
        missing: null,
      };
    } else {
      // An offer the catalog does not price this way: the product's price points may still know the amount.
      choice = choosePrice(product, territory, currency, price, purchase);
      if (choice.basis === 'exact' && price !== null) choice = { ...choice, basis: 'preserved_price' };
    }
  } else {
    choice = choosePrice(product, territory, currency, price, purchase);
  }

  const proceedsRaw = subscription && year2 ? choice.proceedsYear2 : choice.proceedsFirst;
  const proceeds = proceedsRaw ?? null;
  const proceedsRate = proceeds === null ? null : subscription && year2 ? 'after_first_year' : 'first_year';
  const rateReason = !subscription
    ? ''
    : request.paidDays !== undefined
      ? `; ${request.paidDays} days of paid service (given)`
      : `; ${paidDays} days of paid service before this transaction`;
  const proceedsReason =
    proceeds === null
      ? choice.reason
      : `${choice.reason}; ${proceedsRate === 'after_first_year' ? 'rate after one year of paid service' : 'first-year rate'}${rateReason}`;

  // The grace rule: renewals out of an offer use the offer-to-paid rule.
  const renewalKind: RenewalKind | null =
    kind === 'conversion'
      ? 'offer_to_paid'
      : kind === 'renewal' || (kind === 'offer_period' && previous !== null)
        ? 'paid_to_paid'
        : null;
  const dueMs = previous && renewalKind && billingRenewal ? previous.expiresDate : null;
  const ruleAt = new Date(dueMs ?? tx.purchaseDate);
  const found = renewalKind ? ruleFor(catalog.rules, environment, renewalKind, ruleAt) : null;
  let revenueDate = purchase;
  let recoveredInGrace = false;
  if (dueMs !== null && found) {
    const outcome = attributeRenewal(found.rule, { dueDate: new Date(dueMs), recoveredAt: purchase });
    revenueDate = outcome.revenueDate ?? purchase;
    recoveredInGrace = tx.purchaseDate > dueMs && revenueDate.getTime() === dueMs;
  } else if (dueMs !== null && tx.purchaseDate <= dueMs) {
    revenueDate = new Date(dueMs);
  }
  const serviceStart = recoveredInGrace && dueMs !== null ? dueMs : tx.purchaseDate;

  const charge: Attribution = {
    transactionId: tx.transactionId,
    originalTransactionId: tx.originalTransactionId,
    entry: 'charge',
    kind,
    productId: product.productId,
    productAppleId: product.appleId,
    territory,
    environment,
    currency,
    customerPrice: choice.customerPrice,
    customerPriceSource: choice.customerPriceSource,
    proceeds,
    proceedsRate,
    proceedsReason,
    basis: proceeds === null ? 'unknown_proceeds' : choice.basis,
    pricePoint: choice.pricePoint,
    paidDays,
    paidDaysSource: request.paidDays !== undefined ? 'given' : 'counted',
    offer:
      tx.offerType === undefined
        ? null
        : {
            type: OFFER_TYPES[tx.offerType] ?? 'unknown',
            identifier: tx.offerIdentifier ?? null,
            discountType: tx.offerDiscountType ?? offer?.offerMode ?? null,
            appleId: offer?.appleId ?? null,
            customerPrice: freeTrial ? zero(currency) : (offerPrice?.customerPrice ?? null),
            proceeds: freeTrial ? zero(currency) : (offerPrice?.proceeds ?? null),
          },
    rule: found
      ? {
          renewalKind: found.rule.renewalKind,
          graceDays: found.rule.graceDays,
          recoveredRevenueDatedTo: found.rule.recoveredRevenueDatedTo,
          effectiveFrom: iso(found.rule.effectiveFrom.getTime()),
          assumed: found.assumed,
        }
      : null,
    revenueDate: iso(revenueDate.getTime()),
    dueDate: dueMs === null ? null : iso(dueMs),
    recoveredInGrace,
    purchaseDate: iso(tx.purchaseDate),
    serviceStart: iso(serviceStart),
    serviceEnd: tx.expiresDate === undefined ? null : iso(tx.expiresDate),
  };
  const entries: Attribution[] = [charge];
  const derived = (
    entry: EntryKind,
    entryKind: TransactionKind,
    at: number,
    share: number | null,
    reason: string,
  ) => {
    const scale = (amount: string | null, sign: -1 | 1) => {
      if (amount === null) return null;
      const part = share === null ? amount : percentOf(amount, share);
      return sign < 0 ? negate(part) : part;
    };
    const sign = entry === 'refund' ? -1 : 1;
    const nothing = entry === 'revoke';
    const reversed = entry === 'refund_reversed' ? request.storedRefund : null;
    const proceeds = nothing
      ? zero(currency)
      : reversed
        ? reversed.proceeds === null
          ? null
          : negate(reversed.proceeds)
        : scale(charge.proceeds, sign);
    entries.push({
      ...charge,
      entry,
      kind: entryKind,
      customerPrice: nothing
        ? zero(currency)
        : reversed
          ? reversed.customerPrice === null
            ? null
            : negate(reversed.customerPrice)
          : scale(charge.customerPrice, sign),
      proceeds,
      // A revoke moves no money: its zero amounts are exact whatever the charge's basis.
      basis: nothing ? 'exact' : proceeds === null ? 'unknown_proceeds' : charge.basis,
      proceedsReason: `${reason}; ${charge.proceedsReason}`,
      revenueDate: iso(at),
    });
  };
  const familyRevoke = tx.revocationType === 'FAMILY_REVOKE' || request.notificationType === 'REVOKE';
  // A reversal first: Apple may still carry the revocation on the transaction it reverses.
  if (request.notificationType === 'REFUND_REVERSED' && !familyShared) {
    if (request.storedRefund)
      derived(
        'refund_reversed',
        'refund_reversed',
        tx.signedDate ?? tx.purchaseDate,
        null,
        'a refund reversed',
      );
  } else if (tx.revocationDate !== undefined && !familyRevoke && !familyShared) {
    const share = tx.revocationPercentage ?? null;
    derived(
      'refund',
      'refund',
      tx.revocationDate,
      share,
      share === null ? 'refunded in full' : `refunded ${share / 1000} %`,
    );
  }
  if (familyRevoke) {
    derived(
      'revoke',
      'revoke',
      tx.revocationDate ?? tx.signedDate ?? tx.purchaseDate,
      null,
      'access revoked (family sharing)',
    );
  }
  return { ok: true, entries, missing: choice.missing };
}
