import { AppStoreError, attributesTooLargeError } from '../appstore/errors.ts';
import { catalogDigest } from '../catalog/digest.ts';
import {
  type Catalog,
  type CatalogGroup,
  type CatalogProduct,
  type GracePeriod,
  graceDurationDays,
  type ProductKind,
} from '../catalog/model.ts';
import { AppError } from '../errors.ts';
import { storableRecord } from './storable.ts';

/*
 * Apple's JSON:API resources → the catalog model. Pure: the fetch hands over resources it
 * already validated; this maps them and refuses a catalog that would mislead (a product with
 * no product id, two products sharing one, a grace duration whose length is unknown while
 * grace is on).
 */

/** The part of a JSON:API resource object normalisation reads. */
export interface AppleResource {
  type: string;
  id: string;
  attributes?: Record<string, unknown> | null | undefined;
}

export interface FetchedResources {
  /** `inAppPurchases` resources (Apple's IAP v2 type). */
  iaps: AppleResource[];
  /** Each `subscriptionGroups` resource with every `subscriptions` resource in it. */
  groups: { group: AppleResource; subscriptions: AppleResource[] }[];
  /** The app's `subscriptionGracePeriods` resource, or null when it has none. */
  grace: AppleResource | null;
}

export interface Normalised {
  catalog: Catalog;
  /** catalogDigest(catalog), from the raw attributes' JSON made for the size check. */
  digest: string;
  /** Things worth a log line that do not stop the sync (unknown IAP types). */
  warnings: string[];
}

const IAP_KINDS: Record<string, ProductKind> = {
  CONSUMABLE: 'consumable',
  NON_CONSUMABLE: 'non_consumable',
  NON_RENEWING_SUBSCRIPTION: 'non_renewing_subscription',
};

/**
 * An IAP type Apple adds later is stored as `non_consumable`, its raw `inAppPurchaseType`
 * kept in `raw`: a one-time entitlement with no renewal and no consumption is the reading
 * that dates no revenue wrongly and drops no product (skipping it would mark it removed;
 * failing would stop the whole catalog for one product). When the mapping learns the new
 * value, the next sync records an update of `kind`.
 */
export const UNKNOWN_IAP_KIND: ProductKind = 'non_consumable';

function schemaError(message: string): AppStoreError {
  return new AppStoreError('schema', message);
}

/** The catalog changed between two requests of one fetch: the next sync reads a settled one. */
function inconsistent(message: string): AppError {
  return new AppError('inconsistent_catalog', message, { retryable: true });
}

/* Raw attributes are kept as received; the diff compares them key-order-blind (catalog/canonical.ts). */
const rawOf = (a: Record<string, unknown>): Record<string, unknown> => ({ ...a });

const attrs = (resource: AppleResource): Record<string, unknown> => resource.attributes ?? {};
const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const bool = (value: unknown): boolean | null => (typeof value === 'boolean' ? value : null);
const int = (value: unknown): number | null =>
  typeof value === 'number' && Number.isInteger(value) ? value : null;

function productId(resource: AppleResource, what: string): string {
  const id = str(attrs(resource).productId);
  if (!id) {
    throw schemaError(
      `App Store Connect returned ${what} ${resource.id} without a productId; the catalog was not applied. ` +
        'Check the product in App Store Connect, then sync again.',
    );
  }
  return id;
}

export function normaliseIap(resource: AppleResource, warnings: string[] = []): CatalogProduct {
  const a = attrs(resource);
  const type = str(a.inAppPurchaseType) ?? '';
  let kind = IAP_KINDS[type];
  if (!kind) {
    kind = UNKNOWN_IAP_KIND;
    warnings.push(
      `in-app purchase ${resource.id} has type ${JSON.stringify(type)}, unknown to this worker; stored as ${kind} with the type kept in raw`,
    );
  }
  return {
    appleId: resource.id,
    productId: productId(resource, 'in-app purchase'),
    kind,
    referenceName: str(a.name) ?? '',
    state: str(a.state) ?? '',
    familySharable: bool(a.familySharable),
    contentHosting: bool(a.contentHosting),
    subscriptionPeriod: null,
    groupAppleId: null,
    groupLevel: null,
    raw: rawOf(a),
  };
}

export function normaliseSubscription(resource: AppleResource, groupAppleId: string): CatalogProduct {
  const a = attrs(resource);
  return {
    appleId: resource.id,
    productId: productId(resource, 'subscription'),
    kind: 'auto_renewable_subscription',
    referenceName: str(a.name) ?? '',
    state: str(a.state) ?? '',
    familySharable: bool(a.familySharable),
    contentHosting: null,
    subscriptionPeriod: str(a.subscriptionPeriod),
    groupAppleId,
    groupLevel: int(a.groupLevel),
    raw: rawOf(a),
  };
}

export function normaliseGroup(resource: AppleResource): CatalogGroup {
  return {
    appleId: resource.id,
    referenceName: str(attrs(resource).referenceName) ?? '',
    raw: rawOf(attrs(resource)),
  };
}

/**
 * Grace settings. Apple's durations are THREE_DAYS, SIXTEEN_DAYS and TWENTY_EIGHT_DAYS;
 * graceDurationDays also reads later names such as SEVEN_DAYS. A duration whose length is
 * still unknown is refused only when grace is on somewhere (the rules would need its days);
 * with grace off it counts as 0 days. A missing duration (never configured) is '' / 0 days.
 */
export function normaliseGrace(resource: AppleResource): GracePeriod {
  const a = attrs(resource);
  const optIn = bool(a.optIn) ?? false;
  const sandboxOptIn = bool(a.sandboxOptIn) ?? false;
  const duration = str(a.duration) ?? '';
  let durationDays = duration === '' ? 0 : graceDurationDays(duration);
  if (durationDays === undefined) {
    if (optIn || sandboxOptIn) {
      throw schemaError(
        `App Store Connect returned a grace period duration this worker does not know (${JSON.stringify(duration)}), ` +
          'so the revenue-attribution rules cannot be derived; the catalog was not applied. Upgrade catalog-sync.',
      );
    }
    durationDays = 0;
  }
  return {
    appleId: resource.id,
    optIn,
    sandboxOptIn,
    duration,
    durationDays,
    renewalType: str(a.renewalType) ?? '',
    raw: rawOf(a),
  };
}

export interface NormaliseOptions {
  /** Largest raw attribute JSON kept per product, group or grace record (SYNC_MAX_PRODUCT_ATTRIBUTES_BYTES). */
  maxAttributesBytes?: number | undefined;
}

export const DEFAULT_MAX_ATTRIBUTES_BYTES = 65_536;

/** What normalising one catalog collects as it goes. */
interface Collected {
  maxBytes: number;
  warnings: string[];
  /** Each stored record's raw attributes as JSON, made for the size check, kept for the digest. */
  rawJson: Map<Record<string, unknown>, string>;
}

/**
 * A record made storable (storable.ts: NUL and lone surrogates cleaned, with a warning naming the
 * record and field) and its raw attributes checked against the per-record bound.
 */
function storable<T extends { appleId: string; raw: Record<string, unknown> }>(
  record: T,
  what: string,
  collected: Collected,
): T {
  const { value, changed, rawJson } = storableRecord(record);
  if (changed.length > 0) {
    const fields =
      changed.slice(0, 5).join(', ') + (changed.length > 5 ? ` and ${changed.length - 5} more` : '');
    collected.warnings.push(
      `${what} ${record.appleId}: characters Postgres cannot store (NUL or an unpaired surrogate) were removed from ${fields}`,
    );
  }
  const bytes = Buffer.byteLength(rawJson);
  if (bytes > collected.maxBytes) {
    throw attributesTooLargeError(`${what} ${record.appleId}`, bytes, collected.maxBytes);
  }
  collected.rawJson.set(value.raw, rawJson);
  return value;
}

/** The whole catalog, products sorted by Apple id; throws a `schema` AppError when it cannot be trusted. */
export function normaliseCatalog(fetched: FetchedResources, options: NormaliseOptions = {}): Normalised {
  const collected: Collected = {
    maxBytes: options.maxAttributesBytes ?? DEFAULT_MAX_ATTRIBUTES_BYTES,
    warnings: [],
    rawJson: new Map(),
  };
  const { warnings } = collected;
  const products = new Map<string, CatalogProduct>();
  const add = (product: CatalogProduct) => {
    const seen = products.get(product.appleId);
    if (seen && seen.groupAppleId !== product.groupAppleId) {
      throw inconsistent(
        `Product ${product.appleId} was listed in two places (groups ${seen.groupAppleId} and ${product.groupAppleId}): ` +
          'the catalog changed while it was being read. The next sync will read it again.',
      );
    }
    // The same resource twice (a cursor page shifted by a concurrent change) is harmless.
    products.set(product.appleId, product);
  };
  for (const iap of fetched.iaps) add(storable(normaliseIap(iap, warnings), 'in-app purchase', collected));
  const groups = new Map<string, CatalogGroup>();
  for (const { group, subscriptions } of fetched.groups) {
    groups.set(group.id, storable(normaliseGroup(group), 'subscription group', collected));
    for (const subscription of subscriptions) {
      add(storable(normaliseSubscription(subscription, group.id), 'subscription', collected));
    }
  }
  const byProductId = new Map<string, string>();
  for (const product of products.values()) {
    const other = byProductId.get(product.productId);
    if (other !== undefined) {
      throw inconsistent(
        `Two products share the product id ${JSON.stringify(product.productId)} (${other} and ${product.appleId}); ` +
          'the catalog was not applied. Check them in App Store Connect, then sync again.',
      );
    }
    byProductId.set(product.productId, product.appleId);
  }
  const byId = <T extends { appleId: string }>(a: T, b: T) =>
    a.appleId < b.appleId ? -1 : a.appleId > b.appleId ? 1 : 0;
  const catalog: Catalog = {
    products: [...products.values()].sort(byId),
    groups: [...groups.values()].sort(byId),
    grace: fetched.grace ? storable(normaliseGrace(fetched.grace), 'grace period', collected) : null,
  };
  const digest = catalogDigest(catalog, (raw) => collected.rawJson.get(raw) ?? JSON.stringify(raw));
  return { catalog, digest, warnings };
}
