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
import {
  type DetailAvailability,
  type DetailLocalization,
  type DetailMetadata,
  type DetailOffer,
  type DetailPrice,
  type DetailTerritory,
  type GroupDetails,
  type MetadataKind,
  type OfferPrice,
  type ProductDetails,
  sortMetadata,
} from './model.ts';
import { DETAIL_INCLUDED_LIMIT, DETAIL_PAGE_LIMIT, type DetailShape, type GroupShape } from './plan.ts';

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
  subscriptionGroup: 'details.subscriptionGroup',
  groupLocalizations: 'details.groupLocalizations',
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

// ---------------------------------------------------------------------------------------------
// Apple's 4.x metadata: versions, plan availabilities, promoted purchase, review screenshot,
// images. All of it rides on the product's (or group's) one request as includes; the spec has
// no listing of its own for any of them, so past the include cap of 50 (versions, images) the
// unlisted records are kept as they were rather than taken for removed.

/** Attributes never stored: upload plumbing that changes without the metadata changing. */
const TRANSIENT_ATTRIBUTES = new Set(['uploadOperations', 'assetToken', 'imageAsset', 'sourceFileChecksum']);

function metadataRecord(
  kind: MetadataKind,
  resource: GenericResource,
  fields: { state?: string | null; version?: number | null; label?: string | null } = {},
): DetailMetadata {
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(resource.attributes ?? {}))
    if (!TRANSIENT_ATTRIBUTES.has(name)) attributes[name] = value;
  return {
    kind,
    appleId: resource.id,
    state: fields.state ?? str(attributes.state),
    version: fields.version ?? null,
    label: fields.label ?? null,
    attributes,
  };
}

interface MetadataTypes {
  screenshot: string;
  image: string;
  version: string;
}

const SUBSCRIPTION_METADATA: MetadataTypes = {
  screenshot: 'subscriptionAppStoreReviewScreenshots',
  image: 'subscriptionImages',
  version: 'subscriptionVersions',
};
const IAP_METADATA: MetadataTypes = {
  screenshot: 'inAppPurchaseAppStoreReviewScreenshots',
  image: 'inAppPurchaseImages',
  version: 'inAppPurchaseVersions',
};

/** The included metadata of a product, and the kinds whose include was capped. */
function productMetadata(
  product: GenericResource,
  included: Included,
  request: string,
  types: MetadataTypes,
): { metadata: DetailMetadata[]; partialKinds: MetadataKind[] } {
  const metadata: DetailMetadata[] = [];
  const partialKinds: MetadataKind[] = [];
  const screenshotId = toOne(product, 'appStoreReviewScreenshot');
  if (screenshotId) {
    const screenshot = included.get(types.screenshot, screenshotId);
    if (!screenshot)
      throw inconsistency(request, `review screenshot ${screenshotId} is linked but not included`);
    const delivery = attr(screenshot, 'assetDeliveryState');
    const state =
      delivery && typeof delivery === 'object' ? str((delivery as Record<string, unknown>).state) : null;
    metadata.push(metadataRecord('review_screenshot', screenshot, { state }));
  }
  const promotedId = toOne(product, 'promotedPurchase');
  if (promotedId) {
    const promoted = included.get('promotedPurchases', promotedId);
    if (!promoted) throw inconsistency(request, `promoted purchase ${promotedId} is linked but not included`);
    metadata.push(metadataRecord('promoted_purchase', promoted));
  }
  const many = (
    name: string,
    type: string,
    kind: MetadataKind,
    read: (r: GenericResource) => DetailMetadata,
  ) => {
    const relationship = toMany(product, name);
    if (isRelationshipTruncated(relationship)) partialKinds.push(kind);
    for (const resource of included.linked(relationship, type, request)) metadata.push(read(resource));
  };
  many('images', types.image, 'image', (r) => metadataRecord('image', r));
  many('versions', types.version, 'version', (r) =>
    metadataRecord('version', r, { version: int(attr(r, 'version')) }),
  );
  if (types === SUBSCRIPTION_METADATA) {
    many('planAvailabilities', 'subscriptionPlanAvailabilities', 'plan_availability', (r) =>
      metadataRecord('plan_availability', r, { label: str(attr(r, 'planType')) }),
    );
  }
  return { metadata: sortMetadata(metadata), partialKinds };
}

const SUBSCRIPTION_METADATA_INCLUDES =
  'planAvailabilities,appStoreReviewScreenshot,promotedPurchase,images,versions';
const IAP_METADATA_INCLUDES = 'appStoreReviewScreenshot,promotedPurchase,images,versions';

export interface FetchedGroupDetails {
  details: GroupDetails;
  shape: GroupShape;
}

/**
 * A subscription group's localizations and versions: one request including both (the group's
 * own localization listing only past the cap of 50).
 */
export async function fetchGroupDetails(client: DetailsClient, id: string): Promise<FetchedGroupDetails> {
  const base = `/v1/subscriptionGroups/${encodeURIComponent(id)}`;
  const request = `GET ${base}`;
  const relationships = 'subscriptionGroupLocalizations,versions';
  const document = await client.getDocument(
    base,
    {
      include: relationships,
      'fields[subscriptionGroups]': relationships,
      'limit[subscriptionGroupLocalizations]': DETAIL_INCLUDED_LIMIT,
      'limit[versions]': DETAIL_INCLUDED_LIMIT,
    },
    singleDocumentSchema,
    DETAIL_CALL_SITES.subscriptionGroup,
  );
  const group = document.data;
  const included = new Included();
  included.add(document.included);
  const localizations = await includedOrListed(
    client,
    toMany(group, 'subscriptionGroupLocalizations'),
    'subscriptionGroupLocalizations',
    included,
    request,
    `${base}/subscriptionGroupLocalizations`,
    DETAIL_CALL_SITES.groupLocalizations,
  );
  const versionsRel = toMany(group, 'versions');
  const versions = included.linked(versionsRel, 'subscriptionGroupVersions', request);
  const metadata = [
    ...localizations.map((r) => metadataRecord('group_localization', r, { label: str(attr(r, 'locale')) })),
    ...versions.map((r) => metadataRecord('version', r, { version: int(attr(r, 'version')) })),
  ];
  return {
    details: {
      groupAppleId: id,
      metadata: sortMetadata(metadata),
      partialKinds: isRelationshipTruncated(versionsRel) ? ['version'] : [],
    },
    shape: { locales: localizations.length, versions: total(versionsRel) },
  };
}

async function fetchSubscriptionDetails(client: DetailsClient, id: string): Promise<FetchedDetails> {
  const base = `/v1/subscriptions/${encodeURIComponent(id)}`;
  const request = `GET ${base}`;
  const relationships = `subscriptionLocalizations,introductoryOffers,promotionalOffers,offerCodes,winBackOffers,subscriptionAvailability,prices,${SUBSCRIPTION_METADATA_INCLUDES}`;
  const document = await client.getDocument(
    base,
    {
      include: relationships,
      'fields[subscriptions]': relationships,
      'limit[planAvailabilities]': DETAIL_INCLUDED_LIMIT,
      'limit[images]': DETAIL_INCLUDED_LIMIT,
      'limit[versions]': DETAIL_INCLUDED_LIMIT,
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

  const { metadata, partialKinds } = productMetadata(product, included, request, SUBSCRIPTION_METADATA);
  // Territories still come from the deprecated subscriptionAvailability: the plan availabilities'
  // own territory listing is not in the spec excerpt this worker follows (see docs/catalog-details.md).
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
      metadata,
      partialKinds,
    },
    shape,
  };
}

async function fetchIapDetails(client: DetailsClient, id: string): Promise<FetchedDetails> {
  const base = `/v2/inAppPurchases/${encodeURIComponent(id)}`;
  const request = `GET ${base}`;
  const relationships = `inAppPurchaseLocalizations,iapPriceSchedule,inAppPurchaseAvailability,offerCodes,${IAP_METADATA_INCLUDES}`;
  const document = await client.getDocument(
    base,
    {
      include: relationships,
      'fields[inAppPurchases]': relationships,
      'limit[images]': DETAIL_INCLUDED_LIMIT,
      'limit[versions]': DETAIL_INCLUDED_LIMIT,
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

  const { metadata, partialKinds } = productMetadata(product, included, request, IAP_METADATA);
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
      metadata,
      partialKinds,
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
