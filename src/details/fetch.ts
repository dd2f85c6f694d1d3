import { z } from 'zod';
import {
  type AppStoreClient,
  AppStoreError,
  type GenericResource,
  genericResourceSchema,
  isRelationshipTruncated,
  type ToManyRelationship,
} from '../appstore/index.ts';
import { compareStrings } from '../catalog/canonical.ts';
import type {
  DetailAvailability,
  DetailLocalization,
  DetailOffer,
  DetailPrice,
  DetailTerritory,
  OfferPrice,
  ProductDetails,
} from './model.ts';
import { DETAIL_INCLUDED_LIMIT, DETAIL_PAGE_LIMIT, type DetailShape } from './plan.ts';

/*
 * Reading one product's details with the fewest requests (plan.ts says how many and why):
 * one product request that includes everything that needs no price amounts, then, side by
 * side, the priced collections (with their price points and territories included) and what
 * hit the include cap. Returns complete details or throws: never a partial product.
 */

export type DetailsClient = Pick<AppStoreClient, 'getDocument' | 'paginate'>;

/** Call sites in the client's statistics, one per endpoint (metrics: detail requests by endpoint). */
export const DETAIL_CALL_SITES = {
  subscription: 'details.subscription',
  subscriptionPrices: 'details.subscriptionPrices',
  introductoryOffers: 'details.introductoryOffers',
  promotionalOffers: 'details.promotionalOffers',
  offerCodes: 'details.offerCodes',
  winBackOffers: 'details.winBackOffers',
  offerPrices: 'details.offerPrices',
  localizations: 'details.localizations',
  availableTerritories: 'details.availableTerritories',
  iap: 'details.inAppPurchase',
  iapManualPrices: 'details.iapManualPrices',
  iapAutomaticPrices: 'details.iapAutomaticPrices',
} as const;

const singleDocumentSchema = z.looseObject({
  data: genericResourceSchema,
  included: z.array(genericResourceSchema).optional(),
});

export interface FetchedDetails {
  details: ProductDetails;
  shape: DetailShape;
}

type Relationship = NonNullable<GenericResource['relationships']>[string];

const attr = (resource: GenericResource, name: string): unknown => resource.attributes?.[name];
const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const int = (value: unknown): number | null =>
  typeof value === 'number' && Number.isInteger(value) ? value : null;
const bool = (value: unknown): boolean | null => (typeof value === 'boolean' ? value : null);
const day = (value: unknown): string | null => {
  const text = str(value);
  return text && /^\d{4}-\d{2}-\d{2}/.test(text) ? text.slice(0, 10) : null;
};

function toOne(resource: GenericResource, name: string): string | null | undefined {
  const data = resource.relationships?.[name]?.data;
  if (data === undefined) return undefined;
  if (data === null || Array.isArray(data)) return null;
  return data.id;
}

function toMany(resource: GenericResource, name: string): ToManyRelationship | undefined {
  const relationship: Relationship | undefined = resource.relationships?.[name];
  if (!relationship) return undefined;
  const data = relationship.data;
  return { ...relationship, data: Array.isArray(data) ? data : undefined } as ToManyRelationship;
}

const total = (relationship: ToManyRelationship | undefined): number =>
  relationship?.meta?.paging.total ?? relationship?.data?.length ?? 0;

function inconsistency(request: string, problem: string): AppStoreError {
  return new AppStoreError(
    'schema',
    `App Store Connect returned an inconsistent response to ${request}: ${problem}. ` +
      "The product's details were not applied; if this persists, report this message.",
    { request },
  );
}

/** Included resources by `type/id`; territories (with currency) collected on the way. */
class Included {
  readonly #byKey = new Map<string, GenericResource>();
  readonly territories = new Map<string, string>();

  add(resources: readonly unknown[] | undefined): void {
    for (const resource of resources ?? []) {
      const parsed = genericResourceSchema.safeParse(resource);
      if (!parsed.success) continue;
      this.#byKey.set(`${parsed.data.type}/${parsed.data.id}`, parsed.data);
      if (parsed.data.type === 'territories') {
        const currency = str(attr(parsed.data, 'currency'));
        if (currency) this.territories.set(parsed.data.id, currency);
      }
    }
  }

  get(type: string, id: string): GenericResource | undefined {
    return this.#byKey.get(`${type}/${id}`);
  }

  linked(relationship: ToManyRelationship | undefined, type: string, request: string): GenericResource[] {
    return (relationship?.data ?? []).map((link) => {
      const resource = this.get(link.type || type, link.id);
      if (!resource) throw inconsistency(request, `${type} ${link.id} is linked but not included`);
      return resource;
    });
  }
}

const EMPTY_SHAPE = (kind: 'subscription' | 'iap'): DetailShape => ({
  kind,
  priceRecords: 0,
  automaticPrices: 0,
  hasPriceSchedule: false,
  introductoryRecords: 0,
  introductoryPaid: false,
  promotionalOffers: 0,
  offerCodes: 0,
  winBackOffers: 0,
  offerTerritories: [],
  locales: 0,
  availabilityTerritories: null,
});

const PRICE_POINT_INCLUDE = 'subscriptionPricePoint,territory';

interface Amounts {
  pricePointId: string | null;
  customerPrice: string | null;
  proceeds: string | null;
  proceedsYear2: string | null;
}

function amountsOf(included: Included, pointType: string, pointId: string | null | undefined): Amounts {
  if (!pointId) return { pricePointId: null, customerPrice: null, proceeds: null, proceedsYear2: null };
  const point = included.get(pointType, pointId);
  return {
    pricePointId: pointId,
    customerPrice: point ? str(attr(point, 'customerPrice')) : null,
    proceeds: point ? str(attr(point, 'proceeds')) : null,
    proceedsYear2: point ? str(attr(point, 'proceedsYear2')) : null,
  };
}

function territoryOf(resource: GenericResource, request: string): string {
  const territory = toOne(resource, 'territory');
  if (!territory) throw inconsistency(request, `${resource.type} ${resource.id} has no territory`);
  return territory;
}

/** An offer's prices per territory (`…/{offerId}/prices`, price points and territories included). */
async function offerPrices(
  client: DetailsClient,
  path: string,
  pointRelationship: string,
  pointType: string,
  included: Included,
): Promise<OfferPrice[]> {
  const request = `GET ${path}`;
  const page = await client.paginate(
    path,
    { limit: DETAIL_PAGE_LIMIT, include: `${pointRelationship},territory` },
    undefined,
    DETAIL_CALL_SITES.offerPrices,
  );
  included.add(page.included);
  return page.data
    .map((price) => {
      const territory = territoryOf(price, request);
      const amounts = amountsOf(included, pointType, toOne(price, pointRelationship));
      return { territory, currency: included.territories.get(territory) ?? null, ...amounts };
    })
    .sort((a, b) => compareStrings(a.territory, b.territory));
}

const ELIGIBILITY_FIELDS = [
  'customerEligibilities',
  'offerEligibility',
  'customerEligibilityPaidSubscriptionDurationInMonths',
  'customerEligibilityTimeSinceLastSubscribedInMonths',
  'customerEligibilityWaitBetweenOffersInMonths',
  'targetSubscriptionPlanType',
  'priority',
  'promotionIntent',
  'autoRenewEnabled',
] as const;

function offerOf(
  resource: GenericResource,
  kind: DetailOffer['kind'],
  prices: OfferPrice[],
  territory: string | null,
): DetailOffer {
  const attributes = resource.attributes ?? {};
  const eligibility: Record<string, unknown> = {};
  for (const field of ELIGIBILITY_FIELDS)
    if (attributes[field] !== undefined) eligibility[field] = attributes[field];
  return {
    appleId: resource.id,
    kind,
    territory,
    name: str(attributes.name) ?? str(attributes.referenceName),
    offerMode: str(attributes.offerMode),
    duration: str(attributes.duration),
    numberOfPeriods: int(attributes.numberOfPeriods) ?? int(attributes.periodCount),
    startDate: day(attributes.startDate),
    endDate: day(attributes.endDate),
    active: bool(attributes.active),
    eligibility,
    raw: attributes,
    prices,
  };
}

function localizationOf(resource: GenericResource): DetailLocalization {
  return {
    appleId: resource.id,
    locale: str(attr(resource, 'locale')) ?? '',
    name: str(attr(resource, 'name')),
    description: str(attr(resource, 'description')),
    state: str(attr(resource, 'state')),
    raw: resource.attributes ?? {},
  };
}

/** A relationship's resources: the included ones, or its whole listing when the include was capped. */
async function includedOrListed(
  client: DetailsClient,
  relationship: ToManyRelationship | undefined,
  type: string,
  included: Included,
  request: string,
  listingPath: string,
  callSite: string,
): Promise<GenericResource[]> {
  if (total(relationship) === 0) return [];
  if (!isRelationshipTruncated(relationship)) return included.linked(relationship, type, request);
  const page = await client.paginate(listingPath, { limit: DETAIL_PAGE_LIMIT }, undefined, callSite);
  included.add(page.included);
  return page.data;
}

async function availabilityOf(
  client: DetailsClient,
  resource: GenericResource | undefined,
  path: (id: string) => string,
  included: Included,
): Promise<DetailAvailability | null> {
  if (!resource) return null;
  const page = await client.paginate(
    path(resource.id),
    { limit: DETAIL_PAGE_LIMIT },
    undefined,
    DETAIL_CALL_SITES.availableTerritories,
  );
  included.add(page.data);
  return {
    appleId: resource.id,
    availableInNewTerritories: bool(attr(resource, 'availableInNewTerritories')),
    territories: page.data.map((t) => t.id).sort(compareStrings),
  };
}

function territoriesOf(included: Included): DetailTerritory[] {
  return [...included.territories]
    .map(([id, currency]) => ({ id, currency }))
    .sort((a, b) => compareStrings(a.id, b.id));
}

const sortPrices = (prices: DetailPrice[]) =>
  prices.sort(
    (a, b) =>
      compareStrings(a.territory, b.territory) || compareStrings(a.startDate ?? '', b.startDate ?? ''),
  );
const sortById = <T extends { appleId: string }>(items: T[]) =>
  items.sort((a, b) => compareStrings(a.appleId, b.appleId));

async function fetchSubscriptionDetails(client: DetailsClient, id: string): Promise<FetchedDetails> {
  const base = `/v1/subscriptions/${encodeURIComponent(id)}`;
  const request = `GET ${base}`;
  const relationships =
    'subscriptionLocalizations,introductoryOffers,promotionalOffers,offerCodes,winBackOffers,subscriptionAvailability,prices';
  const document = await client.getDocument(
    base,
    {
      include: relationships,
      'fields[subscriptions]': relationships,
      'limit[subscriptionLocalizations]': DETAIL_INCLUDED_LIMIT,
      'limit[introductoryOffers]': DETAIL_INCLUDED_LIMIT,
      'limit[promotionalOffers]': DETAIL_INCLUDED_LIMIT,
      'limit[offerCodes]': DETAIL_INCLUDED_LIMIT,
      'limit[winBackOffers]': DETAIL_INCLUDED_LIMIT,
      // Only the total is used: the prices' amounts come with their own listing.
      'limit[prices]': 1,
    },
    singleDocumentSchema,
    DETAIL_CALL_SITES.subscription,
  );
  const product = document.data;
  const included = new Included();
  included.add(document.included);
  const shape = EMPTY_SHAPE('subscription');

  const pricesRel = toMany(product, 'prices');
  shape.priceRecords = total(pricesRel);
  const pricesPromise = (async (): Promise<DetailPrice[]> => {
    if (shape.priceRecords === 0) return [];
    const path = `${base}/prices`;
    const page = await client.paginate(
      path,
      { limit: DETAIL_PAGE_LIMIT, include: PRICE_POINT_INCLUDE },
      undefined,
      DETAIL_CALL_SITES.subscriptionPrices,
    );
    included.add(page.included);
    shape.priceRecords = page.data.length;
    return page.data.map((price) => {
      const territory = territoryOf(price, `GET ${path}`);
      return {
        appleId: price.id,
        territory,
        startDate: day(attr(price, 'startDate')),
        endDate: day(attr(price, 'endDate')),
        preserved: bool(attr(price, 'preserved')) ?? false,
        source: 'manual',
        planType: str(attr(price, 'planType')),
        currency: included.territories.get(territory) ?? null,
        ...amountsOf(included, 'subscriptionPricePoints', toOne(price, 'subscriptionPricePoint')),
      };
    });
  })();

  const introRel = toMany(product, 'introductoryOffers');
  shape.introductoryRecords = total(introRel);
  const introPromise = (async (): Promise<DetailOffer[]> => {
    if (shape.introductoryRecords === 0) return [];
    let records: GenericResource[] | undefined;
    if (!isRelationshipTruncated(introRel)) {
      const linked = included.linked(introRel, 'subscriptionIntroductoryOffers', request);
      const paid = linked.some((r) => toOne(r, 'subscriptionPricePoint'));
      const located = linked.every((r) => toOne(r, 'territory'));
      shape.introductoryPaid = paid;
      if (!paid && located) records = linked;
    } else {
      shape.introductoryPaid = true; // unknown beyond the cap; the listing reads them all anyway
    }
    if (!records) {
      const page = await client.paginate(
        `${base}/introductoryOffers`,
        { limit: DETAIL_PAGE_LIMIT, include: PRICE_POINT_INCLUDE },
        undefined,
        DETAIL_CALL_SITES.introductoryOffers,
      );
      included.add(page.included);
      records = page.data;
      shape.introductoryRecords = records.length;
      shape.introductoryPaid = records.some((r) => toOne(r, 'subscriptionPricePoint'));
    }
    return records.map((record) => {
      const territory = territoryOf(record, `GET ${base}/introductoryOffers`);
      const amounts = amountsOf(included, 'subscriptionPricePoints', toOne(record, 'subscriptionPricePoint'));
      return offerOf(
        record,
        'introductory',
        [{ territory, currency: included.territories.get(territory) ?? null, ...amounts }],
        territory,
      );
    });
  })();

  const pricedOffers = async (
    relationshipName: string,
    type: string,
    listing: string,
    callSite: string,
    kind: DetailOffer['kind'],
    pricesPath: (offerId: string) => string,
  ): Promise<DetailOffer[]> => {
    const relationship = toMany(product, relationshipName);
    const offers = await includedOrListed(
      client,
      relationship,
      type,
      included,
      request,
      `${base}/${listing}`,
      callSite,
    );
    return Promise.all(
      offers.map(async (offer) =>
        offerOf(
          offer,
          kind,
          await offerPrices(
            client,
            pricesPath(offer.id),
            'subscriptionPricePoint',
            'subscriptionPricePoints',
            included,
          ),
          null,
        ),
      ),
    );
  };
  const promotionalPromise = pricedOffers(
    'promotionalOffers',
    'subscriptionPromotionalOffers',
    'promotionalOffers',
    DETAIL_CALL_SITES.promotionalOffers,
    'promotional',
    (offerId) => `/v1/subscriptionPromotionalOffers/${encodeURIComponent(offerId)}/prices`,
  );
  const codesPromise = pricedOffers(
    'offerCodes',
    'subscriptionOfferCodes',
    'offerCodes',
    DETAIL_CALL_SITES.offerCodes,
    'offer_code',
    (offerId) => `/v1/subscriptionOfferCodes/${encodeURIComponent(offerId)}/prices`,
  );
  const winBackPromise = pricedOffers(
    'winBackOffers',
    'winBackOffers',
    'winBackOffers',
    DETAIL_CALL_SITES.winBackOffers,
    'win_back',
    (offerId) => `/v1/winBackOffers/${encodeURIComponent(offerId)}/prices`,
  );

  const localizationsPromise = includedOrListed(
    client,
    toMany(product, 'subscriptionLocalizations'),
    'subscriptionLocalizations',
    included,
    request,
    `${base}/subscriptionLocalizations`,
    DETAIL_CALL_SITES.localizations,
  ).then((resources) => resources.map(localizationOf));

  const availabilityId = toOne(product, 'subscriptionAvailability');
  const availabilityPromise = availabilityOf(
    client,
    availabilityId ? included.get('subscriptionAvailabilities', availabilityId) : undefined,
    (aid) => `/v1/subscriptionAvailabilities/${encodeURIComponent(aid)}/availableTerritories`,
    included,
  );

  const [prices, intro, promotional, codes, winBack, localizations, availability] = await Promise.all([
    pricesPromise,
    introPromise,
    promotionalPromise,
    codesPromise,
    winBackPromise,
    localizationsPromise,
    availabilityPromise,
  ]);
  shape.promotionalOffers = promotional.length;
  shape.offerCodes = codes.length;
  shape.winBackOffers = winBack.length;
  shape.offerTerritories = [...promotional, ...codes, ...winBack].map((o) => o.prices.length);
  shape.locales = localizations.length;
  shape.availabilityTerritories = availability ? availability.territories.length : null;
  return {
    details: {
      productAppleId: id,
      prices: sortPrices(prices),
      offers: sortById([...intro, ...promotional, ...codes, ...winBack]),
      localizations: sortById(localizations),
      availability,
      territories: territoriesOf(included),
    },
    shape,
  };
}

async function fetchIapDetails(client: DetailsClient, id: string): Promise<FetchedDetails> {
  const base = `/v2/inAppPurchases/${encodeURIComponent(id)}`;
  const request = `GET ${base}`;
  const relationships = 'inAppPurchaseLocalizations,iapPriceSchedule,inAppPurchaseAvailability,offerCodes';
  const document = await client.getDocument(
    base,
    {
      include: relationships,
      'fields[inAppPurchases]': relationships,
      'limit[inAppPurchaseLocalizations]': DETAIL_INCLUDED_LIMIT,
      'limit[offerCodes]': DETAIL_INCLUDED_LIMIT,
    },
    singleDocumentSchema,
    DETAIL_CALL_SITES.iap,
  );
  const product = document.data;
  const included = new Included();
  included.add(document.included);
  const shape = EMPTY_SHAPE('iap');

  const scheduleId = toOne(product, 'iapPriceSchedule');
  shape.hasPriceSchedule = Boolean(scheduleId);
  const schedulePrices = async (which: 'manualPrices' | 'automaticPrices'): Promise<DetailPrice[]> => {
    if (!scheduleId) return [];
    const path = `/v1/inAppPurchasePriceSchedules/${encodeURIComponent(scheduleId)}/${which}`;
    const page = await client.paginate(
      path,
      { limit: DETAIL_PAGE_LIMIT, include: 'inAppPurchasePricePoint,territory' },
      undefined,
      which === 'manualPrices' ? DETAIL_CALL_SITES.iapManualPrices : DETAIL_CALL_SITES.iapAutomaticPrices,
    );
    included.add(page.included);
    return page.data.map((price) => {
      const territory = territoryOf(price, `GET ${path}`);
      return {
        appleId: price.id,
        territory,
        startDate: day(attr(price, 'startDate')),
        endDate: day(attr(price, 'endDate')),
        preserved: null,
        source: which === 'manualPrices' ? 'manual' : 'automatic',
        planType: null,
        currency: included.territories.get(territory) ?? null,
        ...amountsOf(included, 'inAppPurchasePricePoints', toOne(price, 'inAppPurchasePricePoint')),
      };
    });
  };

  const codesPromise = includedOrListed(
    client,
    toMany(product, 'offerCodes'),
    'inAppPurchaseOfferCodes',
    included,
    request,
    `${base}/offerCodes`,
    DETAIL_CALL_SITES.offerCodes,
  ).then((codes) =>
    Promise.all(
      codes.map(async (code) =>
        offerOf(
          code,
          'offer_code',
          await offerPrices(
            client,
            `/v1/inAppPurchaseOfferCodes/${encodeURIComponent(code.id)}/prices`,
            'pricePoint',
            'inAppPurchasePricePoints',
            included,
          ),
          null,
        ),
      ),
    ),
  );
  const localizationsPromise = includedOrListed(
    client,
    toMany(product, 'inAppPurchaseLocalizations'),
    'inAppPurchaseLocalizations',
    included,
    request,
    `${base}/inAppPurchaseLocalizations`,
    DETAIL_CALL_SITES.localizations,
  ).then((resources) => resources.map(localizationOf));
  const availabilityId = toOne(product, 'inAppPurchaseAvailability');
  const availabilityPromise = availabilityOf(
    client,
    availabilityId ? included.get('inAppPurchaseAvailabilities', availabilityId) : undefined,
    (aid) => `/v1/inAppPurchaseAvailabilities/${encodeURIComponent(aid)}/availableTerritories`,
    included,
  );

  const [manual, automatic, codes, localizations, availability] = await Promise.all([
    schedulePrices('manualPrices'),
    schedulePrices('automaticPrices'),
    codesPromise,
    localizationsPromise,
    availabilityPromise,
  ]);
  shape.priceRecords = manual.length;
  shape.automaticPrices = automatic.length;
  shape.offerCodes = codes.length;
  shape.offerTerritories = codes.map((o) => o.prices.length);
  shape.locales = localizations.length;
  shape.availabilityTerritories = availability ? availability.territories.length : null;
  return {
    details: {
      productAppleId: id,
      prices: sortPrices([...manual, ...automatic]),
      offers: sortById(codes),
      localizations: sortById(localizations),
      availability,
      territories: territoriesOf(included),
    },
    shape,
  };
}

/** One product's details, complete, or throws (a 404 means the product is gone: kind `not_found`). */
export async function fetchProductDetails(
  client: DetailsClient,
  product: { appleId: string; kind: string },
): Promise<FetchedDetails> {
  return product.kind === 'auto_renewable_subscription'
    ? fetchSubscriptionDetails(client, product.appleId)
    : fetchIapDetails(client, product.appleId);
}
