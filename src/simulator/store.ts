import {
  compareIds,
  type SimApp,
  type SimCatalog,
  type SimGroup,
  type SimIap,
  type SimLocalization,
  type SimOffer,
  type SimSubscription,
} from './catalog.ts';

/*
 * Indexes over the live catalog, built lazily and dropped whenever the catalog changes
 * (every mutation bumps `generation`). A request then rebuilds only what it touches: the
 * global id maps (O(apps + groups)) and the one app it reads (O(its products)).
 */

export interface ProductRef {
  app: SimApp;
  iap?: SimIap;
  subscription?: SimSubscription;
  group?: SimGroup;
}

interface GlobalIndex {
  generation: number;
  appsSorted: SimApp[];
  appsById: Map<string, SimApp>;
  appsByBundleId: Map<string, SimApp[]>;
  groupsById: Map<string, { app: SimApp; group: SimGroup }>;
  gracesById: Map<string, SimApp>;
  productsById: Map<string, ProductRef>;
}

export interface AppIndex {
  generation: number;
  iaps: SimIap[];
  groups: SimGroup[];
  subscriptionsByGroup: Map<string, SimSubscription[]>;
  /** Serialised default renderings (no sparse fieldset), per base URL and resource id. */
  renderBase: string;
  rendered: Map<string, string>;
}

/** Offers and localizations by id (built only when a details request needs them). */
export interface DetailsIndex {
  generation: number;
  offers: Map<string, { offer: SimOffer; product: ProductRef }>;
  localizations: Map<string, { entry: SimLocalization; product?: ProductRef; group?: SimGroup }>;
}

const byId = (a: { id: string }, b: { id: string }) => compareIds(a.id, b.id);

export class CatalogStore {
  catalog: SimCatalog;
  generation = 0;
  private global: GlobalIndex | undefined;
  private apps = new Map<string, AppIndex>();
  private details: DetailsIndex | undefined;

  constructor(catalog: SimCatalog) {
    this.catalog = catalog;
    this.index();
  }

  /** Marks every index stale; the next read rebuilds what it needs. */
  touch(): void {
    this.generation += 1;
  }

  replace(catalog: SimCatalog): void {
    this.catalog = catalog;
    this.touch();
    this.apps.clear();
    this.index();
  }

  index(): GlobalIndex {
    if (this.global?.generation === this.generation) return this.global;
    const appsById = new Map<string, SimApp>();
    const appsByBundleId = new Map<string, SimApp[]>();
    const groupsById = new Map<string, { app: SimApp; group: SimGroup }>();
    const gracesById = new Map<string, SimApp>();
    const productsById = new Map<string, ProductRef>();
    for (const app of this.catalog.apps) {
      if (appsById.has(app.id)) throw new Error(`Duplicate app id ${app.id} in the simulator catalog.`);
      appsById.set(app.id, app);
      const sameBundle = appsByBundleId.get(app.bundleId);
      if (sameBundle) sameBundle.push(app);
      else appsByBundleId.set(app.bundleId, [app]);
      if (app.grace) gracesById.set(app.grace.id, app);
      for (const iap of app.iaps) {
        if (productsById.has(iap.id))
          throw new Error(`Duplicate product id ${iap.id} in the simulator catalog.`);
        productsById.set(iap.id, { app, iap });
      }
      for (const group of app.groups) {
        if (groupsById.has(group.id))
          throw new Error(`Duplicate group id ${group.id} in the simulator catalog.`);
        groupsById.set(group.id, { app, group });
        for (const subscription of group.subscriptions) {
          if (productsById.has(subscription.id)) {
            throw new Error(`Duplicate product id ${subscription.id} in the simulator catalog.`);
          }
          productsById.set(subscription.id, { app, subscription, group });
        }
      }
    }
    const appsSorted = [...this.catalog.apps].sort(byId);
    this.global = {
      generation: this.generation,
      appsSorted,
      appsById,
      appsByBundleId,
      groupsById,
      gracesById,
      productsById,
    };
    return this.global;
  }

  appIndex(app: SimApp): AppIndex {
    const cached = this.apps.get(app.id);
    if (cached && cached.generation === this.generation) return cached;
    const subscriptionsByGroup = new Map<string, SimSubscription[]>();
    for (const group of app.groups) subscriptionsByGroup.set(group.id, [...group.subscriptions].sort(byId));
    const index: AppIndex = {
      generation: this.generation,
      iaps: [...app.iaps].sort(byId),
      groups: [...app.groups].sort(byId),
      subscriptionsByGroup,
      renderBase: '',
      rendered: new Map(),
    };
    this.apps.set(app.id, index);
    return index;
  }

  detailsIndex(): DetailsIndex {
    if (this.details?.generation === this.generation) return this.details;
    const offers: DetailsIndex['offers'] = new Map();
    const localizations: DetailsIndex['localizations'] = new Map();
    for (const product of this.index().productsById.values()) {
      const details = (product.iap ?? product.subscription)?.details;
      for (const offer of details?.offers ?? []) offers.set(offer.id, { offer, product });
      for (const entry of details?.localizations ?? []) localizations.set(entry.id, { entry, product });
    }
    for (const { group } of this.index().groupsById.values()) {
      for (const entry of group.localizations ?? []) localizations.set(entry.id, { entry, group });
    }
    this.details = { generation: this.generation, offers, localizations };
    return this.details;
  }

  /** Every id in use, so new resources never collide. */
  hasId(id: string): boolean {
    const index = this.index();
    if (
      index.appsById.has(id) ||
      index.groupsById.has(id) ||
      index.gracesById.has(id) ||
      index.productsById.has(id)
    )
      return true;
    const details = this.detailsIndex();
    return details.offers.has(id) || details.localizations.has(id);
  }
}
