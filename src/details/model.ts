import { z } from 'zod';
import { offerKinds, priceSources } from '../../db/schema.ts';

/*
 * A product's catalog details as fetched from App Store Connect (fetch.ts) and as stored
 * (store.ts): prices per territory versioned by start date, offers of every kind with their
 * prices per territory, localizations, availability. Pure data; types inferred from schemas.
 * Money stays a decimal string end to end (Apple's `customerPrice: "4.99"`, Postgres numeric).
 */

const dateText = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const money = z.string().nullable();

export const detailTerritorySchema = z.object({ id: z.string().min(1), currency: z.string().min(1) });
export type DetailTerritory = z.infer<typeof detailTerritorySchema>;

export const detailPriceSchema = z.object({
  appleId: z.string().min(1),
  territory: z.string().min(1),
  /** Null: in force since the product was first priced. */
  startDate: dateText.nullable(),
  endDate: dateText.nullable(),
  preserved: z.boolean().nullable(),
  source: z.enum(priceSources),
  planType: z.string().nullable(),
  pricePointId: z.string().nullable(),
  currency: z.string().nullable(),
  customerPrice: money,
  proceeds: money,
  proceedsYear2: money,
});
export type DetailPrice = z.infer<typeof detailPriceSchema>;

export const offerPriceSchema = z.object({
  territory: z.string().min(1),
  /** Null: a free offer (no price point). */
  pricePointId: z.string().nullable(),
  currency: z.string().nullable(),
  customerPrice: money,
  proceeds: money,
  proceedsYear2: money,
});
export type OfferPrice = z.infer<typeof offerPriceSchema>;

export const detailOfferSchema = z.object({
  appleId: z.string().min(1),
  kind: z.enum(offerKinds),
  /** Introductory offers: the territory of this record (Apple has one record per territory). */
  territory: z.string().nullable(),
  name: z.string().nullable(),
  offerMode: z.string().nullable(),
  duration: z.string().nullable(),
  numberOfPeriods: z.number().int().nullable(),
  startDate: dateText.nullable(),
  endDate: dateText.nullable(),
  active: z.boolean().nullable(),
  eligibility: z.record(z.string(), z.unknown()),
  raw: z.record(z.string(), z.unknown()),
  /** Sorted by territory. */
  prices: z.array(offerPriceSchema),
});
export type DetailOffer = z.infer<typeof detailOfferSchema>;

export const detailLocalizationSchema = z.object({
  appleId: z.string().min(1),
  locale: z.string().min(1),
  name: z.string().nullable(),
  description: z.string().nullable(),
  state: z.string().nullable(),
  raw: z.record(z.string(), z.unknown()),
});
export type DetailLocalization = z.infer<typeof detailLocalizationSchema>;

export const detailAvailabilitySchema = z.object({
  appleId: z.string().min(1),
  availableInNewTerritories: z.boolean().nullable(),
  /** Sorted. */
  territories: z.array(z.string()),
});
export type DetailAvailability = z.infer<typeof detailAvailabilitySchema>;

/**
 * Apple's 4.x metadata of a product or a subscription group, as present or missing and with its
 * state (never an image's bytes): each record kind is its own change entity.
 * - `version`: a version of the product's (or group's) metadata; `state` says live or in review.
 * - `plan_availability`: a subscription's plan (`label`: MONTHLY | UPFRONT) and its new-territory flag.
 * - `promoted_purchase`: the product's promotion on the App Store (enabled, visible, state).
 * - `review_screenshot`: the screenshot App Review needs (present: a record; missing: none).
 * - `image`: a promotional image (state).
 * - `group_localization`: a subscription group's display name per locale (`label`).
 */
export const metadataKinds = [
  'version',
  'plan_availability',
  'promoted_purchase',
  'review_screenshot',
  'image',
  'group_localization',
] as const;
export type MetadataKind = (typeof metadataKinds)[number];

export const detailMetadataSchema = z.object({
  kind: z.enum(metadataKinds),
  appleId: z.string().min(1),
  /** The record's review, delivery or version state (open: Apple adds values). */
  state: z.string().nullable(),
  /** Versions: the version number. */
  version: z.number().int().nullable(),
  /** Plan availabilities: the plan type; group localizations: the locale. */
  label: z.string().nullable(),
  /** Apple's attributes as received (no upload operations or asset tokens). */
  attributes: z.record(z.string(), z.unknown()),
});
export type DetailMetadata = z.infer<typeof detailMetadataSchema>;

/** A subscription group's localizations and versions (read once per group, not per product). */
export const groupDetailsSchema = z.object({
  groupAppleId: z.string().min(1),
  metadata: z.array(detailMetadataSchema),
  /** Kinds Apple capped (more than 50) and the spec offers no listing for: unlisted ones are kept, not removed. */
  partialKinds: z.array(z.enum(metadataKinds)),
});
export type GroupDetails = z.infer<typeof groupDetailsSchema>;

/** Everything read about one product: complete, or the fetch threw. */
export const productDetailsSchema = z.object({
  productAppleId: z.string().min(1),
  prices: z.array(detailPriceSchema),
  offers: z.array(detailOfferSchema),
  localizations: z.array(detailLocalizationSchema),
  availability: detailAvailabilitySchema.nullable(),
  /** Territories (with currency) seen in the responses. */
  territories: z.array(detailTerritorySchema),
  /** Versions, plan availabilities, promoted purchase, review screenshot, images; sorted by kind and id. */
  metadata: z.array(detailMetadataSchema),
  /** Kinds Apple capped at 50 whose rest no path in the spec lists: unlisted ones are kept. */
  partialKinds: z.array(z.enum(metadataKinds)),
});
export type ProductDetails = z.infer<typeof productDetailsSchema>;

/** What Postgres holds for a product: the same shapes plus when each disappeared. */
export type StoredPrice = DetailPrice & { removedAt: Date | null };
export type StoredOffer = DetailOffer & { removedAt: Date | null };
export type StoredLocalization = DetailLocalization & { removedAt: Date | null };
export type StoredAvailability = DetailAvailability & { removedAt: Date | null };

export type StoredMetadata = DetailMetadata & { removedAt: Date | null };

export interface StoredDetails {
  productAppleId: string;
  prices: StoredPrice[];
  offers: StoredOffer[];
  localizations: StoredLocalization[];
  availability: StoredAvailability | null;
  metadata: StoredMetadata[];
}

/** The key of a price version: territory and start date (null start sorts first). */
export const priceKey = (p: { territory: string; startDate: string | null }) =>
  `${p.territory}/${p.startDate ?? 'initial'}`;

/** Orders metadata records by kind (as listed in metadataKinds), then id. */
export function sortMetadata<T extends DetailMetadata>(records: T[]): T[] {
  return records.sort(
    (a, b) =>
      metadataKinds.indexOf(a.kind) - metadataKinds.indexOf(b.kind) ||
      (a.appleId < b.appleId ? -1 : a.appleId > b.appleId ? 1 : 0),
  );
}
