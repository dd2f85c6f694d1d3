import type {
  SimApp,
  SimDetails,
  SimGroup,
  SimIap,
  SimLocalization,
  SimOffer,
  SimPrice,
  SimSubscription,
} from './catalog.ts';
import { TERRITORY_IDS, territorySelection, tierFor } from './territories.ts';

/*
 * Seeded catalog details: prices (manual and equalized, some scheduled in the future, some
 * preserved), offers of every kind, localizations with review states, availability. Runs as a
 * second pass over a generated structure with its own random stream, so turning details on
 * changes no structure id.
 */

export interface GenerateDetailsOptions {
  /** Territories each product is available and priced in (default 175: all of them). */
  territories?: number;
  /** Locales per product and group: a count of DEFAULT_LOCALES, or the list (default 5). */
  locales?: number | string[];
  /** Share of products with a scheduled future price change (default 0.25). */
  scheduledShare?: number;
  /** Share of products with manual prices in a few territories besides the base price (default 0.3). */
  manualShare?: number;
  /** Share of subscriptions available in two territories they have no price in (default 0). */
  unpricedShare?: number;
  /** Introductory offers per subscription, one after the other in time (default 1). */
  introductoryOffers?: number;
  /** Promotional offers per subscription (default 1). */
  promotionalOffers?: number;
  /** Offer codes per subscription (default 1). */
  offerCodes?: number;
  /** Win-back offers per subscription (default 1). */
  winBackOffers?: number;
  /** Offer codes per IAP; default: one on every fourth IAP. */
  iapOfferCodes?: number;
  /** "Today" for generated dates (YYYY-MM-DD). Default: the current UTC date; pass it for byte-identical catalogs. */
  today?: string;
}

export const DEFAULT_LOCALES = [
  'en-US',
  'de-DE',
  'fr-FR',
  'ja',
  'es-ES',
  'it',
  'pt-BR',
  'ko',
  'zh-Hans',
  'nl-NL',
];

const LOCALIZATION_STATES: [string, number][] = [
  ['APPROVED', 80],
  ['WAITING_FOR_REVIEW', 8],
  ['PREPARE_FOR_SUBMISSION', 8],
  ['REJECTED', 4],
];

const PERIOD_USD: Record<string, number> = {
  ONE_WEEK: 2.99,
  ONE_MONTH: 9.99,
  TWO_MONTHS: 17.99,
  THREE_MONTHS: 24.99,
  SIX_MONTHS: 44.99,
  ONE_YEAR: 59.99,
};

export function addDays(day: string, days: number): string {
  const at = new Date(`${day}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + days);
  return at.toISOString().slice(0, 10);
}

interface DetailsContext {
  random: () => number;
  nextId: () => string;
  options: GenerateDetailsOptions;
  today: string;
  locales: string[];
  territories: string[];
}

const between = (random: () => number, low: number, high: number) =>
  low + Math.floor(random() * (high - low + 1));

function weighted(random: () => number, table: readonly [string, number][]): string {
  const total = table.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random() * total;
  for (const [value, weight] of table) {
    roll -= weight;
    if (roll < 0) return value;
  }
  return table[0]![0];
}

function someTerritories(ctx: DetailsContext, count: number, except: string): string[] {
  const chosen = new Set<string>();
  const pool = ctx.territories.filter((id) => id !== except);
  while (chosen.size < Math.min(count, pool.length))
    chosen.add(pool[Math.floor(ctx.random() * pool.length)]!);
  return [...chosen].sort();
}

function prices(ctx: DetailsContext, usd: number, subscription: boolean): SimPrice[] {
  const { random } = ctx;
  const tier = tierFor(usd * (0.6 + random() * 1.2));
  const list: SimPrice[] = [
    // IAPs priced long ago often have no start date at all; subscriptions always carry one.
    {
      startDate: !subscription && random() < 0.5 ? null : addDays(ctx.today, -between(random, 30, 700)),
      tier,
    },
  ];
  if (random() < (ctx.options.manualShare ?? 0.3)) {
    list.push({
      startDate: addDays(ctx.today, -between(random, 1, 25)),
      tier: Math.max(1, tier - 1),
      territories: someTerritories(ctx, between(random, 1, 3), 'USA'),
    });
  }
  if (random() < (ctx.options.scheduledShare ?? 0.25)) {
    const scheduled: SimPrice = {
      startDate: addDays(ctx.today, between(random, 14, 120)),
      tier: tier + between(random, 1, 3),
    };
    if (subscription) scheduled.preserved = random() < 0.5;
    list.push(scheduled);
  }
  return list;
}

function localizations(ctx: DetailsContext, name: string, group: boolean): SimLocalization[] {
  return ctx.locales.map((locale, index) => {
    const localized = index === 0 ? name : `${name} (${locale})`;
    const entry: SimLocalization = {
      id: ctx.nextId(),
      locale,
      name: localized,
      state: index === 0 ? 'APPROVED' : weighted(ctx.random, LOCALIZATION_STATES),
    };
    if (group) entry.customAppName = null;
    else entry.description = `${localized}: unlock everything.`;
    return entry;
  });
}

function availability(ctx: DetailsContext) {
  return { availableInNewTerritories: ctx.random() < 0.7, territories: [...ctx.territories] };
}

const INTRO_MODES: [string, string, number][] = [
  ['FREE_TRIAL', 'ONE_WEEK', 1],
  ['PAY_AS_YOU_GO', 'ONE_MONTH', 3],
  ['PAY_UP_FRONT', 'THREE_MONTHS', 1],
  ['FREE_TRIAL', 'ONE_MONTH', 1],
];

function subscriptionOffers(
  ctx: DetailsContext,
  subscription: SimSubscription,
  index: number,
  tier: number,
): SimOffer[] {
  const { random, options } = ctx;
  const offers: SimOffer[] = [];
  const cheaper = () => Math.max(1, tier - between(random, 3, 12));
  const intros = options.introductoryOffers ?? 1;
  let start: string | null = addDays(ctx.today, -between(random, 10, 300));
  for (let i = 0; i < intros; i++) {
    const [offerMode, duration, numberOfPeriods] = INTRO_MODES[(index + i) % INTRO_MODES.length]!;
    const last = i === intros - 1;
    const end = last
      ? random() < 0.3
        ? addDays(ctx.today, between(random, 30, 200))
        : null
      : addDays(ctx.today, 30 * (i + 1));
    offers.push({
      id: ctx.nextId(),
      kind: 'introductory',
      duration,
      offerMode,
      numberOfPeriods,
      tier: offerMode === 'FREE_TRIAL' ? null : cheaper(),
      startDate: start,
      endDate: end,
    });
    start = end;
  }
  const stem = subscription.productId
    .split('.')
    .pop()!
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '');
  for (let i = 0; i < (options.promotionalOffers ?? 1); i++) {
    const free = (index + i) % 3 === 2;
    offers.push({
      id: ctx.nextId(),
      kind: 'promotional',
      name: free ? `Free month ${i + 1}` : `Come back ${i + 1}`,
      offerCode: `${stem}PROMO${i + 1}`,
      duration: 'ONE_MONTH',
      offerMode: free ? 'FREE_TRIAL' : 'PAY_AS_YOU_GO',
      numberOfPeriods: free ? 1 : 2,
      tier: free ? null : cheaper(),
    });
  }
  for (let i = 0; i < (options.offerCodes ?? 1); i++) {
    const total = [500, 1000, 2500][i % 3]!;
    offers.push({
      id: ctx.nextId(),
      kind: 'offerCode',
      name: `${stem} code ${i + 1}`,
      customerEligibilities: i % 2 === 0 ? ['NEW', 'EXPIRED'] : ['EXISTING'],
      offerEligibility: i % 2 === 0 ? 'STACK_WITH_INTRO_OFFERS' : 'REPLACE_INTRO_OFFERS',
      duration: 'THREE_MONTHS',
      offerMode: 'PAY_UP_FRONT',
      numberOfPeriods: 1,
      totalNumberOfCodes: total,
      productionCodeCount: total - 100,
      sandboxCodeCount: 100,
      active: true,
      autoRenewEnabled: true,
      tier: cheaper(),
    });
  }
  for (let i = 0; i < (options.winBackOffers ?? 1); i++) {
    offers.push({
      id: ctx.nextId(),
      kind: 'winBack',
      referenceName: `Win back ${stem} ${i + 1}`,
      offerId: `${subscription.productId}.winback${i + 1}`,
      duration: 'ONE_MONTH',
      offerMode: 'PAY_AS_YOU_GO',
      numberOfPeriods: 3,
      paidSubscriptionMonths: 6,
      sinceLastSubscribedMonths: { minimum: 3, maximum: 24 },
      waitBetweenOffersMonths: 12,
      startDate: addDays(ctx.today, -between(random, 5, 200)),
      endDate: random() < 0.2 ? addDays(ctx.today, between(random, 20, 200)) : null,
      priority: random() < 0.5 ? 'HIGH' : 'NORMAL',
      promotionIntent: 'NOT_PROMOTED',
      tier: cheaper(),
    });
  }
  return offers;
}

function subscriptionDetails(ctx: DetailsContext, subscription: SimSubscription, index: number): SimDetails {
  const list = prices(ctx, PERIOD_USD[subscription.subscriptionPeriod] ?? 9.99, true);
  const details: SimDetails = {
    prices: list,
    offers: subscriptionOffers(ctx, subscription, index, list[0]!.tier),
    localizations: localizations(ctx, subscription.name, false),
    availability: availability(ctx),
  };
  if (ctx.random() < (ctx.options.unpricedShare ?? 0)) {
    const outside = TERRITORY_IDS.filter((id) => !ctx.territories.includes(id)).slice(0, 2);
    const unpriced = outside.length > 0 ? outside : ctx.territories.slice(-2);
    details.availability!.territories = [...new Set([...ctx.territories, ...unpriced])].sort();
    details.unpricedTerritories = unpriced;
  }
  return details;
}

function iapDetails(ctx: DetailsContext, iap: SimIap, index: number): SimDetails {
  const usd = iap.inAppPurchaseType === 'CONSUMABLE' ? 0.99 + ctx.random() * 20 : 1.99 + ctx.random() * 30;
  const list = prices(ctx, usd, false);
  const offers: SimOffer[] = [];
  const count = ctx.options.iapOfferCodes ?? (index % 4 === 0 ? 1 : 0);
  for (let i = 0; i < count; i++) {
    offers.push({
      id: ctx.nextId(),
      kind: 'offerCode',
      name: `${iap.name} code ${i + 1}`,
      customerEligibilities: ['NON_SPENDER', 'CHURNED_SPENDER'],
      productionCodeCount: 900,
      sandboxCodeCount: 100,
      active: true,
      tier: Math.max(1, list[0]!.tier - 4),
    });
  }
  return {
    baseTerritory: 'USA',
    prices: list,
    offers,
    localizations: localizations(ctx, iap.name, false),
    availability: availability(ctx),
  };
}

const VERSION_STATE: Record<string, string> = {
  APPROVED: 'APPROVED',
  MISSING_METADATA: 'PREPARE_FOR_SUBMISSION',
  READY_TO_SUBMIT: 'READY_FOR_REVIEW',
  WAITING_FOR_REVIEW: 'WAITING_FOR_REVIEW',
  IN_REVIEW: 'IN_REVIEW',
  REJECTED: 'REJECTED',
  DEVELOPER_ACTION_NEEDED: 'REJECTED',
};

/**
 * The 4.x metadata (review screenshot, images, promoted purchase, versions, plan availabilities),
 * derived from the product without drawing from the random stream, so the rest of a seeded
 * catalog is the same as before it existed. A MISSING_METADATA product lacks its screenshot.
 */
function addMetadata(
  details: SimDetails,
  product: { id: string; state: string },
  index: number,
  subscription: boolean,
) {
  details.reviewScreenshot =
    product.state === 'MISSING_METADATA'
      ? null
      : { fileName: `review-${product.id}.png`, fileSize: 204_800, assetDeliveryState: 'COMPLETE' };
  details.images =
    index % 3 === 0
      ? [
          {
            id: `${product.id}-image-1`,
            fileName: `promo-${product.id}.png`,
            fileSize: 512_000,
            state: 'APPROVED',
          },
        ]
      : [];
  details.promotedPurchase =
    index % 5 === 0 ? { enabled: true, visibleForAllUsers: true, state: 'APPROVED' } : null;
  details.versions = [
    {
      id: `${product.id}-version-1`,
      version: 1,
      state: VERSION_STATE[product.state] ?? 'PREPARE_FOR_SUBMISSION',
    },
  ];
  if (subscription) details.planAvailabilities = [{ planType: 'MONTHLY', availableInNewTerritories: true }];
}

/** Adds details to every product and group of `apps`, in place. */
export function addDetails(
  apps: SimApp[],
  options: GenerateDetailsOptions,
  random: () => number,
  nextId: () => string,
): void {
  const locales =
    typeof options.locales === 'number'
      ? DEFAULT_LOCALES.slice(0, Math.max(1, options.locales))
      : (options.locales ?? DEFAULT_LOCALES.slice(0, 5));
  const territories = territorySelection(options.territories ?? TERRITORY_IDS.length);
  if (!territories.includes('USA'))
    throw new Error('details.territories must be at least 1 (USA is always first).');
  const ctx: DetailsContext = {
    random,
    nextId,
    options,
    today: options.today ?? new Date().toISOString().slice(0, 10),
    locales,
    territories,
  };
  for (const app of apps) {
    app.iaps.forEach((iap, index) => {
      iap.details = iapDetails(ctx, iap, index);
      addMetadata(iap.details, iap, index, false);
    });
    app.groups.forEach((group: SimGroup) => {
      group.localizations = localizations(ctx, group.referenceName, true);
      group.versions = [{ id: `${group.id}-version-1`, version: 1, state: 'APPROVED' }];
      group.subscriptions.forEach((subscription, index) => {
        subscription.details = subscriptionDetails(ctx, subscription, index);
        addMetadata(subscription.details, subscription, index, true);
      });
    });
  }
}
