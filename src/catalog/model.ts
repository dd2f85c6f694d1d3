import { z } from 'zod';
import { productKinds } from './vocabulary.ts';

/*
 * The catalog model: what one sync fetched from App Store Connect, normalised, and what
 * Postgres holds. Pure data; every type is inferred from these schemas.
 * Apple's enums (state, period, duration, renewal type) are open strings: Apple adds values.
 */

export const productKindSchema = z.enum(productKinds);
export type ProductKind = z.infer<typeof productKindSchema>;

/** Apple attributes as received, unknown ones included. */
export const rawAttributesSchema = z.record(z.string(), z.unknown());

export const catalogProductSchema = z.object({
  /** Apple's resource id: the key, so a renamed product is an update. */
  appleId: z.string().min(1),
  productId: z.string().min(1),
  kind: productKindSchema,
  referenceName: z.string(),
  state: z.string(),
  familySharable: z.boolean().nullable(),
  /** IAPs only; null for subscriptions. */
  contentHosting: z.boolean().nullable(),
  /** Auto-renewable subscriptions only (ONE_WEEK … ONE_YEAR). */
  subscriptionPeriod: z.string().nullable(),
  groupAppleId: z.string().nullable(),
  groupLevel: z.number().int().nullable(),
  raw: rawAttributesSchema,
});
export type CatalogProduct = z.infer<typeof catalogProductSchema>;

export const catalogGroupSchema = z.object({
  appleId: z.string().min(1),
  referenceName: z.string(),
  raw: rawAttributesSchema,
});
export type CatalogGroup = z.infer<typeof catalogGroupSchema>;

export const gracePeriodSchema = z.object({
  /** Apple's subscriptionGracePeriods id. */
  appleId: z.string().min(1),
  optIn: z.boolean(),
  sandboxOptIn: z.boolean(),
  /** THREE_DAYS | SIXTEEN_DAYS | TWENTY_EIGHT_DAYS (open). */
  duration: z.string(),
  durationDays: z.number().int().nonnegative(),
  /** ALL_RENEWALS | PAID_TO_PAID_ONLY (open). */
  renewalType: z.string(),
  raw: rawAttributesSchema,
});
export type GracePeriod = z.infer<typeof gracePeriodSchema>;

/** A complete catalog as fetched: never partial (the fetch throws instead). */
export const catalogSchema = z.object({
  products: z.array(catalogProductSchema),
  groups: z.array(catalogGroupSchema),
  /** Null when the app returns no grace period settings. */
  grace: gracePeriodSchema.nullable(),
});
export type Catalog = z.infer<typeof catalogSchema>;

/** What Postgres holds: the same shapes plus when each disappeared (null while present). */
export const storedProductSchema = catalogProductSchema.extend({ removedAt: z.date().nullable() });
export type StoredProduct = z.infer<typeof storedProductSchema>;
export const storedGroupSchema = catalogGroupSchema.extend({ removedAt: z.date().nullable() });
export type StoredGroup = z.infer<typeof storedGroupSchema>;
export const storedGraceSchema = gracePeriodSchema.extend({ removedAt: z.date().nullable() });
export type StoredGrace = z.infer<typeof storedGraceSchema>;

export interface StoredCatalog {
  products: StoredProduct[];
  groups: StoredGroup[];
  grace: StoredGrace | null;
}

/** Days in each of Apple's grace durations; an unknown value yields undefined (kept raw). */
export const GRACE_DURATION_DAYS: Record<string, number> = {
  THREE_DAYS: 3,
  SIXTEEN_DAYS: 16,
  TWENTY_EIGHT_DAYS: 28,
};

/** Parses names like `SEVEN_DAYS` or `TWO_WEEKS` that Apple may add later, else undefined. */
export function graceDurationDays(duration: string): number | undefined {
  const known = GRACE_DURATION_DAYS[duration];
  if (known !== undefined) return known;
  const words: Record<string, number> = {
    ONE: 1,
    TWO: 2,
    THREE: 3,
    FOUR: 4,
    FIVE: 5,
    SIX: 6,
    SEVEN: 7,
    EIGHT: 8,
    NINE: 9,
    TEN: 10,
    ELEVEN: 11,
    TWELVE: 12,
    THIRTEEN: 13,
    FOURTEEN: 14,
    FIFTEEN: 15,
    SIXTEEN: 16,
    SEVENTEEN: 17,
    EIGHTEEN: 18,
    NINETEEN: 19,
    TWENTY: 20,
    THIRTY: 30,
    SIXTY: 60,
    NINETY: 90,
  };
  const match = /^([A-Z_]+?)_(DAY|DAYS|WEEK|WEEKS)$/.exec(duration);
  if (!match) return undefined;
  const count = match[1]!
    .split('_')
    .reduce<number | undefined>(
      (sum, word) => (sum === undefined || words[word] === undefined ? undefined : sum + words[word]!),
      0,
    );
  if (count === undefined || count === 0) return undefined;
  return match[2]!.startsWith('WEEK') ? count * 7 : count;
}
