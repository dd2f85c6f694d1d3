import { type AppleErrorResponse, notFound, parameterInvalid } from './apple-errors.ts';
import type { RegisteredKey } from './auth.ts';
import { compareIds, type SimApp, type SimGroup, type SimIap, type SimSubscription } from './catalog.ts';
import type { CursorCodec } from './cursor.ts';
import {
  type DetailRelationship,
  groupDetailRelationships,
  iapDetailRelationships,
  renderDetail,
  subscriptionDetailRelationships,
  type Target,
  targetLinkage,
} from './details-resources.ts';
import {
  type Entity,
  type IncludedRelationship,
  isToOne,
  linkage,
  type ResourceType,
  renderResource,
} from './documents.ts';
import type { ParsedQuery } from './parameters.ts';
import type { AppIndex, CatalogStore } from './store.ts';

/*
 * The seven GET endpoints. Each returns a serialised JSON:API document or an Apple error.
 * Collections page by keyset on sorted ids; `meta.paging.total` is the full (filtered) count.
 */

/** Page size when `limit` is absent (Apple documents only the maxima). */
export const DEFAULT_PAGE_LIMIT = 50;
/** Included to-many relationships when `limit[relationship]` is absent. */
export const DEFAULT_INCLUDE_LIMIT = 50;

export interface EndpointContext {
  store: CatalogStore;
  key: RegisteredKey;
  query: ParsedQuery;
  url: URL;
  /** Absolute base for links, e.g. http://127.0.0.1:4010 */
  base: string;
  id: string | undefined;
  cursors: CursorCodec;
  /** The simulator's day (YYYY-MM-DD, UTC): prices in force today and scheduled ones are listed. */
  today: string;
}

export type EndpointResult = { status: 200; body: string } | AppleErrorResponse;

export type Endpoint = (ctx: EndpointContext) => EndpointResult;

export function canSee(key: RegisteredKey, appId: string): boolean {
  return key.appIds === 'all' || key.appIds.has(appId);
}

export function visibleApp(ctx: EndpointContext, id: string): SimApp | undefined {
  const app = ctx.store.index().appsById.get(id);
  return app && canSee(ctx.key, app.id) ? app : undefined;
}

// ---------------------------------------------------------------------------------------------
// Pagination

export interface Page<T> {
  items: T[];
  total: number;
  next: string | undefined;
}

function firstAfter<T extends { id: string }>(sorted: readonly T[], after: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareIds((sorted[mid] as T).id, after) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Readers of the fields a listing can be sorted by (`sort=name,-name`), by field name. */
export type SortFields<T> = Record<string, (item: T) => string>;

/**
 * A listing in the order `sort` asks for (ties by id), and the position key its cursors carry:
 * the sort values and the id, so a page continues after the last one served even when items
 * move between pages, as keyset paging on ids does.
 */
function sortedBy<T extends { id: string }>(
  items: readonly T[],
  sort: readonly string[],
  fields: SortFields<T>,
) {
  const keys = sort.map((field) => {
    const descending = field.startsWith('-');
    const read = fields[descending ? field.slice(1) : field];
    if (!read) throw new Error(`no reader for sort field ${field}`);
    return { read, descending };
  });
  const position = (item: T): string[] => [...keys.map((k) => k.read(item)), item.id];
  const compare = (a: readonly string[], b: readonly string[]): number => {
    for (let i = 0; i < keys.length; i++) {
      const x = a[i] ?? '';
      const y = b[i] ?? '';
      if (x !== y) return (x < y ? -1 : 1) * (keys[i]!.descending ? -1 : 1);
    }
    return compareIds(a[keys.length] ?? '', b[keys.length] ?? '');
  };
  const sorted = [...items].sort((a, b) => compare(position(a), position(b)));
  return { sorted, position, compare };
}

export function paginate<T extends { id: string }>(
  ctx: EndpointContext,
  listed: readonly T[],
  predicate: ((item: T) => boolean) | undefined,
  sortFields?: SortFields<T>,
): Page<T> | AppleErrorResponse {
  const limit = ctx.query.limit ?? DEFAULT_PAGE_LIMIT;
  const order =
    sortFields && ctx.query.sort.length > 0 ? sortedBy(listed, ctx.query.sort, sortFields) : undefined;
  const sorted = order ? order.sorted : listed;
  let start = 0;
  if (ctx.query.cursor !== undefined) {
    const after = ctx.cursors.decode(ctx.url.pathname, ctx.query.cursor);
    if (after === undefined) {
      return parameterInvalid('cursor', `'${ctx.query.cursor}' is not a valid cursor for this request`);
    }
    if (order) {
      let position: string[] | undefined;
      try {
        const parsed: unknown = JSON.parse(after);
        if (Array.isArray(parsed) && parsed.every((v) => typeof v === 'string')) position = parsed;
      } catch {
        position = undefined;
      }
      if (!position) {
        return parameterInvalid('cursor', `'${ctx.query.cursor}' is not a valid cursor for this request`);
      }
      const from = position;
      start = sorted.findIndex((item) => order.compare(order.position(item), from) > 0);
      if (start < 0) start = sorted.length;
    } else {
      start = firstAfter(sorted, after);
    }
  }
  let items: T[];
  let total: number;
  let more: boolean;
  if (!predicate) {
    items = sorted.slice(start, start + limit);
    total = sorted.length;
    more = start + limit < sorted.length;
  } else {
    items = [];
    total = 0;
    more = false;
    for (let i = 0; i < sorted.length; i++) {
      const item = sorted[i] as T;
      if (!predicate(item)) continue;
      total += 1;
      if (i < start) continue;
      if (items.length < limit) items.push(item);
      else more = true;
    }
  }
  const last = items[items.length - 1];
  const after = last && (order ? JSON.stringify(order.position(last)) : last.id);
  const next = more && after ? nextLink(ctx, ctx.cursors.encode(ctx.url.pathname, after)) : undefined;
  return { items, total, next };
}

function nextLink(ctx: EndpointContext, cursor: string): string {
  const params = new URLSearchParams();
  params.set('cursor', cursor);
  for (const [name, value] of ctx.url.searchParams) if (name !== 'cursor') params.append(name, value);
  return `${ctx.base}${ctx.url.pathname}?${params.toString()}`;
}

/** The request URL, its query re-encoded so the link is a valid URI reference (`[` → `%5B`). */
function selfLink(ctx: EndpointContext): string {
  const query = ctx.url.searchParams.toString();
  return `${ctx.base}${ctx.url.pathname}${query ? `?${query}` : ''}`;
}

export function collection(
  ctx: EndpointContext,
  page: Page<unknown>,
  dataJson: string[],
  included: Map<string, Record<string, unknown>> | undefined,
): EndpointResult {
  const limit = ctx.query.limit ?? DEFAULT_PAGE_LIMIT;
  const links: Record<string, string> = { self: selfLink(ctx) };
  const paging: Record<string, unknown> = { total: page.total, limit };
  if (page.next) {
    links['next'] = page.next;
    paging['nextCursor'] = new URL(page.next).searchParams.get('cursor');
  }
  let body = `{"data":[${dataJson.join(',')}]`;
  if (included) body += `,"included":${JSON.stringify([...included.values()])}`;
  body += `,"links":${JSON.stringify(links)},"meta":${JSON.stringify({ paging })}}`;
  return { status: 200, body };
}

export function single(
  ctx: EndpointContext,
  data: unknown,
  included?: Map<string, Record<string, unknown>>,
): EndpointResult {
  const document: Record<string, unknown> = { data };
  if (included) document['included'] = [...included.values()];
  document['links'] = { self: selfLink(ctx) };
  return { status: 200, body: JSON.stringify(document) };
}

// ---------------------------------------------------------------------------------------------
// Rendering helpers

/** The default rendering (no fieldset, no includes) of an app's resource, serialised once. */
function cachedJson(index: AppIndex, base: string, entity: Entity): string {
  if (index.renderBase !== base) {
    index.rendered.clear();
    index.renderBase = base;
  }
  let json = index.rendered.get(entity.value.id);
  if (json === undefined) {
    json = JSON.stringify(renderResource(entity, base));
    index.rendered.set(entity.value.id, json);
  }
  return json;
}

export function render(
  ctx: EndpointContext,
  entity: Entity,
  included?: ReadonlyMap<string, IncludedRelationship>,
) {
  return renderResource(entity, ctx.base, { fields: ctx.query.fields.get(entity.type), included });
}

function addIncluded(
  target: Map<string, Record<string, unknown>>,
  ctx: EndpointContext,
  entity: Entity,
): void {
  const key = `${entity.type}/${entity.value.id}`;
  if (!target.has(key)) target.set(key, render(ctx, entity));
}

/** Relationships asked for with `include` that the simulator holds no data for: empty. */
export function emptyInclude(ctx: EndpointContext, type: ResourceType, name: string): IncludedRelationship {
  // Apple's schemas declare to-one linkage as an object, never null: an empty one has no `data`.
  if (isToOne(type, name)) return {};
  return {
    data: [],
    paging: { total: 0, limit: ctx.query.includeLimits.get(name) ?? DEFAULT_INCLUDE_LIMIT },
  };
}

function includeMany<T extends { id: string }>(
  ctx: EndpointContext,
  name: string,
  items: readonly T[],
  toEntity: (item: T) => Entity,
  included: Map<string, Record<string, unknown>>,
): IncludedRelationship {
  const limit = ctx.query.includeLimits.get(name) ?? DEFAULT_INCLUDE_LIMIT;
  const shown = items.slice(0, limit);
  const data = shown.map((item) => {
    const entity = toEntity(item);
    addIncluded(included, ctx, entity);
    return linkage(entity);
  });
  return { data, paging: { total: items.length, limit } };
}

function addTarget(target: Map<string, Record<string, unknown>>, ctx: EndpointContext, item: Target): void {
  if ('entity' in item) {
    addIncluded(target, ctx, item.entity);
    return;
  }
  const key = `${item.detail.type}/${item.detail.id}`;
  if (!target.has(key)) {
    target.set(key, renderDetail(item.detail, ctx.base, { fields: ctx.query.fields.get(item.detail.type) }));
  }
}

/**
 * Included detail relationships: to-manys capped at `limit[name]` (default 50) with the full
 * count in `meta.paging.total`; to-ones with their linkage (no `data` when empty). Names that
 * are not among `relationships` are left out (the caller answers them).
 */
export function includeRelationships(
  ctx: EndpointContext,
  relationships: readonly DetailRelationship[],
  included: Map<string, Record<string, unknown>>,
): Map<string, IncludedRelationship> {
  const out = new Map<string, IncludedRelationship>();
  for (const name of ctx.query.include) {
    const relationship = relationships.find((candidate) => candidate.name === name);
    if (!relationship || relationship.kind === 'links') continue;
    if (relationship.kind === 'many') {
      const items = relationship.items();
      const limit = ctx.query.includeLimits.get(name) ?? DEFAULT_INCLUDE_LIMIT;
      const shown = items.slice(0, limit);
      for (const item of shown) addTarget(included, ctx, item);
      out.set(name, { data: shown.map(targetLinkage), paging: { total: items.length, limit } });
    } else {
      const item = relationship.target();
      if (item) {
        addTarget(included, ctx, item);
        out.set(name, { data: targetLinkage(item) });
      } else {
        out.set(name, {});
      }
    }
  }
  return out;
}

const appEntity = (value: SimApp): Entity => ({ type: 'apps', value });
const iapEntity = (value: SimIap): Entity => ({ type: 'inAppPurchases', value });
const groupEntity = (value: SimGroup): Entity => ({ type: 'subscriptionGroups', value });
const subscriptionEntity =
  (groupId: string) =>
  (value: SimSubscription): Entity => ({ type: 'subscriptions', value, groupId });

function appIncludes(
  ctx: EndpointContext,
  app: SimApp,
  included: Map<string, Record<string, unknown>>,
): Map<string, IncludedRelationship> {
  const relationships = new Map<string, IncludedRelationship>();
  for (const name of ctx.query.include) {
    if (name === 'inAppPurchasesV2') {
      const index = ctx.store.appIndex(app);
      relationships.set(name, includeMany(ctx, name, index.iaps, iapEntity, included));
    } else if (name === 'subscriptionGroups') {
      const index = ctx.store.appIndex(app);
      relationships.set(name, includeMany(ctx, name, index.groups, groupEntity, included));
    } else if (name === 'subscriptionGracePeriod') {
      if (app.grace) {
        const entity: Entity = { type: 'subscriptionGracePeriods', value: app.grace };
        addIncluded(included, ctx, entity);
        relationships.set(name, { data: linkage(entity) });
      } else {
        relationships.set(name, {});
      }
    } else {
      relationships.set(name, emptyInclude(ctx, 'apps', name));
    }
  }
  return relationships;
}

export function anyOf(values: readonly string[] | undefined): ((value: string) => boolean) | undefined {
  if (!values) return undefined;
  const set = new Set(values);
  return (value) => set.has(value);
}

export function combine<T>(
  tests: (((item: T) => boolean) | undefined)[],
): ((item: T) => boolean) | undefined {
  const active = tests.filter((test): test is (item: T) => boolean => test !== undefined);
  if (active.length === 0) return undefined;
  return (item) => active.every((test) => test(item));
}

export function filterOn<T>(ctx: EndpointContext, name: string, read: (item: T) => string) {
  const test = anyOf(ctx.query.filters.get(name));
  return test && ((item: T) => test(read(item)));
}

// ---------------------------------------------------------------------------------------------
// Endpoints

const listApps: Endpoint = (ctx) => {
  const index = ctx.store.index();
  const bundleIds = ctx.query.filters.get('filter[bundleId]');
  let candidates: readonly SimApp[];
  if (bundleIds) {
    // Indexed: a fleet of projects each resolving its bundle id stays cheap.
    candidates = bundleIds
      .flatMap((bundleId) => index.appsByBundleId.get(bundleId) ?? [])
      .sort((a, b) => compareIds(a.id, b.id));
  } else {
    candidates = index.appsSorted;
  }
  const predicate = combine<SimApp>([
    ctx.key.appIds === 'all' ? undefined : (app) => canSee(ctx.key, app.id),
    filterOn(ctx, 'filter[name]', (app) => app.name),
    filterOn(ctx, 'filter[sku]', (app) => app.sku),
    filterOn(ctx, 'filter[id]', (app) => app.id),
  ]);
  const page = paginate(ctx, candidates, predicate);
  if ('status' in page) return page;
  if (ctx.query.include.size === 0) {
    return collection(
      ctx,
      page,
      page.items.map((app) => JSON.stringify(render(ctx, appEntity(app)))),
      undefined,
    );
  }
  const included = new Map<string, Record<string, unknown>>();
  const data = page.items.map((app) =>
    JSON.stringify(render(ctx, appEntity(app), appIncludes(ctx, app, included))),
  );
  return collection(ctx, page, data, included);
};

const getApp: Endpoint = (ctx) => {
  const app = visibleApp(ctx, ctx.id!);
  if (!app) return notFound('apps', ctx.id!);
  if (ctx.query.include.size === 0) return single(ctx, render(ctx, appEntity(app)));
  const included = new Map<string, Record<string, unknown>>();
  const data = render(ctx, appEntity(app), appIncludes(ctx, app, included));
  return single(ctx, data, included);
};

const listInAppPurchases: Endpoint = (ctx) => {
  const app = visibleApp(ctx, ctx.id!);
  if (!app) return notFound('apps', ctx.id!);
  const index = ctx.store.appIndex(app);
  const predicate = combine<SimIap>([
    filterOn(ctx, 'filter[productId]', (iap) => iap.productId),
    filterOn(ctx, 'filter[name]', (iap) => iap.name),
    filterOn(ctx, 'filter[state]', (iap) => iap.state),
    filterOn(ctx, 'filter[inAppPurchaseType]', (iap) => iap.inAppPurchaseType),
  ]);
  const page = paginate(ctx, index.iaps, predicate, {
    name: (iap) => iap.name,
    inAppPurchaseType: (iap) => iap.inAppPurchaseType,
  });
  if ('status' in page) return page;
  const fast = ctx.query.include.size === 0 && !ctx.query.fields.has('inAppPurchases');
  if (fast) {
    return collection(
      ctx,
      page,
      page.items.map((iap) => cachedJson(index, ctx.base, iapEntity(iap))),
      undefined,
    );
  }
  const included = new Map<string, Record<string, unknown>>();
  const data = page.items.map((iap) =>
    JSON.stringify(render(ctx, iapEntity(iap), iapIncludes(ctx, { app, iap }, included))),
  );
  return collection(ctx, page, data, ctx.query.include.size > 0 ? included : undefined);
};

function iapIncludes(
  ctx: EndpointContext,
  ref: { app: SimApp; iap: SimIap },
  included: Map<string, Record<string, unknown>>,
): Map<string, IncludedRelationship> {
  if (ctx.query.include.size === 0) return new Map();
  const relationships = includeRelationships(ctx, iapDetailRelationships(ref, ctx.today), included);
  for (const name of ctx.query.include) {
    if (!relationships.has(name)) relationships.set(name, emptyInclude(ctx, 'inAppPurchases', name));
  }
  return relationships;
}

function subscriptionIncludes(
  ctx: EndpointContext,
  ref: { app: SimApp; group: SimGroup; subscription: SimSubscription },
  included: Map<string, Record<string, unknown>>,
): Map<string, IncludedRelationship> {
  if (ctx.query.include.size === 0) return new Map();
  const relationships = includeRelationships(ctx, subscriptionDetailRelationships(ref, ctx.today), included);
  for (const name of ctx.query.include) {
    if (name === 'group') {
      const entity = groupEntity(ref.group);
      relationships.set(name, { data: linkage(entity) });
      addIncluded(included, ctx, entity);
    } else if (!relationships.has(name)) {
      relationships.set(name, emptyInclude(ctx, 'subscriptions', name));
    }
  }
  return relationships;
}

const getInAppPurchase: Endpoint = (ctx) => {
  const ref = ctx.store.index().productsById.get(ctx.id!);
  if (!ref?.iap || !canSee(ctx.key, ref.app.id)) return notFound('inAppPurchases', ctx.id!);
  const included = new Map<string, Record<string, unknown>>();
  const data = render(ctx, iapEntity(ref.iap), iapIncludes(ctx, { app: ref.app, iap: ref.iap }, included));
  return single(ctx, data, ctx.query.include.size > 0 ? included : undefined);
};

const getSubscription: Endpoint = (ctx) => {
  const ref = ctx.store.index().productsById.get(ctx.id!);
  if (!ref?.subscription || !ref.group || !canSee(ctx.key, ref.app.id))
    return notFound('subscriptions', ctx.id!);
  const full = { app: ref.app, group: ref.group, subscription: ref.subscription };
  const included = new Map<string, Record<string, unknown>>();
  const data = render(
    ctx,
    subscriptionEntity(ref.group.id)(ref.subscription),
    subscriptionIncludes(ctx, full, included),
  );
  return single(ctx, data, ctx.query.include.size > 0 ? included : undefined);
};

const listSubscriptionGroups: Endpoint = (ctx) => {
  const app = visibleApp(ctx, ctx.id!);
  if (!app) return notFound('apps', ctx.id!);
  const index = ctx.store.appIndex(app);
  const states = anyOf(ctx.query.filters.get('filter[subscriptions.state]'));
  const predicate = combine<SimGroup>([
    filterOn(ctx, 'filter[referenceName]', (group) => group.referenceName),
    states && ((group) => group.subscriptions.some((subscription) => states(subscription.state))),
  ]);
  const page = paginate(ctx, index.groups, predicate);
  if ('status' in page) return page;
  const fast = ctx.query.include.size === 0 && !ctx.query.fields.has('subscriptionGroups');
  if (fast) {
    return collection(
      ctx,
      page,
      page.items.map((group) => cachedJson(index, ctx.base, groupEntity(group))),
      undefined,
    );
  }
  const included = new Map<string, Record<string, unknown>>();
  const data = page.items.map((group) =>
    JSON.stringify(render(ctx, groupEntity(group), groupIncludes(ctx, index, group, included))),
  );
  return collection(ctx, page, data, ctx.query.include.size > 0 ? included : undefined);
};

function groupIncludes(
  ctx: EndpointContext,
  index: AppIndex,
  group: SimGroup,
  included: Map<string, Record<string, unknown>>,
): Map<string, IncludedRelationship> {
  const relationships = includeRelationships(ctx, groupDetailRelationships(group), included);
  for (const name of ctx.query.include) {
    if (name === 'subscriptions') {
      const subscriptions = index.subscriptionsByGroup.get(group.id) ?? [];
      relationships.set(name, includeMany(ctx, name, subscriptions, subscriptionEntity(group.id), included));
    } else if (!relationships.has(name)) {
      relationships.set(name, emptyInclude(ctx, 'subscriptionGroups', name));
    }
  }
  return relationships;
}

const getSubscriptionGroup: Endpoint = (ctx) => {
  const owner = ctx.store.index().groupsById.get(ctx.id!);
  if (!owner || !canSee(ctx.key, owner.app.id)) return notFound('subscriptionGroups', ctx.id!);
  const index = ctx.store.appIndex(owner.app);
  const included = new Map<string, Record<string, unknown>>();
  const data = render(ctx, groupEntity(owner.group), groupIncludes(ctx, index, owner.group, included));
  return single(ctx, data, ctx.query.include.size > 0 ? included : undefined);
};

const listSubscriptions: Endpoint = (ctx) => {
  const owner = ctx.store.index().groupsById.get(ctx.id!);
  if (!owner || !canSee(ctx.key, owner.app.id)) return notFound('subscriptionGroups', ctx.id!);
  const index = ctx.store.appIndex(owner.app);
  const subscriptions = index.subscriptionsByGroup.get(owner.group.id) ?? [];
  const predicate = combine<SimSubscription>([
    filterOn(ctx, 'filter[productId]', (subscription) => subscription.productId),
    filterOn(ctx, 'filter[name]', (subscription) => subscription.name),
    filterOn(ctx, 'filter[state]', (subscription) => subscription.state),
  ]);
  const page = paginate(ctx, subscriptions, predicate, { name: (subscription) => subscription.name });
  if ('status' in page) return page;
  const toEntity = subscriptionEntity(owner.group.id);
  const fast = ctx.query.include.size === 0 && !ctx.query.fields.has('subscriptions');
  if (fast) {
    return collection(
      ctx,
      page,
      page.items.map((item) => cachedJson(index, ctx.base, toEntity(item))),
      undefined,
    );
  }
  const included = new Map<string, Record<string, unknown>>();
  const data = page.items.map((item) =>
    JSON.stringify(
      render(
        ctx,
        toEntity(item),
        subscriptionIncludes(ctx, { app: owner.app, group: owner.group, subscription: item }, included),
      ),
    ),
  );
  return collection(ctx, page, data, ctx.query.include.size > 0 ? included : undefined);
};

const getAppGracePeriod: Endpoint = (ctx) => {
  const app = visibleApp(ctx, ctx.id!);
  if (!app) return notFound('apps', ctx.id!);
  if (!app.grace) return notFound('subscriptionGracePeriods', ctx.id!);
  return single(ctx, render(ctx, { type: 'subscriptionGracePeriods', value: app.grace }));
};

const getGracePeriod: Endpoint = (ctx) => {
  const app = ctx.store.index().gracesById.get(ctx.id!);
  if (!app?.grace || !canSee(ctx.key, app.id)) return notFound('subscriptionGracePeriods', ctx.id!);
  return single(ctx, render(ctx, { type: 'subscriptionGracePeriods', value: app.grace }));
};

export interface Route {
  /** Apple's path template, e.g. `/v1/apps/{id}/inAppPurchasesV2`. */
  template: string;
  segments: string[];
  endpoint: Endpoint;
  /** Needs a role that can read the IAP catalog (Admin, Account Holder, App Manager, Developer). */
  catalog: boolean;
  /**
   * What `{id}` names, for the per-product accounting: a product (or its schedule or
   * availability, which share its id) or an offer.
   */
  product?: 'id' | 'offer';
}

export const route = (
  template: string,
  endpoint: Endpoint,
  catalog: boolean,
  product?: 'id' | 'offer',
): Route => ({
  template,
  segments: template.split('/').slice(1),
  endpoint,
  catalog,
  ...(product ? { product } : {}),
});

export const ROUTES: Route[] = [
  route('/v1/apps', listApps, false),
  route('/v1/apps/{id}', getApp, false),
  route('/v1/apps/{id}/inAppPurchasesV2', listInAppPurchases, true),
  route('/v1/apps/{id}/subscriptionGroups', listSubscriptionGroups, true),
  route('/v1/subscriptionGroups/{id}/subscriptions', listSubscriptions, true),
  route('/v1/subscriptionGroups/{id}', getSubscriptionGroup, true),
  route('/v1/apps/{id}/subscriptionGracePeriod', getAppGracePeriod, true),
  route('/v1/subscriptionGracePeriods/{id}', getGracePeriod, true),
  route('/v1/subscriptions/{id}', getSubscription, true, 'id'),
  route('/v2/inAppPurchases/{id}', getInAppPurchase, true, 'id'),
];

/** Includes on /v1/apps and /v1/apps/{id} that reveal the catalog, so need a catalog role. */
export const CATALOG_INCLUDES: ReadonlySet<string> = new Set([
  'inAppPurchasesV2',
  'inAppPurchases',
  'subscriptionGroups',
  'subscriptionGracePeriod',
  'promotedPurchases',
]);

export function matchIn(
  routes: readonly Route[],
  pathname: string,
): { route: Route; id: string | undefined } | undefined {
  const segments = pathname.split('/').slice(1);
  for (const candidate of routes) {
    if (candidate.segments.length !== segments.length) continue;
    let id: string | undefined;
    let ok = true;
    for (let i = 0; i < segments.length; i++) {
      const expected = candidate.segments[i]!;
      const actual = segments[i]!;
      if (expected === '{id}') {
        if (actual === '') {
          ok = false;
          break;
        }
        try {
          id = decodeURIComponent(actual);
        } catch {
          ok = false;
          break;
        }
      } else if (expected !== actual) {
        ok = false;
        break;
      }
    }
    if (ok) return { route: candidate, id };
  }
  return undefined;
}
