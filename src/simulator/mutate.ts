import type { z } from 'zod';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import {
  type SimApp,
  type SimAvailability,
  type SimDetails,
  type SimGrace,
  type SimGroup,
  type SimIap,
  type SimLocalization,
  type SimMedia,
  type SimOffer,
  type SimPlanAvailability,
  type SimPrice,
  type SimPromotedPurchase,
  type SimSubscription,
  type SimVersion,
  simAppSchema,
  simAvailabilitySchema,
  simDetailsSchema,
  simGraceSchema,
  simGroupSchema,
  simIapSchema,
  simLocalizationSchema,
  simMediaSchema,
  simOfferSchema,
  simPlanAvailabilitySchema,
  simPriceSchema,
  simPromotedPurchaseSchema,
  simSubscriptionSchema,
  simVersionSchema,
} from './catalog.ts';
import { createIdSource } from './generate.ts';
import type { CatalogStore } from './store.ts';
import { TERRITORIES_BY_ID, TERRITORY_IDS } from './territories.ts';

/*
 * Changes to the live catalog, as a developer makes them in App Store Connect: products and
 * groups added, changed and removed, a subscription moved between groups, grace settings
 * changed or removed. Every change invalidates the indexes; results are copies.
 */

export type GraceInput = Partial<Omit<SimGrace, 'id'>> & { id?: string };
export type GroupInput = { id?: string; referenceName?: string; subscriptions?: Partial<SimSubscription>[] };
export type AppInput = Partial<Omit<SimApp, 'iaps' | 'groups' | 'grace'>> & {
  iaps?: SimIap[];
  groups?: SimGroup[];
  grace?: SimGrace | null;
};

export interface SimMutations {
  addApp(input?: AppInput): SimApp;
  updateApp(
    appId: string,
    patch: Partial<Pick<SimApp, 'name' | 'bundleId' | 'sku' | 'primaryLocale' | 'extraAttributes'>>,
  ): SimApp;
  removeApp(appId: string): void;
  /** Adds an in-app purchase (consumable, non-consumable or non-renewing) to an app. */
  addProduct(appId: string, input?: Partial<SimIap>): SimIap;
  /** Adds an auto-renewable subscription to a group. */
  addSubscription(groupId: string, input?: Partial<SimSubscription>): SimSubscription;
  /** Changes an in-app purchase or a subscription, found by its Apple id. */
  updateProduct(id: string, patch: Partial<SimIap> | Partial<SimSubscription>): SimIap | SimSubscription;
  /** Removes an in-app purchase or a subscription, found by its Apple id. */
  removeProduct(id: string): void;
  addGroup(appId: string, input?: GroupInput): SimGroup;
  updateGroup(groupId: string, patch: { referenceName?: string }): SimGroup;
  /** Removes a group and its subscriptions. */
  removeGroup(groupId: string): void;
  moveSubscription(
    subscriptionId: string,
    toGroupId: string,
    options?: { groupLevel?: number },
  ): SimSubscription;
  /** Sets (creates or changes) an app's grace settings; null removes them. */
  setGrace(appId: string, grace: GraceInput | null): SimGrace | null;
  removeGrace(appId: string): void;
  /** Adds a price version (a future `startDate` schedules a change) to a product's details. */
  schedulePrice(productId: string, price: PriceInput): SimPrice;
  /** Adds an offer to a subscription (any kind) or an IAP (offer codes); defaults per kind. */
  addOffer(productId: string, offer: OfferInput): SimOffer;
  /**
   * Ends an offer: introductory and win-back offers get `endDate` (default today), offer codes
   * `active: false`; promotional offers are removed (Apple deletes them). Returns the offer, or
   * null when it was removed.
   */
  endOffer(offerId: string, options?: { endDate?: string }): SimOffer | null;
  /** Adds a localization to a product or a subscription group. */
  addLocalization(ownerId: string, input: LocalizationInput): SimLocalization;
  updateLocalization(localizationId: string, patch: Partial<Omit<SimLocalization, 'id'>>): SimLocalization;
  /** Changes where a product is sold. */
  setAvailability(productId: string, patch: Partial<SimAvailability>): SimAvailability;
  /** Replaces a product's details wholesale (null: none). */
  setDetails(productId: string, details: SimDetails | null): SimDetails | null;
  /** Removes a localization of a product or a subscription group. */
  removeLocalization(localizationId: string): void;
  /**
   * Submits the metadata of a product or group for review: the latest version moves to `state`
   * (default WAITING_FOR_REVIEW), or a new version is started when the latest was already
   * approved (or there is none). Returns that version.
   */
  submitVersion(ownerId: string, options?: { state?: string }): SimVersion;
  /** Uploads (or replaces) a product's review screenshot; null removes it. */
  setReviewScreenshot(productId: string, screenshot: Partial<SimMedia> | null): SimMedia | null;
  /** Promotes a product on the App Store (or changes its promotion); null ends it. */
  setPromotedPurchase(
    productId: string,
    promoted: Partial<SimPromotedPurchase> | null,
  ): SimPromotedPurchase | null;
  /** Adds or changes a subscription's plan availability of `planType`. */
  setPlanAvailability(subscriptionId: string, plan: SimPlanAvailability): SimPlanAvailability;
}

export type PriceInput = Omit<SimPrice, 'startDate'> & { startDate: string | null };
export type OfferInput = Partial<Omit<SimOffer, 'kind'>> & { kind: SimOffer['kind'] };
export type LocalizationInput = Partial<Omit<SimLocalization, 'locale'>> & { locale: string };

export const MUTATION_NAMES = [
  'addApp',
  'updateApp',
  'removeApp',
  'addProduct',
  'addSubscription',
  'updateProduct',
  'removeProduct',
  'addGroup',
  'updateGroup',
  'removeGroup',
  'moveSubscription',
  'setGrace',
  'removeGrace',
  'schedulePrice',
  'addOffer',
  'endOffer',
  'addLocalization',
  'updateLocalization',
  'setAvailability',
  'setDetails',
  'removeLocalization',
  'submitVersion',
  'setReviewScreenshot',
  'setPromotedPurchase',
  'setPlanAvailability',
] as const satisfies readonly (keyof SimMutations)[];

const copy = <T>(value: T): T => structuredClone(value);

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue ? [what, ...issue.path.map(String)].join('.') : what;
  throw new InvalidInputError(field, `${issue?.message ?? 'is invalid'}; fix the value and try again.`);
}

const OFFER_DEFAULTS: Record<SimOffer['kind'], Partial<SimOffer>> = {
  introductory: {
    duration: 'ONE_WEEK',
    offerMode: 'FREE_TRIAL',
    numberOfPeriods: 1,
    tier: null,
    startDate: null,
    endDate: null,
  },
  promotional: { duration: 'ONE_MONTH', offerMode: 'PAY_AS_YOU_GO', numberOfPeriods: 1 },
  offerCode: {
    duration: 'ONE_MONTH',
    offerMode: 'PAY_UP_FRONT',
    numberOfPeriods: 1,
    customerEligibilities: ['NEW'],
    offerEligibility: 'STACK_WITH_INTRO_OFFERS',
    totalNumberOfCodes: 500,
    productionCodeCount: 400,
    sandboxCodeCount: 100,
    active: true,
    autoRenewEnabled: true,
  },
  winBack: {
    duration: 'ONE_MONTH',
    offerMode: 'PAY_AS_YOU_GO',
    numberOfPeriods: 1,
    paidSubscriptionMonths: 6,
    sinceLastSubscribedMonths: { minimum: 3, maximum: 24 },
    waitBetweenOffersMonths: 12,
    endDate: null,
    priority: 'NORMAL',
    promotionIntent: 'NOT_PROMOTED',
  },
};

/** `today` gives the simulator's day (YYYY-MM-DD), the default start and end of offers. */
export function createMutations(
  store: CatalogStore,
  today: () => string = () => new Date().toISOString().slice(0, 10),
): SimMutations {
  const nextId = createIdSource(Math.random, (id) => store.hasId(id));

  const app = (appId: string): SimApp => {
    const found = store.index().appsById.get(appId);
    if (!found)
      throw new NotFoundError(`The simulator has no app ${appId}; list apps with sim.catalog.apps.`);
    return found;
  };
  const group = (groupId: string) => {
    const found = store.index().groupsById.get(groupId);
    if (!found) throw new NotFoundError(`The simulator has no subscription group ${groupId}.`);
    return found;
  };
  const product = (id: string) => {
    const found = store.index().productsById.get(id);
    if (!found) throw new NotFoundError(`The simulator has no product with Apple id ${id}.`);
    return found;
  };
  const freshId = (id: string | undefined): string => {
    if (id === undefined) return nextId();
    if (store.hasId(id))
      throw new InvalidInputError('id', `${id} is already used in the simulator catalog; pick another.`);
    return id;
  };
  // Apple never lets a product id be used again once its product is deleted; only the same
  // product (same Apple id) may reappear with it. Per app: product id → Apple id that had it.
  const retired = new Map<SimApp, Map<string, string>>();
  const retiredOf = (target: SimApp) => {
    let ids = retired.get(target);
    if (!ids) {
      ids = new Map();
      retired.set(target, ids);
    }
    return ids;
  };
  const retire = (target: SimApp, products: readonly { id: string; productId: string }[]) => {
    for (const p of products) retiredOf(target).set(p.productId, p.id);
  };
  const productIdsOf = (target: SimApp) => {
    const ids = new Set(target.iaps.map((iap) => iap.productId));
    for (const id of retiredOf(target).keys()) ids.add(id);
    for (const g of target.groups) for (const s of g.subscriptions) ids.add(s.productId);
    return ids;
  };
  const checkProductId = (target: SimApp, productId: string, except?: string) => {
    const previousOwner = retiredOf(target).get(productId);
    if (previousOwner !== undefined && previousOwner !== except) {
      throw new InvalidInputError(
        'productId',
        `${productId} belonged to a deleted product (${previousOwner}); App Store Connect never reuses a product id.`,
      );
    }
    for (const iap of target.iaps) {
      if (iap.productId === productId && iap.id !== except) throw duplicateProductId(productId);
    }
    for (const g of target.groups) {
      for (const s of g.subscriptions)
        if (s.productId === productId && s.id !== except) throw duplicateProductId(productId);
    }
  };
  const uniqueProductId = (target: SimApp, stem: string) => {
    const used = productIdsOf(target);
    let n = used.size + 1;
    while (used.has(`${target.bundleId}.${stem}${n}`)) n++;
    return `${target.bundleId}.${stem}${n}`;
  };
  const buildSubscription = (
    target: SimApp,
    into: SimGroup,
    input: Partial<SimSubscription>,
  ): SimSubscription => {
    const level = Math.max(0, ...into.subscriptions.map((s) => s.groupLevel)) + 1;
    const productId = input.productId ?? uniqueProductId(target, 'subscription');
    const subscription = parseOrThrow<SimSubscription>(
      simSubscriptionSchema,
      {
        name: `Subscription ${productId.split('.').pop()}`,
        state: 'READY_TO_SUBMIT',
        subscriptionPeriod: 'ONE_MONTH',
        groupLevel: level,
        familySharable: false,
        ...input,
        productId,
        id: freshId(input.id),
      },
      'subscription',
    );
    checkProductId(target, subscription.productId, subscription.id);
    return subscription;
  };
  const changed = <T>(value: T): T => {
    store.touch();
    return copy(value);
  };
  /** A product's details, created (available everywhere, nothing priced) when it has none. */
  const detailsOf = (id: string) => {
    const ref = product(id);
    const target = (ref.iap ?? ref.subscription)!;
    target.details ??= {
      ...(ref.iap ? { baseTerritory: 'USA' } : {}),
      prices: [],
      offers: [],
      localizations: [],
      availability: { availableInNewTerritories: true, territories: [...TERRITORY_IDS] },
    };
    return { ref, details: target.details };
  };
  const checkTerritories = (field: string, territories: readonly string[] | undefined) => {
    for (const territory of territories ?? []) {
      if (!TERRITORIES_BY_ID.has(territory)) {
        throw new InvalidInputError(
          field,
          `${territory} is not one of the simulator's 175 territories (ISO alpha-3, e.g. USA).`,
        );
      }
    }
  };

  return {
    addApp(input = {}) {
      const id = freshId(input.id);
      const created = parseOrThrow<SimApp>(
        simAppSchema,
        {
          bundleId: `com.example.app${id}`,
          name: `Example App ${id}`,
          sku: `SKU${id}`,
          primaryLocale: 'en-US',
          iaps: [],
          groups: [],
          grace: null,
          ...input,
          id,
        },
        'app',
      );
      store.catalog.apps.push(created);
      return changed(created);
    },

    updateApp(appId, patch) {
      const target = app(appId);
      const next = parseOrThrow<SimApp>(simAppSchema, { ...target, ...patch, id: target.id }, 'app');
      Object.assign(target, next);
      return changed(target);
    },

    removeApp(appId) {
      const target = app(appId);
      store.catalog.apps.splice(store.catalog.apps.indexOf(target), 1);
      store.touch();
    },

    addProduct(appId, input = {}) {
      const target = app(appId);
      const productId = input.productId ?? uniqueProductId(target, 'product');
      const iap = parseOrThrow<SimIap>(
        simIapSchema,
        {
          name: `Product ${productId.split('.').pop()}`,
          inAppPurchaseType: 'CONSUMABLE',
          state: 'READY_TO_SUBMIT',
          reviewNote: '',
          familySharable: false,
          contentHosting: false,
          ...input,
          productId,
          id: freshId(input.id),
        },
        'product',
      );
      checkProductId(target, iap.productId, iap.id);
      target.iaps.push(iap);
      return changed(iap);
    },

    addSubscription(groupId, input = {}) {
      const owner = group(groupId);
      const subscription = buildSubscription(owner.app, owner.group, input);
      owner.group.subscriptions.push(subscription);
      return changed(subscription);
    },

    updateProduct(id, patch) {
      const ref = product(id);
      if (patch.productId !== undefined) checkProductId(ref.app, patch.productId, id);
      if (ref.iap) {
        const next = parseOrThrow<SimIap>(simIapSchema, { ...ref.iap, ...patch, id }, 'product');
        Object.assign(ref.iap, next);
        return changed(ref.iap);
      }
      const subscription = ref.subscription!;
      const next = parseOrThrow<SimSubscription>(
        simSubscriptionSchema,
        { ...subscription, ...patch, id },
        'subscription',
      );
      Object.assign(subscription, next);
      return changed(subscription);
    },

    removeProduct(id) {
      const ref = product(id);
      if (ref.iap) {
        ref.app.iaps.splice(ref.app.iaps.indexOf(ref.iap), 1);
        retire(ref.app, [ref.iap]);
      } else if (ref.group && ref.subscription) {
        ref.group.subscriptions.splice(ref.group.subscriptions.indexOf(ref.subscription), 1);
        retire(ref.app, [ref.subscription]);
      }
      store.touch();
    },

    addGroup(appId, input = {}) {
      const target = app(appId);
      const created: SimGroup = parseOrThrow<SimGroup>(
        simGroupSchema,
        {
          id: freshId(input.id),
          referenceName: input.referenceName ?? `Group ${target.groups.length + 1}`,
          subscriptions: [],
        },
        'group',
      );
      target.groups.push(created);
      store.touch();
      try {
        for (const subscription of input.subscriptions ?? []) {
          created.subscriptions.push(buildSubscription(target, created, subscription));
          store.touch();
        }
      } catch (error) {
        target.groups.splice(target.groups.indexOf(created), 1);
        store.touch();
        throw error;
      }
      return changed(created);
    },

    updateGroup(groupId, patch) {
      const owner = group(groupId);
      if (patch.referenceName !== undefined) owner.group.referenceName = patch.referenceName;
      return changed(owner.group);
    },

    removeGroup(groupId) {
      const owner = group(groupId);
      owner.app.groups.splice(owner.app.groups.indexOf(owner.group), 1);
      retire(owner.app, owner.group.subscriptions);
      store.touch();
    },

    moveSubscription(subscriptionId, toGroupId, options = {}) {
      const ref = product(subscriptionId);
      if (!ref.subscription || !ref.group) {
        throw new InvalidInputError(
          'subscriptionId',
          `${subscriptionId} is an in-app purchase, not a subscription.`,
        );
      }
      const destination = group(toGroupId);
      if (destination.app !== ref.app) {
        throw new InvalidInputError(
          'toGroupId',
          `group ${toGroupId} belongs to another app; pick a group of app ${ref.app.id}.`,
        );
      }
      const subscription = ref.subscription;
      ref.group.subscriptions.splice(ref.group.subscriptions.indexOf(subscription), 1);
      subscription.groupLevel =
        options.groupLevel ?? Math.max(0, ...destination.group.subscriptions.map((s) => s.groupLevel)) + 1;
      destination.group.subscriptions.push(subscription);
      return changed(subscription);
    },

    setGrace(appId, grace) {
      const target = app(appId);
      if (grace === null) {
        target.grace = null;
        store.touch();
        return null;
      }
      const current = target.grace;
      const next = parseOrThrow<SimGrace>(
        simGraceSchema,
        {
          optIn: true,
          sandboxOptIn: true,
          duration: 'SIXTEEN_DAYS',
          renewalType: 'ALL_RENEWALS',
          ...current,
          ...grace,
          id: current?.id ?? freshId(grace.id),
        },
        'grace',
      );
      target.grace = next;
      return changed(next);
    },

    removeGrace(appId) {
      app(appId).grace = null;
      store.touch();
    },

    schedulePrice(productId, input) {
      const { details } = detailsOf(productId);
      const price = parseOrThrow<SimPrice>(simPriceSchema, input, 'price');
      checkTerritories('price.territories', price.territories);
      details.prices.push(price);
      return changed(price);
    },

    addOffer(productId, input) {
      const { ref, details } = detailsOf(productId);
      if (ref.iap && input.kind !== 'offerCode') {
        throw new InvalidInputError(
          'offer.kind',
          `in-app purchases have offer codes only, not ${input.kind} offers.`,
        );
      }
      const defaults = OFFER_DEFAULTS[input.kind];
      const offer = parseOrThrow<SimOffer>(
        simOfferSchema,
        {
          tier: 1,
          ...defaults,
          ...(input.kind === 'introductory' ? { startDate: today() } : {}),
          ...(input.kind === 'winBack'
            ? {
                startDate: today(),
                referenceName: 'Win-back offer',
                offerId: `winback.${details.offers.length + 1}`,
              }
            : {}),
          ...(input.kind === 'promotional'
            ? { name: 'Promotional offer', offerCode: `PROMO${details.offers.length + 1}` }
            : {}),
          ...(input.kind === 'offerCode' ? { name: `Offer code ${details.offers.length + 1}` } : {}),
          ...(ref.iap
            ? { customerEligibilities: ['NON_SPENDER'], duration: undefined, offerMode: undefined }
            : {}),
          ...input,
          id: freshId(input.id),
        },
        'offer',
      );
      checkTerritories('offer.territories', offer.territories);
      details.offers.push(offer);
      return changed(offer);
    },

    endOffer(offerId, options = {}) {
      const found = store.detailsIndex().offers.get(offerId);
      if (!found) throw new NotFoundError(`The simulator has no offer ${offerId}.`);
      const details = (found.product.iap ?? found.product.subscription)!.details!;
      const { offer } = found;
      if (offer.kind === 'promotional') {
        details.offers.splice(details.offers.indexOf(offer), 1);
        store.touch();
        return null;
      }
      if (offer.kind === 'offerCode') offer.active = false;
      else offer.endDate = options.endDate ?? today();
      return changed(offer);
    },

    addLocalization(ownerId, input) {
      const owner = store.index().groupsById.get(ownerId);
      if (owner && !owner.group.localizations) owner.group.localizations = [];
      const list = owner ? owner.group.localizations! : detailsOf(ownerId).details.localizations;
      if (list.some((entry) => entry.locale === input.locale)) {
        throw new InvalidInputError(
          'locale',
          `${ownerId} already has a ${input.locale} localization; update it instead.`,
        );
      }
      const entry = parseOrThrow<SimLocalization>(
        simLocalizationSchema,
        {
          name: `Name (${input.locale})`,
          state: 'PREPARE_FOR_SUBMISSION',
          ...(owner ? {} : { description: `Description (${input.locale})` }),
          ...input,
          id: freshId(input.id),
        },
        'localization',
      );
      list.push(entry);
      return changed(entry);
    },

    updateLocalization(localizationId, patch) {
      const found = store.detailsIndex().localizations.get(localizationId);
      if (!found) throw new NotFoundError(`The simulator has no localization ${localizationId}.`);
      const next = parseOrThrow<SimLocalization>(
        simLocalizationSchema,
        { ...found.entry, ...patch, id: localizationId },
        'localization',
      );
      Object.assign(found.entry, next);
      return changed(found.entry);
    },

    setAvailability(productId, patch) {
      const { details } = detailsOf(productId);
      const next = parseOrThrow<SimAvailability>(
        simAvailabilitySchema,
        { availableInNewTerritories: true, territories: [], ...details.availability, ...patch },
        'availability',
      );
      checkTerritories('availability.territories', next.territories);
      next.territories = [...new Set(next.territories)].sort();
      details.availability = next;
      return changed(next);
    },

    setDetails(productId, input) {
      const ref = product(productId);
      const target = (ref.iap ?? ref.subscription)!;
      if (input === null) {
        delete target.details;
        store.touch();
        return null;
      }
      target.details = parseOrThrow<SimDetails>(simDetailsSchema, input, 'details');
      return changed(target.details);
    },

    removeLocalization(localizationId) {
      const found = store.detailsIndex().localizations.get(localizationId);
      if (!found) throw new NotFoundError(`The simulator has no localization ${localizationId}.`);
      const list = found.group
        ? found.group.localizations!
        : (found.product!.iap ?? found.product!.subscription)!.details!.localizations;
      list.splice(list.indexOf(found.entry), 1);
      store.touch();
    },

    submitVersion(ownerId, options = {}) {
      const owner = store.index().groupsById.get(ownerId);
      let list: SimVersion[];
      if (owner) {
        owner.group.versions ??= [];
        list = owner.group.versions;
      } else {
        const { details } = detailsOf(ownerId);
        details.versions ??= [];
        list = details.versions;
      }
      const state = options.state ?? 'WAITING_FOR_REVIEW';
      const latest = list[list.length - 1];
      if (latest && latest.state !== 'APPROVED') {
        latest.state = state;
        return changed(latest);
      }
      const version = parseOrThrow<SimVersion>(
        simVersionSchema,
        { id: freshId(undefined), version: (latest?.version ?? 0) + 1, state },
        'version',
      );
      list.push(version);
      return changed(version);
    },

    setReviewScreenshot(productId, input) {
      const { details } = detailsOf(productId);
      if (input === null) {
        details.reviewScreenshot = null;
        store.touch();
        return null;
      }
      const next = parseOrThrow<SimMedia>(
        simMediaSchema,
        {
          fileName: `review-${productId}.png`,
          assetDeliveryState: 'COMPLETE',
          ...details.reviewScreenshot,
          ...input,
        },
        'screenshot',
      );
      details.reviewScreenshot = next;
      return changed(next);
    },

    setPromotedPurchase(productId, input) {
      const { details } = detailsOf(productId);
      if (input === null) {
        details.promotedPurchase = null;
        store.touch();
        return null;
      }
      const next = parseOrThrow<SimPromotedPurchase>(
        simPromotedPurchaseSchema,
        {
          enabled: true,
          visibleForAllUsers: true,
          state: 'PREPARE_FOR_SUBMISSION',
          ...details.promotedPurchase,
          ...input,
        },
        'promotedPurchase',
      );
      details.promotedPurchase = next;
      return changed(next);
    },

    setPlanAvailability(subscriptionId, input) {
      const ref = product(subscriptionId);
      if (!ref.subscription) {
        throw new InvalidInputError(
          'subscriptionId',
          `${subscriptionId} is not a subscription: only subscriptions have plans.`,
        );
      }
      const { details } = detailsOf(subscriptionId);
      const plan = parseOrThrow<SimPlanAvailability>(simPlanAvailabilitySchema, input, 'plan');
      details.planAvailabilities ??= [];
      const existing = details.planAvailabilities.find((p) => p.planType === plan.planType);
      if (existing) Object.assign(existing, plan);
      else details.planAvailabilities.push(plan);
      return changed(plan);
    },
  };
}

function duplicateProductId(productId: string) {
  return new InvalidInputError(
    'productId',
    `${productId} is already used in this app; product ids are unique per app.`,
  );
}
