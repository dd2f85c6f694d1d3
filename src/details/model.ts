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

/** Everything read about one product: complete, or the fetch threw. */
export const productDetailsSchema = z.object({
  productAppleId: z.string().min(1),
  prices: z.array(detailPriceSchema),
  offers: z.array(detailOfferSchema),
  localizations: z.array(detailLocalizationSchema),
  availability: detailAvailabilitySchema.nullable(),
  /** Territories (with currency) seen in the responses. */
  territories: z.array(detailTerritorySchema),
});
export type ProductDetails = z.infer<typeof productDetailsSchema>;

/** What Postgres holds for a product: the same shapes plus when each disappeared. */
export type StoredPrice = DetailPrice & { removedAt: Date | null };
export type StoredOffer = DetailOffer & { removedAt: Date | null };
export type StoredLocalization = DetailLocalization & { removedAt: Date | null };
export type StoredAvailability = DetailAvailability & { removedAt: Date | null };

export interface StoredDetails {
  productAppleId: string;
  prices: StoredPrice[];
  offers: StoredOffer[];
  localizations: StoredLocalization[];
  availability: StoredAvailability | null;
}

/** The key of a price version: territory and start date (null start sorts first). */
export const priceKey = (p: { territory: string; startDate: string | null }) =>
  `${p.territory}/${p.startDate ?? 'initial'}`;
