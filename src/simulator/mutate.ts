import type { z } from 'zod';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import {
  type SimApp,
  type SimGrace,
  type SimGroup,
  type SimIap,
  type SimSubscription,
  simAppSchema,
  simGraceSchema,
  simGroupSchema,
  simIapSchema,
  simSubscriptionSchema,
} from './catalog.ts';
import { createIdSource } from './generate.ts';
import type { CatalogStore } from './store.ts';

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
}

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
] as const satisfies readonly (keyof SimMutations)[];

const copy = <T>(value: T): T => structuredClone(value);

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue ? [what, ...issue.path.map(String)].join('.') : what;
  throw new InvalidInputError(field, `${issue?.message ?? 'is invalid'}; fix the value and try again.`);
}

export function createMutations(store: CatalogStore): SimMutations {
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
  };
}

function duplicateProductId(productId: string) {
  return new InvalidInputError(
    'productId',
    `${productId} is already used in this app; product ids are unique per app.`,
  );
}
