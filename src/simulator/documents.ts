import type { SimApp, SimGrace, SimGroup, SimIap, SimSubscription } from './catalog.ts';

/*
 * JSON:API resource objects shaped like Apple's: `type`, `id`, `attributes`, `relationships`
 * (links on every relationship; `meta.paging` and linkage `data` only for included ones,
 * except Subscription.group, which Apple declares as linkage only), `links.self`. Sparse
 * fieldsets (`fields[type]`) select attributes and relationships alike.
 */

export type ResourceType =
  | 'apps'
  | 'inAppPurchases'
  | 'subscriptionGroups'
  | 'subscriptions'
  | 'subscriptionGracePeriods';

interface RelationshipSpec {
  name: string;
  toMany: boolean;
  /** Declared without links by Apple: only `data`. */
  linkageOnly?: boolean;
}

const many = (...names: string[]): RelationshipSpec[] => names.map((name) => ({ name, toMany: true }));
const one = (...names: string[]): RelationshipSpec[] => names.map((name) => ({ name, toMany: false }));

/** The relationships each resource shows (Apple's names; a selection for apps). */
export const RELATIONSHIPS: Record<ResourceType, RelationshipSpec[]> = {
  apps: [
    ...many(
      'appInfos',
      'appStoreVersions',
      'builds',
      'inAppPurchases',
      'subscriptionGroups',
      'inAppPurchasesV2',
    ),
    ...many('promotedPurchases'),
    ...one('subscriptionGracePeriod'),
  ],
  inAppPurchases: [
    ...many('inAppPurchaseLocalizations', 'pricePoints'),
    ...one(
      'content',
      'appStoreReviewScreenshot',
      'promotedPurchase',
      'iapPriceSchedule',
      'inAppPurchaseAvailability',
    ),
    ...many('images', 'offerCodes', 'versions'),
  ],
  subscriptionGroups: many('subscriptions', 'subscriptionGroupLocalizations', 'versions'),
  subscriptions: [
    ...many('subscriptionLocalizations'),
    ...one('appStoreReviewScreenshot'),
    { name: 'group', toMany: false, linkageOnly: true },
    ...many('introductoryOffers', 'promotionalOffers', 'offerCodes', 'prices', 'pricePoints'),
    ...one('promotedPurchase'),
    ...many('winBackOffers', 'images', 'planAvailabilities', 'versions'),
  ],
  subscriptionGracePeriods: [],
};

/** Relationships that are to-one, by type, including ones not shown by default (for includes). */
const TO_ONE: Record<ResourceType, ReadonlySet<string>> = {
  apps: new Set([
    'appStoreIcon',
    'ciProduct',
    'betaLicenseAgreement',
    'betaAppReviewDetail',
    'endUserLicenseAgreement',
    'subscriptionGracePeriod',
    'gameCenterDetail',
  ]),
  inAppPurchases: new Set([
    'content',
    'appStoreReviewScreenshot',
    'promotedPurchase',
    'iapPriceSchedule',
    'inAppPurchaseAvailability',
  ]),
  subscriptionGroups: new Set(),
  subscriptions: new Set([
    'appStoreReviewScreenshot',
    'group',
    'promotedPurchase',
    'subscriptionAvailability',
  ]),
  subscriptionGracePeriods: new Set(),
};

export function isToOne(type: ResourceType, relationship: string): boolean {
  return TO_ONE[type].has(relationship);
}

const SELF_PATH: Record<ResourceType, string> = {
  apps: '/v1/apps/',
  inAppPurchases: '/v2/inAppPurchases/',
  subscriptionGroups: '/v1/subscriptionGroups/',
  subscriptions: '/v1/subscriptions/',
  subscriptionGracePeriods: '/v1/subscriptionGracePeriods/',
};

export interface Linkage {
  type: string;
  id: string;
}

/** What an included relationship adds next to its links. */
export interface IncludedRelationship {
  /** Absent for an empty to-one relationship (Apple's schemas do not allow null). */
  data?: Linkage[] | Linkage;
  /** To-many only: the full count and the limit applied. */
  paging?: { total: number; limit: number };
}

export type Entity =
  | { type: 'apps'; value: SimApp }
  | { type: 'inAppPurchases'; value: SimIap }
  | { type: 'subscriptionGroups'; value: SimGroup }
  | { type: 'subscriptions'; value: SimSubscription; groupId: string }
  | { type: 'subscriptionGracePeriods'; value: SimGrace };

function put(target: Record<string, unknown>, name: string, value: unknown): void {
  if (value !== undefined) target[name] = value;
}

export function attributesOf(entity: Entity): Record<string, unknown> {
  const a: Record<string, unknown> = {};
  switch (entity.type) {
    case 'apps': {
      const app = entity.value;
      a['name'] = app.name;
      a['bundleId'] = app.bundleId;
      a['sku'] = app.sku;
      a['primaryLocale'] = app.primaryLocale;
      a['isOrEverWasMadeForKids'] = false;
      a['contentRightsDeclaration'] = 'DOES_NOT_USE_THIRD_PARTY_CONTENT';
      a['streamlinedPurchasingEnabled'] = true;
      Object.assign(a, app.extraAttributes);
      return a;
    }
    case 'inAppPurchases': {
      const iap = entity.value;
      a['name'] = iap.name;
      a['productId'] = iap.productId;
      a['inAppPurchaseType'] = iap.inAppPurchaseType;
      a['state'] = iap.state;
      put(a, 'reviewNote', iap.reviewNote);
      put(a, 'familySharable', iap.familySharable);
      put(a, 'contentHosting', iap.contentHosting);
      Object.assign(a, iap.extraAttributes);
      return a;
    }
    case 'subscriptions': {
      const sub = entity.value;
      a['name'] = sub.name;
      a['productId'] = sub.productId;
      put(a, 'familySharable', sub.familySharable);
      a['state'] = sub.state;
      a['subscriptionPeriod'] = sub.subscriptionPeriod;
      put(a, 'reviewNote', sub.reviewNote);
      a['groupLevel'] = sub.groupLevel;
      put(a, 'multiSeatStatus', sub.multiSeatStatus);
      put(a, 'marketSettings', sub.marketSettings);
      Object.assign(a, sub.extraAttributes);
      return a;
    }
    case 'subscriptionGroups':
      return { referenceName: entity.value.referenceName };
    case 'subscriptionGracePeriods': {
      const grace = entity.value;
      return {
        optIn: grace.optIn,
        sandboxOptIn: grace.sandboxOptIn,
        duration: grace.duration,
        renewalType: grace.renewalType,
      };
    }
  }
}

export interface RenderOptions {
  /** The sparse fieldset for this resource's type, if one was asked for. */
  fields?: ReadonlySet<string> | undefined;
  /** Included relationships: linkage and paging to add to their links. */
  included?: ReadonlyMap<string, IncludedRelationship> | undefined;
}

export function renderResource(
  entity: Entity,
  base: string,
  options: RenderOptions = {},
): Record<string, unknown> {
  const { fields, included } = options;
  const id = entity.value.id;
  const self = `${base}${SELF_PATH[entity.type]}${id}`;
  const resource: Record<string, unknown> = { type: entity.type, id };

  const allAttributes = attributesOf(entity);
  if (fields) {
    const chosen: Record<string, unknown> = {};
    for (const name of Object.keys(allAttributes)) if (fields.has(name)) chosen[name] = allAttributes[name];
    if (Object.keys(chosen).length > 0) resource['attributes'] = chosen;
  } else {
    resource['attributes'] = allAttributes;
  }

  const relationships: Record<string, unknown> = {};
  const shown = new Set<string>();
  for (const spec of RELATIONSHIPS[entity.type]) {
    if (fields && !fields.has(spec.name)) continue;
    shown.add(spec.name);
    const relationship: Record<string, unknown> = {};
    if (spec.linkageOnly) {
      if (entity.type === 'subscriptions' && spec.name === 'group') {
        relationship['data'] = { type: 'subscriptionGroups', id: entity.groupId };
      }
    } else {
      relationship['links'] = { self: `${self}/relationships/${spec.name}`, related: `${self}/${spec.name}` };
    }
    addIncluded(relationship, included?.get(spec.name));
    relationships[spec.name] = relationship;
  }
  // Included relationships the default selection does not show (e.g. include=appStoreVersions).
  if (included) {
    for (const [name, value] of included) {
      if (shown.has(name) || (fields && !fields.has(name))) continue;
      const relationship: Record<string, unknown> = {
        links: { self: `${self}/relationships/${name}`, related: `${self}/${name}` },
      };
      addIncluded(relationship, value);
      relationships[name] = relationship;
    }
  }
  if (Object.keys(relationships).length > 0) resource['relationships'] = relationships;
  resource['links'] = { self };
  return resource;
}

function addIncluded(relationship: Record<string, unknown>, value: IncludedRelationship | undefined): void {
  if (!value) return;
  if (value.paging) relationship['meta'] = { paging: value.paging };
  if (value.data !== undefined) relationship['data'] = value.data;
}

export function linkage(entity: Entity): Linkage {
  return { type: entity.type, id: entity.value.id };
}
