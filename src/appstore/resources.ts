import { z } from 'zod';

/*
 * Apple's JSON:API resources as zod schemas. Objects are loose (attributes Apple adds later
 * are kept), enums are open strings (unknown values kept raw and reported, see `openEnum`),
 * and only what the worker cannot do without is required: a body that lacks it is a
 * `schema` error naming the path, not a crash further on.
 */

// ---------------------------------------------------------------------------------------
// Open enums

export interface UnknownEnumValue {
  field: string;
  value: string;
}

// `safeParse` is synchronous, so the collector installed around one parse cannot see values
// from another: this is how schemas report unknown values without a logger of their own.
let collector: UnknownEnumValue[] | undefined;

/** Runs `fn` (a synchronous parse) and returns the unknown enum values its open enums saw. */
export function collectUnknownEnumValues<T>(fn: () => T): { result: T; unknown: UnknownEnumValue[] } {
  const previous = collector;
  const seen: UnknownEnumValue[] = [];
  collector = seen;
  try {
    return { result: fn(), unknown: seen };
  } finally {
    collector = previous;
  }
}

/**
 * A string that Apple documents as an enum. Values outside `known` are accepted and kept as
 * received; they are reported (field, value) to the active collector so the client can warn once.
 */
export function openEnum(field: string, known: readonly string[]) {
  const knownSet = new Set(known);
  return z.string().check((ctx) => {
    if (!knownSet.has(ctx.value)) collector?.push({ field, value: ctx.value });
  });
}

export const knownValues = {
  inAppPurchaseType: ['CONSUMABLE', 'NON_CONSUMABLE', 'NON_RENEWING_SUBSCRIPTION'],
  inAppPurchaseState: [
    'MISSING_METADATA',
    'WAITING_FOR_UPLOAD',
    'PROCESSING_CONTENT',
    'READY_TO_SUBMIT',
    'WAITING_FOR_REVIEW',
    'IN_REVIEW',
    'DEVELOPER_ACTION_NEEDED',
    'PENDING_BINARY_APPROVAL',
    'APPROVED',
    'DEVELOPER_REMOVED_FROM_SALE',
    'REMOVED_FROM_SALE',
    'REJECTED',
  ],
  subscriptionState: [
    'MISSING_METADATA',
    'READY_TO_SUBMIT',
    'WAITING_FOR_REVIEW',
    'IN_REVIEW',
    'DEVELOPER_ACTION_NEEDED',
    'PENDING_BINARY_APPROVAL',
    'APPROVED',
    'DEVELOPER_REMOVED_FROM_SALE',
    'REMOVED_FROM_SALE',
    'REJECTED',
  ],
  subscriptionPeriod: ['ONE_WEEK', 'ONE_MONTH', 'TWO_MONTHS', 'THREE_MONTHS', 'SIX_MONTHS', 'ONE_YEAR'],
  multiSeatStatus: ['ENABLED', 'DISABLED'],
  marketSettings: ['APPLE_SCHOOL', 'APP_STORE', 'APPLE_BUSINESS'],
  gracePeriodDuration: ['THREE_DAYS', 'SIXTEEN_DAYS', 'TWENTY_EIGHT_DAYS'],
  gracePeriodRenewalType: ['ALL_RENEWALS', 'PAID_TO_PAID_ONLY'],
  subscriptionStatusUrlVersion: ['V1', 'V2'],
  contentRightsDeclaration: ['DOES_NOT_USE_THIRD_PARTY_CONTENT', 'USES_THIRD_PARTY_CONTENT'],
} as const;

// ---------------------------------------------------------------------------------------
// JSON:API building blocks

export const resourceIdentifierSchema = z.looseObject({ type: z.string(), id: z.string() });

export const pagingSchema = z.looseObject({
  total: z.number().int().nonnegative().optional(),
  // Required by the spec; optional here because nothing depends on it.
  limit: z.number().int().optional(),
  nextCursor: z.string().optional(),
});

export const pagingInformationSchema = z.looseObject({ paging: pagingSchema });

export const relationshipLinksSchema = z.looseObject({
  self: z.string().optional(),
  related: z.string().optional(),
});

/** Any relationship: linkage `data` appears only for included relationships. */
export const relationshipSchema = z.looseObject({
  links: relationshipLinksSchema.optional(),
  meta: pagingInformationSchema.optional(),
  data: z.union([z.array(resourceIdentifierSchema), resourceIdentifierSchema, z.null()]).optional(),
});

export const toManyRelationshipSchema = z.looseObject({
  links: relationshipLinksSchema.optional(),
  meta: pagingInformationSchema.optional(),
  data: z.array(resourceIdentifierSchema).optional(),
});
export type ToManyRelationship = z.infer<typeof toManyRelationshipSchema>;

const relationshipsSchema = z.record(z.string(), relationshipSchema);

export const resourceLinksSchema = z.looseObject({ self: z.string().optional() });

/** Any resource (used for `included` entries of types the worker does not model). */
export const genericResourceSchema = z.looseObject({
  type: z.string(),
  id: z.string(),
  attributes: z.record(z.string(), z.unknown()).optional(),
  relationships: relationshipsSchema.optional(),
  links: resourceLinksSchema.optional(),
});
export type GenericResource = z.infer<typeof genericResourceSchema>;

const text = () => z.string().nullish();
const flag = () => z.boolean().nullish();

// ---------------------------------------------------------------------------------------
// Resources

export const appSchema = z.looseObject({
  type: z.literal('apps'),
  id: z.string().min(1),
  attributes: z.looseObject({
    bundleId: z.string(),
    name: text(),
    sku: text(),
    primaryLocale: text(),
    subscriptionStatusUrlVersion: openEnum(
      'apps.subscriptionStatusUrlVersion',
      knownValues.subscriptionStatusUrlVersion,
    ).nullish(),
    subscriptionStatusUrlVersionForSandbox: openEnum(
      'apps.subscriptionStatusUrlVersionForSandbox',
      knownValues.subscriptionStatusUrlVersion,
    ).nullish(),
    contentRightsDeclaration: openEnum(
      'apps.contentRightsDeclaration',
      knownValues.contentRightsDeclaration,
    ).nullish(),
  }),
  relationships: relationshipsSchema.optional(),
  links: resourceLinksSchema.optional(),
});
export type App = z.infer<typeof appSchema>;

/** IAP v2: the JSON:API type is `inAppPurchases`, not `inAppPurchasesV2`. */
export const inAppPurchaseSchema = z.looseObject({
  type: z.literal('inAppPurchases'),
  id: z.string().min(1),
  attributes: z.looseObject({
    productId: z.string(),
    inAppPurchaseType: openEnum('inAppPurchases.inAppPurchaseType', knownValues.inAppPurchaseType),
    name: text(),
    state: openEnum('inAppPurchases.state', knownValues.inAppPurchaseState).nullish(),
    reviewNote: text(),
    familySharable: flag(),
    contentHosting: flag(),
  }),
  relationships: relationshipsSchema.optional(),
  links: resourceLinksSchema.optional(),
});
export type InAppPurchase = z.infer<typeof inAppPurchaseSchema>;

export const subscriptionSchema = z.looseObject({
  type: z.literal('subscriptions'),
  id: z.string().min(1),
  attributes: z.looseObject({
    productId: z.string(),
    name: text(),
    familySharable: flag(),
    state: openEnum('subscriptions.state', knownValues.subscriptionState).nullish(),
    subscriptionPeriod: openEnum(
      'subscriptions.subscriptionPeriod',
      knownValues.subscriptionPeriod,
    ).nullish(),
    reviewNote: text(),
    groupLevel: z.number().int().nullish(),
    multiSeatStatus: openEnum('subscriptions.multiSeatStatus', knownValues.multiSeatStatus).nullish(),
    marketSettings: z.array(openEnum('subscriptions.marketSettings', knownValues.marketSettings)).nullish(),
  }),
  relationships: z
    .looseObject({
      group: z.looseObject({ data: resourceIdentifierSchema.nullish() }).optional(),
    })
    .optional(),
  links: resourceLinksSchema.optional(),
});
export type Subscription = z.infer<typeof subscriptionSchema>;

export const subscriptionGroupSchema = z.looseObject({
  type: z.literal('subscriptionGroups'),
  id: z.string().min(1),
  attributes: z.looseObject({ referenceName: z.string() }),
  relationships: z.looseObject({ subscriptions: toManyRelationshipSchema.optional() }).optional(),
  links: resourceLinksSchema.optional(),
});
export type SubscriptionGroup = z.infer<typeof subscriptionGroupSchema>;

/** Apple's `subscriptionGracePeriods` resource (per app; covers all its auto-renewables). */
export const gracePeriodSchema = z.looseObject({
  type: z.literal('subscriptionGracePeriods'),
  id: z.string().min(1),
  attributes: z.looseObject({
    optIn: z.boolean(),
    sandboxOptIn: z.boolean(),
    duration: openEnum('subscriptionGracePeriods.duration', knownValues.gracePeriodDuration),
    renewalType: openEnum('subscriptionGracePeriods.renewalType', knownValues.gracePeriodRenewalType),
  }),
  links: resourceLinksSchema.optional(),
});
export type GracePeriodResource = z.infer<typeof gracePeriodSchema>;

/** Schemas for `included` entries by resource type; other types pass as generic resources. */
export const includedSchemas: Record<string, z.ZodType> = {
  apps: appSchema,
  inAppPurchases: inAppPurchaseSchema,
  subscriptions: subscriptionSchema,
  subscriptionGroups: subscriptionGroupSchema,
  subscriptionGracePeriods: gracePeriodSchema,
};

// ---------------------------------------------------------------------------------------
// Documents

/** A resource's `type` when it has a string one, read before choosing the schema that validates it. */
function resourceTypeOf(item: unknown): string | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined;
  const type = (item as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * Entries of an `included` array, each validated once, by the schema for its `type` (issues keep
 * their index, under `path`); entries of other types, or with no usable `type`, by the generic
 * resource schema and kept as generic resources. Once, not generic-then-typed: the typed schemas
 * check everything the generic one did for those members, and the double parse was a fifth of the
 * zod time of an unchanged 100-product re-sync (test/bench/sync-cpu.ts). A resource of a modelled
 * type in a parsed document has therefore passed that type's schema (src/sync/fetch.ts relies on
 * it). Entries of a type in `unused` are left out, not validated: the caller will not read them.
 */
export function parseIncluded(
  items: readonly unknown[],
  ctx: z.RefinementCtx,
  options: { byType?: Record<string, z.ZodType>; path?: PropertyKey[]; unused?: ReadonlySet<string> } = {},
): unknown[] {
  const { byType = includedSchemas, path = [], unused } = options;
  const out: unknown[] = [];
  items.forEach((item, index) => {
    const type = resourceTypeOf(item);
    if (type !== undefined && unused?.has(type)) return;
    // Own keys only: a `type` such as "constructor" must not pick up Object.prototype's.
    const schema =
      (type !== undefined && Object.hasOwn(byType, type) ? byType[type] : undefined) ?? genericResourceSchema;
    const parsed = schema.safeParse(item);
    if (parsed.success) {
      out.push(parsed.data);
      return;
    }
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ ...issue, path: [...path, index, ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
    }
    out.push(item);
  });
  return out;
}

/** `included`, every entry validated (parseIncluded). */
export function includedArraySchema(byType: Record<string, z.ZodType> = includedSchemas) {
  return z.array(z.unknown()).transform((items, ctx) => parseIncluded(items, ctx, { byType }));
}

export const pagedDocumentLinksSchema = z.looseObject({
  self: z.string().optional(),
  first: z.string().optional(),
  next: z.string().nullish(),
});

export const documentLinksSchema = z.looseObject({ self: z.string().optional() });

/** A collection document: `data[]`, optional `included[]`, `links.next` for the next page. */
export function pagedDocumentSchema<T extends z.ZodType>(itemSchema: T) {
  return z.looseObject({
    data: z.array(itemSchema),
    included: includedArraySchema().optional(),
    links: pagedDocumentLinksSchema,
    meta: pagingInformationSchema.optional(),
  });
}
export type PagedDocument<T> = {
  data: T[];
  included?: unknown[] | undefined;
  links: z.infer<typeof pagedDocumentLinksSchema>;
  meta?: z.infer<typeof pagingInformationSchema> | undefined;
};

/** A single-resource document: `data`, optional `included[]`. */
export function singleDocumentSchema<T extends z.ZodType>(itemSchema: T) {
  return z.looseObject({
    data: itemSchema,
    included: includedArraySchema().optional(),
    links: documentLinksSchema.optional(),
  });
}

export const appsDocumentSchema = pagedDocumentSchema(appSchema);
export const appDocumentSchema = singleDocumentSchema(appSchema);
export const inAppPurchasesDocumentSchema = pagedDocumentSchema(inAppPurchaseSchema);
export const subscriptionGroupsDocumentSchema = pagedDocumentSchema(subscriptionGroupSchema);
export const subscriptionsDocumentSchema = pagedDocumentSchema(subscriptionSchema);
export const gracePeriodDocumentSchema = singleDocumentSchema(gracePeriodSchema);
/** Any collection (the default for `paginate` when no schema is given). */
export const genericPagedDocumentSchema = pagedDocumentSchema(genericResourceSchema);

// ---------------------------------------------------------------------------------------
// Errors

export const errorBodySchema = z.looseObject({
  errors: z
    .array(
      z.looseObject({
        id: z.string().optional(),
        // Required by the spec; the SDKs that have seen real bodies treat some as optional.
        status: z.string().optional(),
        code: z.string(),
        title: z.string(),
        detail: z.string().optional(),
        source: z
          .looseObject({ pointer: z.string().optional(), parameter: z.string().optional() })
          .optional(),
        meta: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .min(1),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

// ---------------------------------------------------------------------------------------
// Relationship overflow

/**
 * Whether an included to-many relationship holds fewer linkages than `meta.paging.total`
 * says exist (Apple caps included relationships at 50): then the relationship's own
 * endpoint must be read. Without linkage data the relationship was not included at all.
 */
export function isRelationshipTruncated(relationship: ToManyRelationship | undefined): boolean {
  if (!relationship) return true;
  const got = relationship.data?.length;
  if (got === undefined) return true;
  const paging = relationship.meta?.paging;
  if (paging?.total !== undefined) return paging.total > got;
  // No total: a full page (the cap) may hide more.
  return got >= (paging?.limit ?? INCLUDED_RELATIONSHIP_CAP);
}

/** Apple's maximum for `limit[<relationship>]` on any include. */
export const INCLUDED_RELATIONSHIP_CAP = 50;
