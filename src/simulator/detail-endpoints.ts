import { notFound } from './apple-errors.ts';
import { compareIds, type SimGroup, type SimOffer } from './catalog.ts';
import {
  availableTerritories,
  baseTerritoryOf,
  type DetailResource,
  groupLocalizations,
  type IapRef,
  iapAvailability,
  iapLocalizations,
  iapOfferCodes,
  iapOfferPrices,
  iapPricePoint,
  iapPriceSchedule,
  iapPrices,
  introductoryOffers,
  offerCodePrices,
  pricePoints,
  promotionalOfferPrices,
  promotionalOffers,
  renderDetail,
  type SubscriptionRef,
  subscriptionAvailability,
  subscriptionLocalizations,
  subscriptionOfferCodes,
  subscriptionPricePoint,
  subscriptionPrices,
  territoryResource,
  upfrontPricePoint,
  winBackOfferPrices,
  winBackOffers,
} from './details-resources.ts';
import {
  canSee,
  collection,
  type Endpoint,
  type EndpointContext,
  type EndpointResult,
  includeRelationships,
  paginate,
  type Route,
  route,
  single,
} from './endpoints.ts';
import { TERRITORY_IDS, TIER_COUNT } from './territories.ts';

/*
 * The catalog-details GET endpoints: prices and price points, offers and their
 * prices, localizations, availability, IAP price schedules, territories. Records are derived
 * per request from the products' compact details (details-resources.ts).
 */

const TERRITORY_RESOURCES: DetailResource[] = TERRITORY_IDS.map(territoryResource);

type Found<T> = { ok: true; value: T } | { ok: false; result: EndpointResult };

function subscriptionRef(ctx: EndpointContext): Found<SubscriptionRef> {
  const ref = ctx.store.index().productsById.get(ctx.id!);
  if (!ref?.subscription || !ref.group || !canSee(ctx.key, ref.app.id)) {
    return { ok: false, result: notFound('subscriptions', ctx.id!) };
  }
  return { ok: true, value: { app: ref.app, group: ref.group, subscription: ref.subscription } };
}

function iapRef(ctx: EndpointContext, type = 'inAppPurchases'): Found<IapRef> {
  const ref = ctx.store.index().productsById.get(ctx.id!);
  if (!ref?.iap || !canSee(ctx.key, ref.app.id)) return { ok: false, result: notFound(type, ctx.id!) };
  return { ok: true, value: { app: ref.app, iap: ref.iap } };
}

function offerRef(
  ctx: EndpointContext,
  type: string,
  kind: SimOffer['kind'],
  iap: boolean,
): Found<{ offer: SimOffer; subscription?: SubscriptionRef; iap?: IapRef }> {
  const found = ctx.store.detailsIndex().offers.get(ctx.id!);
  const product = found?.product;
  if (!found || !product || found.offer.kind !== kind || !canSee(ctx.key, product.app.id)) {
    return { ok: false, result: notFound(type, ctx.id!) };
  }
  if (iap) {
    if (!product.iap) return { ok: false, result: notFound(type, ctx.id!) };
    return { ok: true, value: { offer: found.offer, iap: { app: product.app, iap: product.iap } } };
  }
  if (!product.subscription || !product.group) return { ok: false, result: notFound(type, ctx.id!) };
  return {
    ok: true,
    value: {
      offer: found.offer,
      subscription: { app: product.app, group: product.group, subscription: product.subscription },
    },
  };
}

/** A filter value matches a record when any of its comma-separated `match` values is asked for. */
function matcher(ctx: EndpointContext): ((item: DetailResource) => boolean) | undefined {
  const tests: [string, Set<string>][] = [];
  for (const [name, values] of ctx.query.filters)
    tests.push([name.slice('filter['.length, -1), new Set(values)]);
  if (tests.length === 0) return undefined;
  return (item) =>
    tests.every(([name, values]) => {
      const value = item.match?.[name];
      return value?.split(',').some((part) => values.has(part)) ?? false;
    });
}

function detailCollection(ctx: EndpointContext, items: readonly DetailResource[]): EndpointResult {
  const page = paginate(ctx, items, matcher(ctx));
  if ('status' in page) return page;
  const included = ctx.query.include.size > 0 ? new Map<string, Record<string, unknown>>() : undefined;
  const data = page.items.map((item) =>
    JSON.stringify(
      renderDetail(item, ctx.base, {
        fields: ctx.query.fields.get(item.type),
        included: included && includeRelationships(ctx, item.relationships, included),
      }),
    ),
  );
  return collection(ctx, page, data, included);
}

function detailSingle(ctx: EndpointContext, item: DetailResource): EndpointResult {
  const included = ctx.query.include.size > 0 ? new Map<string, Record<string, unknown>>() : undefined;
  const data = renderDetail(item, ctx.base, {
    fields: ctx.query.fields.get(item.type),
    included: included && includeRelationships(ctx, item.relationships, included),
  });
  return single(ctx, data, included);
}

const ofSubscription =
  (list: (ref: SubscriptionRef, ctx: EndpointContext) => DetailResource[]): Endpoint =>
  (ctx) => {
    const found = subscriptionRef(ctx);
    return found.ok ? detailCollection(ctx, list(found.value, ctx)) : found.result;
  };

const ofIap =
  (list: (ref: IapRef, ctx: EndpointContext) => DetailResource[], type?: string): Endpoint =>
  (ctx) => {
    const found = iapRef(ctx, type);
    return found.ok ? detailCollection(ctx, list(found.value, ctx)) : found.result;
  };

const ofOffer =
  (
    type: string,
    kind: SimOffer['kind'],
    iap: boolean,
    list: (found: { offer: SimOffer; subscription?: SubscriptionRef; iap?: IapRef }) => DetailResource[],
  ): Endpoint =>
  (ctx) => {
    const found = offerRef(ctx, type, kind, iap);
    return found.ok ? detailCollection(ctx, list(found.value)) : found.result;
  };

/** Only the asked territories' points are built when `filter[territory]` is given (8,000-row pages). */
const territoriesAsked = (ctx: EndpointContext) => ctx.query.filters.get('filter[territory]');

const listTerritories: Endpoint = (ctx) => detailCollection(ctx, TERRITORY_RESOURCES);

const getSubscriptionAvailability: Endpoint = (ctx) => {
  const found = subscriptionRef(ctx);
  if (!found.ok) return found.result;
  const availability = subscriptionAvailability(found.value);
  return availability ? detailSingle(ctx, availability) : notFound('subscriptionAvailabilities', ctx.id!);
};

const getIapAvailability: Endpoint = (ctx) => {
  const found = iapRef(ctx);
  if (!found.ok) return found.result;
  const availability = iapAvailability(found.value);
  return availability ? detailSingle(ctx, availability) : notFound('inAppPurchaseAvailabilities', ctx.id!);
};

const subscriptionAvailableTerritories: Endpoint = (ctx) => {
  const ref = ctx.store.index().productsById.get(ctx.id!);
  const details = ref?.subscription?.details;
  if (!ref || !details?.availability || !canSee(ctx.key, ref.app.id))
    return notFound('subscriptionAvailabilities', ctx.id!);
  return detailCollection(ctx, availableTerritories(details));
};

const iapAvailableTerritories: Endpoint = (ctx) => {
  const ref = ctx.store.index().productsById.get(ctx.id!);
  const details = ref?.iap?.details;
  if (!ref || !details?.availability || !canSee(ctx.key, ref.app.id))
    return notFound('inAppPurchaseAvailabilities', ctx.id!);
  return detailCollection(ctx, availableTerritories(details));
};

const getPriceSchedule: Endpoint = (ctx) => {
  const found = iapRef(ctx);
  if (!found.ok) return found.result;
  const schedule = iapPriceSchedule(found.value, ctx.today);
  return schedule ? detailSingle(ctx, schedule) : notFound('inAppPurchasePriceSchedules', ctx.id!);
};

const scheduleOf = (ctx: EndpointContext): Found<IapRef> => {
  const found = iapRef(ctx, 'inAppPurchasePriceSchedules');
  if (found.ok && !found.value.iap.details) {
    return { ok: false, result: notFound('inAppPurchasePriceSchedules', ctx.id!) };
  }
  return found;
};

const schedulePrices =
  (manual: boolean): Endpoint =>
  (ctx) => {
    const found = scheduleOf(ctx);
    return found.ok ? detailCollection(ctx, iapPrices(found.value, ctx.today, manual)) : found.result;
  };

const scheduleBaseTerritory: Endpoint = (ctx) => {
  const found = scheduleOf(ctx);
  if (!found.ok) return found.result;
  return detailSingle(ctx, territoryResource(baseTerritoryOf(found.value.iap.details!)));
};

const groupLocalizationList: Endpoint = (ctx) => {
  const owner: { app: { id: string }; group: SimGroup } | undefined = ctx.store
    .index()
    .groupsById.get(ctx.id!);
  if (!owner || !canSee(ctx.key, owner.app.id)) return notFound('subscriptionGroups', ctx.id!);
  return detailCollection(ctx, groupLocalizations(owner.group));
};

export const DETAIL_ROUTES: Route[] = [
  route('/v1/territories', listTerritories, false),
  route(
    '/v1/subscriptions/{id}/prices',
    ofSubscription((ref, ctx) => subscriptionPrices(ref, ctx.today)),
    true,
    'id',
  ),
  route(
    '/v1/subscriptions/{id}/pricePoints',
    ofSubscription((ref, ctx) => {
      const d = ref.subscription.details;
      const monthly = pricePoints(
        d,
        (t, tier) => subscriptionPricePoint(ref.subscription.id, t, tier),
        TIER_COUNT,
        territoriesAsked(ctx),
      );
      if (!d?.planAvailabilities?.some((plan) => plan.planType === 'UPFRONT')) return monthly;
      const upfront = pricePoints(
        d,
        (t, tier) => upfrontPricePoint(ref.subscription.id, t, tier),
        TIER_COUNT,
        territoriesAsked(ctx),
      );
      return [...monthly, ...upfront].sort((a, b) => compareIds(a.id, b.id));
    }),
    true,
    'id',
  ),
  route('/v1/subscriptions/{id}/introductoryOffers', ofSubscription(introductoryOffers), true, 'id'),
  route('/v1/subscriptions/{id}/promotionalOffers', ofSubscription(promotionalOffers), true, 'id'),
  route('/v1/subscriptions/{id}/offerCodes', ofSubscription(subscriptionOfferCodes), true, 'id'),
  route('/v1/subscriptions/{id}/winBackOffers', ofSubscription(winBackOffers), true, 'id'),
  route(
    '/v1/subscriptions/{id}/subscriptionLocalizations',
    ofSubscription(subscriptionLocalizations),
    true,
    'id',
  ),
  route('/v1/subscriptions/{id}/subscriptionAvailability', getSubscriptionAvailability, true, 'id'),
  route(
    '/v1/subscriptionAvailabilities/{id}/availableTerritories',
    subscriptionAvailableTerritories,
    true,
    'id',
  ),
  route('/v1/subscriptionGroups/{id}/subscriptionGroupLocalizations', groupLocalizationList, true),
  route(
    '/v1/subscriptionPromotionalOffers/{id}/prices',
    ofOffer('subscriptionPromotionalOffers', 'promotional', false, (f) =>
      promotionalOfferPrices(f.subscription!, f.offer),
    ),
    true,
    'offer',
  ),
  route(
    '/v1/winBackOffers/{id}/prices',
    ofOffer('winBackOffers', 'winBack', false, (f) => winBackOfferPrices(f.subscription!, f.offer)),
    true,
    'offer',
  ),
  route(
    '/v1/subscriptionOfferCodes/{id}/prices',
    ofOffer('subscriptionOfferCodes', 'offerCode', false, (f) => offerCodePrices(f.subscription!, f.offer)),
    true,
    'offer',
  ),
  route('/v2/inAppPurchases/{id}/inAppPurchaseLocalizations', ofIap(iapLocalizations), true, 'id'),
  route('/v2/inAppPurchases/{id}/inAppPurchaseAvailability', getIapAvailability, true, 'id'),
  route('/v1/inAppPurchaseAvailabilities/{id}/availableTerritories', iapAvailableTerritories, true, 'id'),
  route('/v2/inAppPurchases/{id}/iapPriceSchedule', getPriceSchedule, true, 'id'),
  route('/v1/inAppPurchasePriceSchedules/{id}/manualPrices', schedulePrices(true), true, 'id'),
  route('/v1/inAppPurchasePriceSchedules/{id}/automaticPrices', schedulePrices(false), true, 'id'),
  route('/v1/inAppPurchasePriceSchedules/{id}/baseTerritory', scheduleBaseTerritory, true, 'id'),
  route(
    '/v2/inAppPurchases/{id}/pricePoints',
    ofIap((ref, ctx) =>
      pricePoints(
        ref.iap.details,
        (t, tier) => iapPricePoint(ref.iap.id, t, tier),
        TIER_COUNT,
        territoriesAsked(ctx),
      ),
    ),
    true,
    'id',
  ),
  route('/v2/inAppPurchases/{id}/offerCodes', ofIap(iapOfferCodes), true, 'id'),
  route(
    '/v1/inAppPurchaseOfferCodes/{id}/prices',
    ofOffer('inAppPurchaseOfferCodes', 'offerCode', true, (f) => iapOfferPrices(f.iap!, f.offer)),
    true,
    'offer',
  ),
];
