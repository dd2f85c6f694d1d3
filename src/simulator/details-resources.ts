import {
  compareIds,
  type SimApp,
  type SimDetails,
  type SimGroup,
  type SimIap,
  type SimImage,
  type SimLocalization,
  type SimMedia,
  type SimOffer,
  type SimPrice,
  type SimSubscription,
  type SimVersion,
} from './catalog.ts';
import type { Entity, IncludedRelationship, Linkage } from './documents.ts';
import { amountsFor, TERRITORIES_BY_ID, TERRITORY_IDS, TIER_COUNT } from './territories.ts';

/*
 * The catalog-details resources (prices, price points, offers and their prices, localizations,
 * availability, IAP price schedules, territories), derived per request from a product's compact
 * `details`. Shapes follow Apple's 4.4.1 schemas: linkage-only relationships (a price's
 * `territory`) always carry `data`; to-ones with links carry `data` when included; to-manys carry
 * `meta.paging` and `data` when included.
 */

export interface DetailResource {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  relationships: DetailRelationship[];
  /** Values the collection filters match on (`territory`, `planType`, …). */
  match?: Record<string, string>;
}

/** What a relationship points at: another detail resource, or a structure resource. */
export type Target = { detail: DetailResource } | { entity: Entity };

export type DetailRelationship =
  /** Declared by Apple with `data` only: always rendered with its linkage. */
  | { name: string; kind: 'data'; target: () => Target; linkage?: Linkage }
  /** Links, and `data` when included. */
  | { name: string; kind: 'one'; target: () => Target | undefined }
  /** Links, and `meta.paging` + `data` when included. */
  | { name: string; kind: 'many'; items: () => Target[] }
  /** Links only (Apple declares no data). */
  | { name: string; kind: 'links' };

export function targetLinkage(target: Target): Linkage {
  return 'detail' in target
    ? { type: target.detail.type, id: target.detail.id }
    : { type: target.entity.type, id: target.entity.value.id };
}

/**
 * Ids of derived records: opaque to clients (Apple's are base64 JSON), built here so that they
 * sort (by length, then text) in the order the records are derived — by territory, then date or
 * tier — so a product's lists need no real sorting and big listings stay cheap.
 */
const day = (date: string | null | undefined) =>
  date ? `${date.slice(0, 4)}${date.slice(5, 7)}${date.slice(8, 10)}` : '00000000';

const pricePointId = (productId: string, territory: string, tier: number) =>
  `${productId}_${territory}_${10000 + tier}`;

const sortById = (items: DetailResource[]) => items.sort((a, b) => compareIds(a.id, b.id));
const details = (list: DetailResource[]): Target[] => list.map((detail) => ({ detail }));

function put(target: Record<string, unknown>, name: string, value: unknown): void {
  if (value !== undefined && value !== null) target[name] = value;
}

export function territoryResource(id: string): DetailResource {
  return {
    type: 'territories',
    id,
    attributes: { currency: TERRITORIES_BY_ID.get(id)?.currency ?? 'USD' },
    relationships: [],
  };
}

const territoryRel = (id: string): DetailRelationship => ({
  name: 'territory',
  kind: 'data',
  target: () => ({ detail: territoryResource(id) }),
  linkage: { type: 'territories', id },
});

export function subscriptionPricePoint(
  subscriptionId: string,
  territory: string,
  tier: number,
): DetailResource {
  return {
    type: 'subscriptionPricePoints',
    id: pricePointId(subscriptionId, territory, tier),
    attributes: { ...amountsFor(tier, territory) },
    relationships: [
      territoryRel(territory),
      { name: 'equalizations', kind: 'links' },
      { name: 'adjustedEqualizations', kind: 'links' },
    ],
    // The standard plan's points. No simulated point belongs to a commitment plan, so
    // `filter[upfrontPricePointId]` (accepted, as Apple's spec declares it) matches none.
    match: { territory, planType: 'MONTHLY' },
  };
}

/** A subscription's price points for the pay-up-front plan (only when it has an UPFRONT plan availability). */
export function upfrontPricePoint(subscriptionId: string, territory: string, tier: number): DetailResource {
  const point = subscriptionPricePoint(subscriptionId, territory, tier);
  return { ...point, id: `${point.id}-upfront`, match: { territory, planType: 'UPFRONT' } };
}

export function iapPricePoint(iapId: string, territory: string, tier: number): DetailResource {
  const { customerPrice, proceeds } = amountsFor(tier, territory);
  return {
    type: 'inAppPurchasePricePoints',
    id: pricePointId(iapId, territory, tier),
    attributes: { customerPrice, proceeds },
    relationships: [territoryRel(territory), { name: 'equalizations', kind: 'links' }],
    match: { territory },
  };
}

/** The territories a product has prices in: where it is available, minus the unpriced ones. */
export function pricedTerritories(d: SimDetails): string[] {
  const unpriced = new Set(d.unpricedTerritories ?? []);
  const available = d.availability?.territories ?? TERRITORY_IDS;
  return available.filter((id) => !unpriced.has(id));
}

interface TimelineEntry {
  price: SimPrice;
  /** Start of the next entry in this territory. */
  endDate: string | null;
}

/**
 * Timelines of every territory of a price list: territories without a price of their own share
 * one (computed once), the others get their own.
 */
export function timelines(prices: readonly SimPrice[]): (territory: string) => TimelineEntry[] {
  const own = new Set<string>();
  for (const price of prices) for (const territory of price.territories ?? []) own.add(territory);
  let shared: TimelineEntry[] | undefined;
  return (territory) => {
    if (own.has(territory)) return territoryTimeline(prices, territory);
    shared ??= territoryTimeline(prices, territory);
    return shared;
  };
}

/** The prices of one territory in start order; at equal dates a territory's own price wins. */
export function territoryTimeline(prices: readonly SimPrice[], territory: string): TimelineEntry[] {
  const byDate = new Map<string, SimPrice>();
  for (const price of prices) {
    const own = price.territories?.includes(territory) ?? false;
    if (price.territories && !own) continue;
    const day = price.startDate ?? '';
    const current = byDate.get(day);
    if (!current || own || !current.territories) byDate.set(day, price);
  }
  const ordered = [...byDate.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
  return ordered.map((price, i) => ({ price, endDate: ordered[i + 1]?.startDate ?? null }));
}

/** The price in force on `today` and every scheduled one (earlier prices drop out, as at Apple). */
export function currentAndScheduled(timeline: TimelineEntry[], today: string): TimelineEntry[] {
  let first = 0;
  for (let i = 0; i < timeline.length; i++) if ((timeline[i]!.price.startDate ?? '') <= today) first = i;
  return timeline.slice(first);
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

export interface SubscriptionRef {
  app: SimApp;
  group: SimGroup;
  subscription: SimSubscription;
}

const subscriptionTarget = (ref: SubscriptionRef): Target => ({
  entity: { type: 'subscriptions', value: ref.subscription, groupId: ref.group.id },
});

export function subscriptionPrices(ref: SubscriptionRef, today: string): DetailResource[] {
  const d = ref.subscription.details;
  if (!d) return [];
  const id = ref.subscription.id;
  const list: DetailResource[] = [];
  const timelineOf = timelines(d.prices);
  for (const territory of pricedTerritories(d)) {
    for (const { price } of currentAndScheduled(timelineOf(territory), today)) {
      const attributes: Record<string, unknown> = {};
      put(attributes, 'startDate', price.startDate);
      attributes['preserved'] = price.preserved ?? false;
      put(attributes, 'planType', price.planType);
      const tier = price.tier;
      list.push({
        type: 'subscriptionPrices',
        id: `${id}_${territory}_${day(price.startDate)}`,
        attributes,
        relationships: [
          territoryRel(territory),
          {
            name: 'subscriptionPricePoint',
            kind: 'data',
            target: () => ({ detail: subscriptionPricePoint(id, territory, tier) }),
            linkage: { type: 'subscriptionPricePoints', id: pricePointId(id, territory, tier) },
          },
        ],
        match: {
          territory,
          planType: price.planType ?? '',
          subscriptionPricePoint: pricePointId(id, territory, tier),
        },
      });
    }
  }
  return sortById(list);
}

const offersOf = (d: SimDetails | undefined, kind: SimOffer['kind']) =>
  (d?.offers ?? []).filter((offer) => offer.kind === kind).sort((a, b) => compareIds(a.id, b.id));

function offerTerritories(d: SimDetails, offer: SimOffer): string[] {
  return offer.territories ?? pricedTerritories(d);
}

function offerPrices(
  type: string,
  pointRel: string,
  offer: SimOffer,
  territories: readonly string[],
  point: (territory: string, tier: number) => DetailResource,
  pointOf: { type: string; productId: string },
): DetailResource[] {
  return sortById(
    territories.map((territory) => {
      const relationships: DetailRelationship[] = [territoryRel(territory)];
      if (offer.tier !== null) {
        const tier = offer.tier;
        relationships.push({
          name: pointRel,
          kind: 'data',
          target: () => ({ detail: point(territory, tier) }),
          linkage: { type: pointOf.type, id: pricePointId(pointOf.productId, territory, tier) },
        });
      }
      return {
        type,
        id: `${offer.id}_${territory}`,
        attributes: {},
        relationships,
        match: { territory },
      };
    }),
  );
}

function offerAttributes(offer: SimOffer, names: readonly (keyof SimOffer)[]): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const name of names) put(attributes, name, offer[name]);
  return attributes;
}

export function introductoryOffers(ref: SubscriptionRef): DetailResource[] {
  const d = ref.subscription.details;
  if (!d) return [];
  const list: DetailResource[] = [];
  for (const offer of offersOf(d, 'introductory')) {
    for (const territory of offerTerritories(d, offer)) {
      const relationships: DetailRelationship[] = [
        { name: 'subscription', kind: 'data', target: () => subscriptionTarget(ref) },
        territoryRel(territory),
      ];
      if (offer.tier !== null) {
        const tier = offer.tier;
        relationships.push({
          name: 'subscriptionPricePoint',
          kind: 'data',
          target: () => ({ detail: subscriptionPricePoint(ref.subscription.id, territory, tier) }),
          linkage: {
            type: 'subscriptionPricePoints',
            id: pricePointId(ref.subscription.id, territory, tier),
          },
        });
      }
      list.push({
        type: 'subscriptionIntroductoryOffers',
        id: `${offer.id}_${territory}`,
        attributes: offerAttributes(offer, [
          'startDate',
          'endDate',
          'duration',
          'offerMode',
          'numberOfPeriods',
        ]),
        relationships,
        match: { territory },
      });
    }
  }
  return sortById(list);
}

export function promotionalOfferPrices(ref: SubscriptionRef, offer: SimOffer): DetailResource[] {
  const d = ref.subscription.details!;
  return offerPrices(
    'subscriptionPromotionalOfferPrices',
    'subscriptionPricePoint',
    offer,
    offerTerritories(d, offer),
    (t, tier) => subscriptionPricePoint(ref.subscription.id, t, tier),
    { type: 'subscriptionPricePoints', productId: ref.subscription.id },
  );
}

export function offerCodePrices(ref: SubscriptionRef, offer: SimOffer): DetailResource[] {
  const d = ref.subscription.details!;
  return offerPrices(
    'subscriptionOfferCodePrices',
    'subscriptionPricePoint',
    offer,
    offerTerritories(d, offer),
    (t, tier) => subscriptionPricePoint(ref.subscription.id, t, tier),
    { type: 'subscriptionPricePoints', productId: ref.subscription.id },
  );
}

export function winBackOfferPrices(ref: SubscriptionRef, offer: SimOffer): DetailResource[] {
  const d = ref.subscription.details!;
  return offerPrices(
    'winBackOfferPrices',
    'subscriptionPricePoint',
    offer,
    offerTerritories(d, offer),
    (t, tier) => subscriptionPricePoint(ref.subscription.id, t, tier),
    { type: 'subscriptionPricePoints', productId: ref.subscription.id },
  );
}

/** Offers with prices answer `filter[territory]` by being priced there. */
const territoriesMatch = (d: SimDetails, offer: SimOffer) => ({
  territory: offerTerritories(d, offer).join(','),
});

export function promotionalOffers(ref: SubscriptionRef): DetailResource[] {
  const d = ref.subscription.details;
  return offersOf(d, 'promotional').map((offer) => ({
    type: 'subscriptionPromotionalOffers',
    id: offer.id,
    attributes: offerAttributes(offer, ['duration', 'name', 'numberOfPeriods', 'offerCode', 'offerMode']),
    relationships: [
      { name: 'subscription', kind: 'data', target: () => subscriptionTarget(ref) },
      { name: 'prices', kind: 'many', items: () => details(promotionalOfferPrices(ref, offer)) },
    ],
    match: territoriesMatch(d!, offer),
  }));
}

export function subscriptionOfferCodes(ref: SubscriptionRef): DetailResource[] {
  const d = ref.subscription.details;
  return offersOf(d, 'offerCode').map((offer) => ({
    type: 'subscriptionOfferCodes',
    id: offer.id,
    attributes: offerAttributes(offer, [
      'name',
      'customerEligibilities',
      'offerEligibility',
      'duration',
      'offerMode',
      'numberOfPeriods',
      'totalNumberOfCodes',
      'productionCodeCount',
      'sandboxCodeCount',
      'active',
      'autoRenewEnabled',
    ]),
    relationships: [
      { name: 'subscription', kind: 'data', target: () => subscriptionTarget(ref) },
      { name: 'oneTimeUseCodes', kind: 'many', items: () => [] },
      { name: 'customCodes', kind: 'many', items: () => [] },
      { name: 'prices', kind: 'many', items: () => details(offerCodePrices(ref, offer)) },
    ],
    match: territoriesMatch(d!, offer),
  }));
}

export function winBackOffers(ref: SubscriptionRef): DetailResource[] {
  const d = ref.subscription.details;
  return offersOf(d, 'winBack').map((offer) => {
    const attributes = offerAttributes(offer, ['referenceName', 'offerId', 'duration', 'offerMode']);
    put(attributes, 'periodCount', offer.numberOfPeriods);
    put(attributes, 'customerEligibilityPaidSubscriptionDurationInMonths', offer.paidSubscriptionMonths);
    put(attributes, 'customerEligibilityTimeSinceLastSubscribedInMonths', offer.sinceLastSubscribedMonths);
    put(attributes, 'customerEligibilityWaitBetweenOffersInMonths', offer.waitBetweenOffersMonths);
    Object.assign(
      attributes,
      offerAttributes(offer, ['startDate', 'endDate', 'priority', 'promotionIntent']),
    );
    return {
      type: 'winBackOffers',
      id: offer.id,
      attributes,
      relationships: [{ name: 'prices', kind: 'many', items: () => details(winBackOfferPrices(ref, offer)) }],
      match: territoriesMatch(d!, offer),
    };
  });
}

function localization(
  type: string,
  entry: SimLocalization,
  parent: string,
  target: () => Target,
  names: readonly (keyof SimLocalization)[],
): DetailResource {
  const attributes: Record<string, unknown> = {};
  for (const name of names) put(attributes, name, entry[name]);
  return { type, id: entry.id, attributes, relationships: [{ name: parent, kind: 'data', target }] };
}

export function subscriptionLocalizations(ref: SubscriptionRef): DetailResource[] {
  return sortById(
    (ref.subscription.details?.localizations ?? []).map((entry) =>
      localization('subscriptionLocalizations', entry, 'subscription', () => subscriptionTarget(ref), [
        'name',
        'locale',
        'description',
        'state',
      ]),
    ),
  );
}

export function groupLocalizations(group: SimGroup): DetailResource[] {
  return sortById(
    (group.localizations ?? []).map((entry) =>
      localization(
        'subscriptionGroupLocalizations',
        entry,
        'subscriptionGroup',
        () => ({ entity: { type: 'subscriptionGroups', value: group } }),
        ['name', 'customAppName', 'locale', 'state'],
      ),
    ),
  );
}

function availability(type: string, id: string, d: SimDetails | undefined): DetailResource | undefined {
  if (!d?.availability) return undefined;
  const territories = [...d.availability.territories].sort();
  return {
    type,
    id,
    attributes: { availableInNewTerritories: d.availability.availableInNewTerritories },
    relationships: [
      {
        name: 'availableTerritories',
        kind: 'many',
        items: () => territories.map((t) => ({ detail: territoryResource(t) })),
      },
    ],
  };
}

export const subscriptionAvailability = (ref: SubscriptionRef) =>
  availability('subscriptionAvailabilities', ref.subscription.id, ref.subscription.details);

export function availableTerritories(d: SimDetails | undefined): DetailResource[] {
  return [...(d?.availability?.territories ?? [])].sort().map(territoryResource);
}

/** Every price point of a product (tiers × priced territories), for `…/pricePoints`. */
export function pricePoints(
  d: SimDetails | undefined,
  point: (territory: string, tier: number) => DetailResource,
  tiers: number,
  territories?: readonly string[],
): DetailResource[] {
  if (!d) return [];
  const list: DetailResource[] = [];
  const priced = pricedTerritories(d);
  for (const territory of territories ? priced.filter((t) => territories.includes(t)) : priced) {
    for (let tier = 1; tier <= tiers; tier++) list.push(point(territory, tier));
  }
  return sortById(list);
}

// ---------------------------------------------------------------------------------------------
// In-app purchases

export interface IapRef {
  app: SimApp;
  iap: SimIap;
}

const iapTarget = (ref: IapRef): Target => ({ entity: { type: 'inAppPurchases', value: ref.iap } });

export function baseTerritoryOf(d: SimDetails): string {
  return d.baseTerritory ?? 'USA';
}

/** Manual (`true`) or automatic (`false`) prices of an IAP's schedule, in force today or later. */
export function iapPrices(ref: IapRef, today: string, manual: boolean): DetailResource[] {
  const d = ref.iap.details;
  if (!d) return [];
  const base = baseTerritoryOf(d);
  const list: DetailResource[] = [];
  const timelineOf = timelines(d.prices);
  for (const territory of pricedTerritories(d)) {
    for (const { price, endDate } of currentAndScheduled(timelineOf(territory), today)) {
      const isManual = territory === base || price.territories !== undefined;
      if (isManual !== manual) continue;
      const attributes: Record<string, unknown> = {};
      put(attributes, 'startDate', price.startDate);
      put(attributes, 'endDate', endDate);
      attributes['manual'] = isManual;
      const tier = price.tier;
      list.push({
        type: 'inAppPurchasePrices',
        id: `${ref.iap.id}_${territory}_${day(price.startDate)}`,
        attributes,
        relationships: [
          {
            name: 'inAppPurchasePricePoint',
            kind: 'data',
            target: () => ({ detail: iapPricePoint(ref.iap.id, territory, tier) }),
            linkage: { type: 'inAppPurchasePricePoints', id: pricePointId(ref.iap.id, territory, tier) },
          },
          territoryRel(territory),
        ],
        match: { territory },
      });
    }
  }
  return sortById(list);
}

export function iapPriceSchedule(ref: IapRef, today: string): DetailResource | undefined {
  const d = ref.iap.details;
  if (!d) return undefined;
  return {
    type: 'inAppPurchasePriceSchedules',
    id: ref.iap.id,
    attributes: {},
    relationships: [
      {
        name: 'baseTerritory',
        kind: 'one',
        target: () => ({ detail: territoryResource(baseTerritoryOf(d)) }),
      },
      { name: 'manualPrices', kind: 'many', items: () => details(iapPrices(ref, today, true)) },
      { name: 'automaticPrices', kind: 'many', items: () => details(iapPrices(ref, today, false)) },
    ],
  };
}

export function iapLocalizations(ref: IapRef): DetailResource[] {
  return sortById(
    (ref.iap.details?.localizations ?? []).map((entry) =>
      localization('inAppPurchaseLocalizations', entry, 'inAppPurchaseV2', () => iapTarget(ref), [
        'name',
        'locale',
        'description',
        'state',
      ]),
    ),
  );
}

export const iapAvailability = (ref: IapRef) =>
  availability('inAppPurchaseAvailabilities', ref.iap.id, ref.iap.details);

export function iapOfferPrices(ref: IapRef, offer: SimOffer): DetailResource[] {
  const d = ref.iap.details!;
  return offerPrices(
    'inAppPurchaseOfferPrices',
    'pricePoint',
    offer,
    offerTerritories(d, offer),
    (t, tier) => iapPricePoint(ref.iap.id, t, tier),
    { type: 'inAppPurchasePricePoints', productId: ref.iap.id },
  );
}

export function iapOfferCodes(ref: IapRef): DetailResource[] {
  const d = ref.iap.details;
  return offersOf(d, 'offerCode').map((offer) => ({
    type: 'inAppPurchaseOfferCodes',
    id: offer.id,
    attributes: offerAttributes(offer, [
      'name',
      'customerEligibilities',
      'productionCodeCount',
      'sandboxCodeCount',
      'active',
    ]),
    relationships: [
      { name: 'oneTimeUseCodes', kind: 'many', items: () => [] },
      { name: 'customCodes', kind: 'many', items: () => [] },
      { name: 'prices', kind: 'many', items: () => details(iapOfferPrices(ref, offer)) },
    ],
    match: territoriesMatch(d!, offer),
  }));
}

// ---------------------------------------------------------------------------------------------
// Rendering

const SELF_VERSION: Record<string, string> = { inAppPurchases: 'v2' };

export interface DetailRenderOptions {
  fields?: ReadonlySet<string> | undefined;
  included?: ReadonlyMap<string, IncludedRelationship> | undefined;
}

export function renderDetail(
  resource: DetailResource,
  base: string,
  options: DetailRenderOptions = {},
): Record<string, unknown> {
  const { fields, included } = options;
  const self = `${base}/${SELF_VERSION[resource.type] ?? 'v1'}/${resource.type}/${encodeURIComponent(resource.id)}`;
  const out: Record<string, unknown> = { type: resource.type, id: resource.id };
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(resource.attributes)) {
    if (!fields || fields.has(name)) attributes[name] = value;
  }
  if (Object.keys(attributes).length > 0) out['attributes'] = attributes;
  const relationships: Record<string, unknown> = {};
  for (const rel of resource.relationships) {
    if (fields && !fields.has(rel.name)) continue;
    const value: Record<string, unknown> = {};
    if (rel.kind !== 'data') {
      value['links'] = { self: `${self}/relationships/${rel.name}`, related: `${self}/${rel.name}` };
    }
    const extra = included?.get(rel.name);
    if (rel.kind === 'data') {
      value['data'] = rel.linkage ?? targetLinkage(rel.target());
    } else if (extra) {
      if (extra.paging) value['meta'] = { paging: extra.paging };
      if (extra.data !== undefined) value['data'] = extra.data;
    }
    relationships[rel.name] = value;
  }
  if (Object.keys(relationships).length > 0) out['relationships'] = relationships;
  out['links'] = { self };
  return out;
}

// ---------------------------------------------------------------------------------------------
// Apple's 4.x metadata: review screenshot, images, promoted purchase, versions, plan
// availabilities. Served only as includes of the product (and the group's versions as includes
// of the group): the excerpt of Apple's spec the simulator follows has no path of their own.

interface MetadataTypes {
  /** The owner relationship name on the product's media (`subscription` / `inAppPurchaseV2`). */
  owner: string;
  screenshot: string;
  image: string;
  version: string;
}

const SUBSCRIPTION_METADATA: MetadataTypes = {
  owner: 'subscription',
  screenshot: 'subscriptionAppStoreReviewScreenshots',
  image: 'subscriptionImages',
  version: 'subscriptionVersions',
};
const IAP_METADATA: MetadataTypes = {
  owner: 'inAppPurchaseV2',
  screenshot: 'inAppPurchaseAppStoreReviewScreenshots',
  image: 'inAppPurchaseImages',
  version: 'inAppPurchaseVersions',
};

function reviewScreenshot(
  types: MetadataTypes,
  productId: string,
  media: SimMedia | null | undefined,
  owner: () => Target,
): DetailResource | undefined {
  if (!media) return undefined;
  const attributes: Record<string, unknown> = { fileSize: media.fileSize, fileName: media.fileName };
  if (media.assetDeliveryState) attributes['assetDeliveryState'] = { state: media.assetDeliveryState };
  return {
    type: types.screenshot,
    id: `${productId}-review-screenshot`,
    attributes,
    relationships: [{ name: types.owner, kind: 'data', target: owner }],
  };
}

function images(types: MetadataTypes, list: readonly SimImage[] | undefined, owner: () => Target) {
  return sortById(
    (list ?? []).map((image) => {
      const attributes: Record<string, unknown> = { fileSize: image.fileSize, fileName: image.fileName };
      put(attributes, 'state', image.state);
      return {
        type: types.image,
        id: image.id,
        attributes,
        relationships: [
          {
            name: types.owner === 'inAppPurchaseV2' ? 'inAppPurchase' : 'subscription',
            kind: 'data',
            target: owner,
          },
        ] as DetailRelationship[],
      };
    }),
  );
}

function versions(
  type: string,
  parent: string,
  list: readonly SimVersion[] | undefined,
  owner: () => Target,
) {
  const relationships = (): DetailRelationship[] =>
    type === 'subscriptionGroupVersions'
      ? [
          { name: parent, kind: 'data', target: owner },
          { name: 'localizations', kind: 'links' },
        ]
      : [
          { name: parent, kind: 'data', target: owner },
          { name: 'image', kind: 'links' },
          { name: 'images', kind: 'links' },
          { name: 'localizations', kind: 'links' },
        ];
  return sortById(
    (list ?? []).map((version) => ({
      type,
      id: version.id,
      attributes: { version: version.version, state: version.state },
      relationships: relationships(),
    })),
  );
}

function promotedPurchase(
  productId: string,
  d: SimDetails | undefined,
  owner: { name: string; target: () => Target },
): DetailResource | undefined {
  const promoted = d?.promotedPurchase;
  if (!promoted) return undefined;
  return {
    type: 'promotedPurchases',
    id: `${productId}-promoted`,
    attributes: {
      visibleForAllUsers: promoted.visibleForAllUsers,
      enabled: promoted.enabled,
      state: promoted.state,
    },
    relationships: [{ name: owner.name, kind: 'data', target: owner.target }],
  };
}

/** A plan availability's id: the subscription's id and its plan type (one per plan). */
export const planAvailabilityId = (subscriptionId: string, planType: string) =>
  `${subscriptionId}-${planType.toLowerCase()}`;

export function planAvailabilities(ref: SubscriptionRef): DetailResource[] {
  const d = ref.subscription.details;
  const territories = [...(d?.availability?.territories ?? [])].sort();
  return sortById(
    (d?.planAvailabilities ?? []).map((plan) => ({
      type: 'subscriptionPlanAvailabilities',
      id: planAvailabilityId(ref.subscription.id, plan.planType),
      attributes: { availableInNewTerritories: plan.availableInNewTerritories, planType: plan.planType },
      relationships: [
        {
          name: 'availableTerritories',
          kind: 'many',
          items: () => territories.map((t) => ({ detail: territoryResource(t) })),
        },
      ],
    })),
  );
}

/** The group's detail relationships (for `include` on the group and its listing). */
export function groupDetailRelationships(group: SimGroup): DetailRelationship[] {
  return [
    { name: 'subscriptionGroupLocalizations', kind: 'many', items: () => details(groupLocalizations(group)) },
    { name: 'versions', kind: 'many', items: () => details(groupVersions(group)) },
  ];
}

export function groupVersions(group: SimGroup): DetailResource[] {
  return versions('subscriptionGroupVersions', 'subscriptionGroup', group.versions, () => ({
    entity: { type: 'subscriptionGroups', value: group },
  }));
}

function metadataRelationships(
  types: MetadataTypes,
  productId: string,
  d: SimDetails | undefined,
  owner: () => Target,
): DetailRelationship[] {
  return [
    {
      name: 'appStoreReviewScreenshot',
      kind: 'one',
      target: () => {
        const found = reviewScreenshot(types, productId, d?.reviewScreenshot, owner);
        return found && { detail: found };
      },
    },
    { name: 'images', kind: 'many', items: () => details(images(types, d?.images, owner)) },
    {
      name: 'versions',
      kind: 'many',
      items: () =>
        details(
          versions(
            types.version,
            types.owner === 'inAppPurchaseV2' ? 'inAppPurchase' : 'subscription',
            d?.versions,
            owner,
          ),
        ),
    },
    {
      name: 'promotedPurchase',
      kind: 'one',
      target: () => {
        const found = promotedPurchase(productId, d, {
          name: types.owner === 'inAppPurchaseV2' ? 'inAppPurchaseV2' : 'subscription',
          target: owner,
        });
        return found && { detail: found };
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// The detail relationships of the structure resources (for `include` on the listings)

export function subscriptionDetailRelationships(ref: SubscriptionRef, today: string): DetailRelationship[] {
  return [
    { name: 'subscriptionLocalizations', kind: 'many', items: () => details(subscriptionLocalizations(ref)) },
    { name: 'introductoryOffers', kind: 'many', items: () => details(introductoryOffers(ref)) },
    { name: 'promotionalOffers', kind: 'many', items: () => details(promotionalOffers(ref)) },
    { name: 'offerCodes', kind: 'many', items: () => details(subscriptionOfferCodes(ref)) },
    { name: 'prices', kind: 'many', items: () => details(subscriptionPrices(ref, today)) },
    { name: 'winBackOffers', kind: 'many', items: () => details(winBackOffers(ref)) },
    {
      name: 'subscriptionAvailability',
      kind: 'one',
      target: () => {
        const found = subscriptionAvailability(ref);
        return found && { detail: found };
      },
    },
    { name: 'planAvailabilities', kind: 'many', items: () => details(planAvailabilities(ref)) },
    ...metadataRelationships(SUBSCRIPTION_METADATA, ref.subscription.id, ref.subscription.details, () =>
      subscriptionTarget(ref),
    ),
  ];
}

export function iapDetailRelationships(ref: IapRef, today: string): DetailRelationship[] {
  return [
    { name: 'inAppPurchaseLocalizations', kind: 'many', items: () => details(iapLocalizations(ref)) },
    { name: 'offerCodes', kind: 'many', items: () => details(iapOfferCodes(ref)) },
    {
      name: 'pricePoints',
      kind: 'many',
      items: () =>
        details(pricePoints(ref.iap.details, (t, tier) => iapPricePoint(ref.iap.id, t, tier), TIER_COUNT)),
    },
    {
      name: 'iapPriceSchedule',
      kind: 'one',
      target: () => {
        const found = iapPriceSchedule(ref, today);
        return found && { detail: found };
      },
    },
    {
      name: 'inAppPurchaseAvailability',
      kind: 'one',
      target: () => {
        const found = iapAvailability(ref);
        return found && { detail: found };
      },
    },
    ...metadataRelationships(IAP_METADATA, ref.iap.id, ref.iap.details, () => iapTarget(ref)),
  ];
}
