import { z } from 'zod';
import {
  type AppStoreClient,
  AppStoreError,
  type GracePeriodResource,
  gracePeriodDocumentSchema,
  type InAppPurchase,
  inAppPurchaseSchema,
  isRelationshipTruncated,
  parseIncluded,
  type Query,
  relationshipSchema,
  resourceIdentifierSchema,
  type Subscription,
  type SubscriptionGroup,
  subscriptionGroupSchema,
  subscriptionSchema,
  type ToManyRelationship,
  toManyRelationshipSchema,
} from '../appstore/index.ts';
import {
  type FetchedResources,
  type Normalised,
  type NormaliseOptions,
  normaliseCatalog,
} from './normalise.ts';
import { type CatalogShape, INCLUDED_LIMIT, PAGE_LIMIT } from './plan.ts';

export { type CatalogShape, criticalPath, requestLowerBound } from './plan.ts';

/*
 * The fetch plan (see requestLowerBound in plan.ts for why it is the fewest requests):
 *  (a) GET /v1/apps/{id} including inAppPurchasesV2 (≤ 50), subscriptionGroups (≤ 50, with
 *      their referenceName) and subscriptionGracePeriod, with sparse fieldsets: grace settings,
 *      up to 50 IAPs, and the totals of IAPs and groups (relationships.*.meta.paging.total) in
 *      one request;
 *  (b) then side by side: the IAP collection (only when the include was capped), and the
 *      subscriptions:
 *      - exactly one group, included with its attributes: that group's subscriptions
 *        collection directly (its id and referenceName are already known);
 *      - otherwise the groups collection with subscriptions included; then, in parallel
 *        across groups, each capped group's own subscriptions collection.
 * It returns a complete catalog or throws: every page is read or the whole fetch fails.
 */

/** Only the attributes the catalog model reads: smaller pages, and raw holds what is modelled. */
export const IAP_FIELDS = 'name,productId,inAppPurchaseType,state,familySharable,contentHosting';
export const SUBSCRIPTION_FIELDS = 'name,productId,familySharable,state,subscriptionPeriod,groupLevel';
export const GRACE_FIELDS = 'optIn,sandboxOptIn,duration,renewalType';

/** Call sites in the client's statistics (sync_runs.request_counts). */
export const CALL_SITES = {
  app: 'sync.app',
  inAppPurchases: 'sync.inAppPurchases',
  subscriptionGroups: 'sync.subscriptionGroups',
  groupSubscriptions: 'sync.groupSubscriptions',
  gracePeriod: 'sync.gracePeriod',
} as const;

const NO_INCLUDED_IAPS: ReadonlySet<string> = new Set(['inAppPurchases']);

/**
 * The app with only relationships (sparse fields[apps]), so no attribute is required. Its
 * included resources are validated once the relationships are known, and only those the fetch
 * will use: an app with more IAPs than the include holds has its whole IAP collection read, so
 * the 50 included ones are left out unread (they were a third of the resources zod validated in
 * an unchanged 100-product re-sync, and of the objects it copied).
 */
const appRelationshipsDocumentSchema = z
  .looseObject({
    data: z.looseObject({
      type: z.literal('apps'),
      id: z.string().min(1),
      relationships: z
        .looseObject({
          inAppPurchasesV2: toManyRelationshipSchema.optional(),
          subscriptionGroups: toManyRelationshipSchema.optional(),
          subscriptionGracePeriod: relationshipSchema.optional(),
        })
        .optional(),
    }),
    included: z.array(z.unknown()).optional(),
  })
  .transform((document, ctx) => {
    if (document.included === undefined) return document;
    const iapsUnused = isRelationshipTruncated(document.data.relationships?.inAppPurchasesV2);
    const included = parseIncluded(document.included, ctx, {
      path: ['included'],
      ...(iapsUnused ? { unused: NO_INCLUDED_IAPS } : {}),
    });
    return { ...document, included };
  });

/** The normalised catalog (with its digest and warnings) and the shape the fetch saw. */
export interface FetchedCatalog extends Normalised {
  shape: CatalogShape;
}

type CatalogClient = Pick<AppStoreClient, 'getDocument' | 'paginate'>;

function inconsistency(request: string, problem: string): AppStoreError {
  return new AppStoreError(
    'schema',
    `App Store Connect returned an inconsistent response to ${request}: ${problem}. ` +
      'The catalog was not applied; if this persists, Apple may have changed the API (report this message).',
    { request },
  );
}

/**
 * Index of the included resources of one type by id. Not parsed again: the document's schema
 * (parseIncluded) has validated each included resource of a modelled type with that type's
 * schema, or failed the request, so a resource of `type` here already has the shape `T`.
 * Re-parsing every included resource with each schema (most of them failing, as other types)
 * cost 0.3 ms of a 6.6 ms unchanged re-sync (test/bench/sync-cpu.ts profile).
 */
function includedById<T extends { type: string; id: string }>(
  included: readonly unknown[],
  type: T['type'],
): Map<string, T> {
  const byId = new Map<string, T>();
  for (const resource of included) {
    if ((resource as { type?: unknown }).type === type) byId.set((resource as T).id, resource as T);
  }
  return byId;
}

/** Linkages of an included relationship, each resolved to its included resource, or a schema error. */
function resolveLinkages<T>(
  relationship: ToManyRelationship | undefined,
  byId: Map<string, T>,
  request: string,
  what: string,
): T[] {
  return (relationship?.data ?? []).map((link) => {
    const resource = byId.get(link.id);
    if (resource === undefined) {
      throw inconsistency(request, `${what} ${link.id} is linked but not among the included resources`);
    }
    return resource;
  });
}

/** A to-many relationship's size: its total, else what was linked (a missing relationship counts as non-empty). */
function relationshipSize(relationship: ToManyRelationship | undefined): number {
  return relationship?.meta?.paging.total ?? relationship?.data?.length ?? 1;
}

export interface FetchOptions extends NormaliseOptions {
  /**
   * In-app purchases in the catalog the project last applied (null or absent: unknown, as before
   * its first sync). More than the app request can include, and the app request leaves the IAPs
   * out: the collection would be read anyway, and the 50 included ones were parsed for nothing
   * (a 100-product re-sync's worker CPU fell by about a tenth). The collection is still read after
   * the app request, as before: a fetch's reads stay in the order the supersession rule assumes
   * (src/sync/store.ts). A count that has since fallen to 50 or fewer costs one request more than
   * the lower bound, once: that sync stores the new count.
   */
  storedIaps?: number | null | undefined;
}

/** The app request's query: its grace settings and first groups, and its first IAPs unless `withIaps` is false. */
function appQuery(withIaps: boolean): Query {
  const include = withIaps
    ? 'inAppPurchasesV2,subscriptionGroups,subscriptionGracePeriod'
    : 'subscriptionGroups,subscriptionGracePeriod';
  return {
    include,
    ...(withIaps ? { 'limit[inAppPurchasesV2]': INCLUDED_LIMIT, 'fields[inAppPurchases]': IAP_FIELDS } : {}),
    'limit[subscriptionGroups]': INCLUDED_LIMIT,
    'fields[apps]': include,
    'fields[subscriptionGroups]': 'referenceName',
    'fields[subscriptionGracePeriods]': GRACE_FIELDS,
  };
}

/** Every IAP of the app, from its collection (⌈n/200⌉ pages). */
async function fetchIapCollection(client: CatalogClient, appPath: string): Promise<InAppPurchase[]> {
  const { data } = await client.paginate(
    `${appPath}/inAppPurchasesV2`,
    { limit: PAGE_LIMIT, 'fields[inAppPurchases]': IAP_FIELDS },
    inAppPurchaseSchema,
    CALL_SITES.inAppPurchases,
  );
  return data;
}

export async function fetchCatalog(
  client: CatalogClient,
  appId: string,
  options: FetchOptions = {},
): Promise<FetchedCatalog> {
  const appPath = `/v1/apps/${encodeURIComponent(appId)}`;
  const appRequest = `GET ${appPath}`;
  const withIaps = (options.storedIaps ?? 0) <= INCLUDED_LIMIT;
  const app = await client.getDocument(
    appPath,
    appQuery(withIaps),
    appRelationshipsDocumentSchema,
    CALL_SITES.app,
  );
  const relationships = app.data.relationships ?? {};
  const included = app.included ?? [];

  const iapsPromise = ((): Promise<InAppPurchase[]> => {
    const relationship = relationships.inAppPurchasesV2;
    if (withIaps && !isRelationshipTruncated(relationship)) {
      return Promise.resolve(
        resolveLinkages(
          relationship,
          includedById<InAppPurchase>(included, 'inAppPurchases'),
          appRequest,
          'in-app purchase',
        ),
      );
    }
    // More than the include holds (or left out): the included 50 cannot be continued, read the collection.
    return fetchIapCollection(client, appPath);
  })();

  const groupsPromise = ((): Promise<FetchedGroup[]> => {
    const relationship = relationships.subscriptionGroups;
    if (relationshipSize(relationship) === 0) return Promise.resolve([]);
    const sole = soleIncludedGroup(relationship, included);
    return sole ? fetchSoleGroup(client, sole) : fetchGroups(client, appPath);
  })();

  // Apple handles `include` as a whole: when the to-many relationships came back with linkage,
  // the grace relationship was included too, and no linkage there means the app has none.
  const includeHonoured =
    relationships.inAppPurchasesV2?.data !== undefined ||
    relationships.subscriptionGroups?.data !== undefined;
  const gracePromise = resolveGrace(
    client,
    appPath,
    relationships.subscriptionGracePeriod,
    included,
    includeHonoured,
  );

  const [iaps, groups, grace] = await Promise.all([iapsPromise, groupsPromise, gracePromise]);
  const resources: FetchedResources = { iaps, groups, grace };
  return {
    ...normaliseCatalog(resources, options),
    shape: {
      iaps: iaps.length,
      groups: groups.length,
      subscriptionsPerGroup: groups.map((group) => group.subscriptions.length),
    },
  };
}

interface FetchedGroup {
  group: SubscriptionGroup;
  subscriptions: Subscription[];
}

/**
 * The app's only group, when the app request says there is exactly one and included it with
 * its attributes (fields[subscriptionGroups]=referenceName): then the groups listing would
 * tell nothing new. Undefined (read the listing) for any other count, or when the group is
 * not among the included resources or lacks its attributes (a server that ignored `include`
 * or `fields`).
 */
function soleIncludedGroup(
  relationship: ToManyRelationship | undefined,
  included: readonly unknown[],
): SubscriptionGroup | undefined {
  if (relationship?.meta?.paging.total !== 1) return undefined;
  const [link, ...more] = relationship.data ?? [];
  if (link === undefined || more.length > 0) return undefined;
  // Parsed again (one resource): a group without its attributes means the listing must be read.
  const parsed = subscriptionGroupSchema.safeParse(
    includedById<SubscriptionGroup>(included, 'subscriptionGroups').get(link.id),
  );
  return parsed.success ? parsed.data : undefined;
}

/** Every subscription of one group, from the group's own collection (⌈s/200⌉ pages, at least 1). */
async function fetchGroupSubscriptions(client: CatalogClient, groupId: string): Promise<Subscription[]> {
  const { data } = await client.paginate(
    `/v1/subscriptionGroups/${encodeURIComponent(groupId)}/subscriptions`,
    { limit: PAGE_LIMIT, 'fields[subscriptions]': SUBSCRIPTION_FIELDS },
    subscriptionSchema,
    CALL_SITES.groupSubscriptions,
  );
  return data;
}

/*
 * The group resource (id, referenceName, raw attributes) comes from the app request, so
 * normalisation sees the same group as from the listing; each subscription is paired with it
 * here, so it needs no group linkage of its own (the sparse fieldset asks for none).
 */
async function fetchSoleGroup(client: CatalogClient, group: SubscriptionGroup): Promise<FetchedGroup[]> {
  return [{ group, subscriptions: await fetchGroupSubscriptions(client, group.id) }];
}

async function fetchGroups(client: CatalogClient, appPath: string): Promise<FetchedGroup[]> {
  const groupsPath = `${appPath}/subscriptionGroups`;
  const { data: groups, included } = await client.paginate(
    groupsPath,
    {
      limit: PAGE_LIMIT,
      include: 'subscriptions',
      'limit[subscriptions]': INCLUDED_LIMIT,
      'fields[subscriptionGroups]': 'referenceName,subscriptions',
      'fields[subscriptions]': SUBSCRIPTION_FIELDS,
    },
    subscriptionGroupSchema,
    CALL_SITES.subscriptionGroups,
  );
  const subscriptions = includedById<Subscription>(included, 'subscriptions');
  return Promise.all(
    groups.map(async (group) => {
      const relationship = group.relationships?.subscriptions;
      if (!isRelationshipTruncated(relationship)) {
        return {
          group,
          subscriptions: resolveLinkages(relationship, subscriptions, `GET ${groupsPath}`, 'subscription'),
        };
      }
      // A capped include has no offset to continue from: read the group's whole collection.
      return { group, subscriptions: await fetchGroupSubscriptions(client, group.id) };
    }),
  );
}

/**
 * The grace settings from the app request's include. The app has none when the included
 * to-one relationship has no linkage: `data: null` (JSON:API) or no `data` at all (Apple's
 * schema declares to-one linkage as a non-null object, so an empty one is simply absent).
 * Only if the server ignored the include altogether is the relationship read directly, where
 * a 404 also means "no grace settings" (one more request than the lower bound).
 */
async function resolveGrace(
  client: CatalogClient,
  appPath: string,
  relationship: z.infer<typeof relationshipSchema> | undefined,
  included: readonly unknown[],
  includeHonoured: boolean,
): Promise<GracePeriodResource | null> {
  const linkage = relationship?.data;
  if (linkage === null || (linkage === undefined && includeHonoured)) return null;
  if (linkage !== undefined) {
    const parsedLinkage = resourceIdentifierSchema.safeParse(linkage);
    if (!parsedLinkage.success || Array.isArray(linkage)) {
      throw inconsistency(`GET ${appPath}`, 'subscriptionGracePeriod is not a to-one relationship');
    }
    const resource = includedById<GracePeriodResource>(included, 'subscriptionGracePeriods').get(
      parsedLinkage.data.id,
    );
    if (!resource) {
      throw inconsistency(
        `GET ${appPath}`,
        `grace period ${parsedLinkage.data.id} is linked but not among the included resources`,
      );
    }
    return resource;
  }
  try {
    const document = await client.getDocument(
      `${appPath}/subscriptionGracePeriod`,
      { 'fields[subscriptionGracePeriods]': GRACE_FIELDS },
      gracePeriodDocumentSchema,
      CALL_SITES.gracePeriod,
    );
    return document.data;
  } catch (error) {
    if (error instanceof AppStoreError && error.kind === 'not_found') return null;
    throw error;
  }
}
