import { z } from 'zod';

/*
 * The simulator's catalog: what App Store Connect holds for a set of apps, and the keys it
 * knows. This is also the JSON catalog file format (`catalog-sync simulator --catalog FILE`).
 * Apple's enums are open strings on purpose: a catalog may hold values Apple has not
 * published yet, so clients can be tested for tolerance.
 */

// ---------------------------------------------------------------------------------------------
// Catalog details: prices, offers, localizations, availability. Compact on purpose:
// per-territory records (175 territories × prices × offers) are derived when a request asks,
// so a catalog of 10,000 products stays small and cheap to generate, copy and mutate.

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const date = z.string().regex(DATE, 'must be a date YYYY-MM-DD');

/** One price version: a tier (see territories.ts PRICE_TIERS) from `startDate` on. */
export const simPriceSchema = z.object({
  /** YYYY-MM-DD; null: in force since the product was first priced. A future date is a scheduled change. */
  startDate: date.nullable(),
  /** 1-based tier of PRICE_TIERS (US dollars); other territories get the equalized amount. */
  tier: z.number().int().min(1),
  /**
   * A manual price for these territories only. Absent: the base territory's price, equalized to
   * every priced territory (for IAPs: manual in the base territory, automatic elsewhere).
   */
  territories: z.array(z.string()).optional(),
  /** Subscriptions: existing subscribers keep their price. */
  preserved: z.boolean().optional(),
  /** Subscriptions (4.x SubscriptionPlanType): MONTHLY | UPFRONT; absent: not sent. */
  planType: z.string().optional(),
});
export type SimPrice = z.infer<typeof simPriceSchema>;

export const OFFER_KINDS = ['introductory', 'promotional', 'offerCode', 'winBack'] as const;
export type OfferKind = (typeof OFFER_KINDS)[number];

export const simOfferSchema = z.object({
  /** Apple id of the offer (introductory offers: the stem of the per-territory record ids). */
  id: z.string().min(1),
  /** introductory | promotional | offerCode | winBack (IAPs have offer codes only). */
  kind: z.enum(OFFER_KINDS),
  /** SubscriptionOfferDuration (open). Not used by IAP offer codes. */
  duration: z.string().optional(),
  /** FREE_TRIAL | PAY_AS_YOU_GO | PAY_UP_FRONT (open). */
  offerMode: z.string().optional(),
  /** numberOfPeriods (periodCount for win-back offers). */
  numberOfPeriods: z.number().int().optional(),
  /** The offer's price tier; null: free (no price point). */
  tier: z.number().int().min(1).nullable(),
  /** Territories the offer is priced in; absent: every territory the product is priced in. */
  territories: z.array(z.string()).optional(),
  startDate: date.nullable().optional(),
  endDate: date.nullable().optional(),
  /** Promotional offers and offer codes. */
  name: z.string().optional(),
  /** Promotional offers: the identifier apps sign with. */
  offerCode: z.string().optional(),
  /** Offer codes: NEW | EXISTING | EXPIRED (IAPs: NON_SPENDER | ACTIVE_SPENDER | CHURNED_SPENDER). */
  customerEligibilities: z.array(z.string()).optional(),
  /** Offer codes: STACK_WITH_INTRO_OFFERS | REPLACE_INTRO_OFFERS. */
  offerEligibility: z.string().optional(),
  totalNumberOfCodes: z.number().int().optional(),
  productionCodeCount: z.number().int().optional(),
  sandboxCodeCount: z.number().int().optional(),
  active: z.boolean().optional(),
  autoRenewEnabled: z.boolean().optional(),
  /** Win-back offers. */
  referenceName: z.string().optional(),
  offerId: z.string().optional(),
  paidSubscriptionMonths: z.number().int().optional(),
  sinceLastSubscribedMonths: z.object({ minimum: z.number().int(), maximum: z.number().int() }).optional(),
  waitBetweenOffersMonths: z.number().int().optional(),
  /** HIGH | NORMAL. */
  priority: z.string().optional(),
  /** NOT_PROMOTED | USE_AUTO_GENERATED_ASSETS. */
  promotionIntent: z.string().optional(),
});
export type SimOffer = z.infer<typeof simOfferSchema>;

export const simLocalizationSchema = z.object({
  id: z.string().min(1),
  locale: z.string().min(1),
  name: z.string(),
  description: z.string().nullable().optional(),
  /** Group localizations only. */
  customAppName: z.string().nullable().optional(),
  /** PREPARE_FOR_SUBMISSION | WAITING_FOR_REVIEW | APPROVED | REJECTED (open). */
  state: z.string().min(1),
});
export type SimLocalization = z.infer<typeof simLocalizationSchema>;

export const simAvailabilitySchema = z.object({
  availableInNewTerritories: z.boolean(),
  /** Territory ids the product is sold in. */
  territories: z.array(z.string()),
});
export type SimAvailability = z.infer<typeof simAvailabilitySchema>;

/**
 * Apple's newest per-product metadata (spec 4.x): what the product's request can include. Only
 * presence and state are modelled: the bytes of an image never matter to a catalog.
 */
export const simMediaSchema = z.object({
  fileName: z.string().min(1),
  fileSize: z.number().int().nonnegative().default(1024),
  /** Screenshots: AppMediaAssetState.state (AWAITING_UPLOAD | UPLOAD_COMPLETE | COMPLETE | FAILED). */
  assetDeliveryState: z.string().optional(),
  /** Images: AWAITING_UPLOAD … APPROVED | REJECTED (open). */
  state: z.string().optional(),
});
export type SimMedia = z.infer<typeof simMediaSchema>;

export const simImageSchema = simMediaSchema.extend({ id: z.string().min(1) });
export type SimImage = z.infer<typeof simImageSchema>;

/** A version of a product's or group's metadata (InAppPurchaseVersion / SubscriptionVersion / SubscriptionGroupVersion). */
export const simVersionSchema = z.object({
  id: z.string().min(1),
  version: z.number().int().min(1),
  /** PREPARE_FOR_SUBMISSION | READY_FOR_REVIEW | WAITING_FOR_REVIEW | IN_REVIEW | APPROVED | … (open). */
  state: z.string().min(1),
});
export type SimVersion = z.infer<typeof simVersionSchema>;

export const simPromotedPurchaseSchema = z.object({
  enabled: z.boolean(),
  visibleForAllUsers: z.boolean(),
  /** APPROVED | IN_REVIEW | PREPARE_FOR_SUBMISSION | REJECTED (open). */
  state: z.string().min(1),
});
export type SimPromotedPurchase = z.infer<typeof simPromotedPurchaseSchema>;

/** Subscriptions (4.x SubscriptionPlanAvailability): one per plan type. */
export const simPlanAvailabilitySchema = z.object({
  /** MONTHLY | UPFRONT (open). */
  planType: z.string().min(1),
  availableInNewTerritories: z.boolean(),
});
export type SimPlanAvailability = z.infer<typeof simPlanAvailabilitySchema>;

export const simDetailsSchema = z.object({
  /** IAPs: the price schedule's base territory (default USA). */
  baseTerritory: z.string().optional(),
  prices: z.array(simPriceSchema),
  /** Territories the product is available in but not priced in (a catalog-health case). */
  unpricedTerritories: z.array(z.string()).optional(),
  offers: z.array(simOfferSchema),
  localizations: z.array(simLocalizationSchema),
  /** Null: Apple answers 404 for the availability. */
  availability: simAvailabilitySchema.nullable(),
  /** The screenshot for App Review; absent or null: none uploaded (a cause of MISSING_METADATA). */
  reviewScreenshot: simMediaSchema.nullable().optional(),
  /** Promotional images (4.x `images`). */
  images: z.array(simImageSchema).optional(),
  /** The product's promoted purchase on the App Store; absent or null: not promoted. */
  promotedPurchase: simPromotedPurchaseSchema.nullable().optional(),
  /** Metadata versions, oldest first (4.x `versions`). */
  versions: z.array(simVersionSchema).optional(),
  /** Subscriptions: plan availabilities (4.x `planAvailabilities`). */
  planAvailabilities: z.array(simPlanAvailabilitySchema).optional(),
});
export type SimDetails = z.infer<typeof simDetailsSchema>;

/** Attributes Apple may add later; rendered as-is next to the known ones. */
const extraAttributes = z.record(z.string(), z.unknown()).optional();

export const simIapSchema = z.object({
  id: z.string().min(1),
  productId: z.string().min(1),
  /** Apple's `name` attribute is the reference name. */
  name: z.string(),
  /** CONSUMABLE | NON_CONSUMABLE | NON_RENEWING_SUBSCRIPTION (open). */
  inAppPurchaseType: z.string().min(1),
  state: z.string().min(1),
  reviewNote: z.string().nullable().optional(),
  familySharable: z.boolean().nullable().optional(),
  contentHosting: z.boolean().nullable().optional(),
  extraAttributes,
  /** Prices, offer codes, localizations, availability; absent: none (to-one details answer 404). */
  details: simDetailsSchema.optional(),
});
export type SimIap = z.infer<typeof simIapSchema>;

export const simSubscriptionSchema = z.object({
  id: z.string().min(1),
  productId: z.string().min(1),
  name: z.string(),
  state: z.string().min(1),
  /** ONE_WEEK … ONE_YEAR (open). */
  subscriptionPeriod: z.string().min(1),
  groupLevel: z.number().int(),
  familySharable: z.boolean().nullable().optional(),
  reviewNote: z.string().nullable().optional(),
  /** Added in Apple's spec 4.5.1: ENABLED | DISABLED. */
  multiSeatStatus: z.string().optional(),
  /** Added in Apple's spec 4.5.1: APPLE_SCHOOL | APP_STORE | APPLE_BUSINESS. */
  marketSettings: z.array(z.string()).optional(),
  extraAttributes,
  /** Prices, offers, localizations, availability; absent: none (to-one details answer 404). */
  details: simDetailsSchema.optional(),
});
export type SimSubscription = z.infer<typeof simSubscriptionSchema>;

export const simGroupSchema = z.object({
  id: z.string().min(1),
  referenceName: z.string(),
  subscriptions: z.array(simSubscriptionSchema),
  /** subscriptionGroupLocalizations. */
  localizations: z.array(simLocalizationSchema).optional(),
  /** The group's metadata versions (4.x SubscriptionGroupVersion), oldest first. */
  versions: z.array(simVersionSchema).optional(),
});
export type SimGroup = z.infer<typeof simGroupSchema>;

export const simGraceSchema = z.object({
  /** The subscriptionGracePeriods id (deliberately not the app id; clients must read it). */
  id: z.string().min(1),
  optIn: z.boolean(),
  sandboxOptIn: z.boolean(),
  /** THREE_DAYS | SIXTEEN_DAYS | TWENTY_EIGHT_DAYS (open). */
  duration: z.string().min(1),
  /** ALL_RENEWALS | PAID_TO_PAID_ONLY (open). */
  renewalType: z.string().min(1),
});
export type SimGrace = z.infer<typeof simGraceSchema>;

export const simAppSchema = z.object({
  id: z.string().min(1),
  bundleId: z.string().min(1),
  name: z.string(),
  sku: z.string(),
  primaryLocale: z.string(),
  iaps: z.array(simIapSchema),
  groups: z.array(simGroupSchema),
  /** Null: the app has no grace period settings (GET …/subscriptionGracePeriod answers 404). */
  grace: simGraceSchema.nullable(),
  extraAttributes,
});
export type SimApp = z.infer<typeof simAppSchema>;

/** Roles from Apple's `UserRole` enum (4.5.1); other strings are accepted and treated as no catalog access. */
export const USER_ROLES = [
  'ADMIN',
  'FINANCE',
  'ACCOUNT_HOLDER',
  'SALES',
  'MARKETING',
  'APP_MANAGER',
  'DEVELOPER',
  'ACCESS_TO_REPORTS',
  'CUSTOMER_SUPPORT',
  'CREATE_APPS',
  'CLOUD_MANAGED_DEVELOPER_ID',
  'CLOUD_MANAGED_APP_DISTRIBUTION',
  'GENERATE_INDIVIDUAL_KEYS',
] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** Roles that may read the in-app purchase catalog and grace period (App Store Connect Help). */
export const CATALOG_ROLES: ReadonlySet<string> = new Set([
  'ADMIN',
  'ACCOUNT_HOLDER',
  'APP_MANAGER',
  'DEVELOPER',
]);

export const KEY_ID_PATTERN = /^[A-Z0-9]{10}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A key as the catalog file holds it: only the PUBLIC key (an outside process keeps the .p8). */
export const simKeySchema = z.object({
  keyId: z.string().regex(KEY_ID_PATTERN, 'must be 10 upper-case letters or digits'),
  issuerId: z.string().regex(UUID_PATTERN, 'must be a UUID'),
  publicKeyPem: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be an SPKI PEM public key' }),
  role: z.string().min(1).default('ADMIN'),
  appIds: z.union([z.literal('all'), z.array(z.string().min(1))]).default('all'),
  agreementsMissing: z.boolean().default(false),
  /** Overrides the simulator's hourly budget for this key. */
  rateLimitPerHour: z.number().int().positive().optional(),
});
export type SimKey = z.infer<typeof simKeySchema>;
export type SimKeyInput = z.input<typeof simKeySchema>;

export const simCatalogSchema = z.object({
  apps: z.array(simAppSchema),
  keys: z.array(simKeySchema).optional(),
});
export type SimCatalog = z.infer<typeof simCatalogSchema>;

/** Orders Apple ids: numeric ids by value (shorter first), then lexicographically. */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function countProducts(catalog: SimCatalog): number {
  let count = 0;
  for (const app of catalog.apps) {
    count += app.iaps.length;
    for (const group of app.groups) count += group.subscriptions.length;
  }
  return count;
}
