import { z } from 'zod';

/*
 * Transactions as Apple signs them (JWSTransactionDecodedPayload, JWSRenewalInfoDecodedPayload,
 * with Apple's field names: a platform that verified them already sends them decoded) and the
 * attribution catalog-sync answers for each. Money is a decimal string; dates in Apple's
 * payloads are UNIX milliseconds, in attributions ISO 8601.
 */

const ms = z.number().int().nonnegative();

/** A decoded transaction. Unknown fields pass (Apple keeps adding them); the ones used are checked. */
export const decodedTransactionSchema = z
  .looseObject({
    transactionId: z.string().min(1).max(64),
    originalTransactionId: z.string().min(1).max(64),
    bundleId: z.string().min(1).max(300),
    productId: z.string().min(1).max(300),
    purchaseDate: ms,
    originalPurchaseDate: ms.optional(),
    expiresDate: ms.optional(),
    type: z.string().max(100).optional(),
    inAppOwnershipType: z.string().max(100).optional(),
    transactionReason: z.string().max(100).optional(),
    environment: z.string().min(1).max(100),
    storefront: z.string().min(1).max(10),
    storefrontId: z.string().max(20).optional(),
    /** Milliunits: 1990 is 1.99. A charge is never negative (refunds are their own fields). */
    price: z.number().int().nonnegative().optional(),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code such as USD')
      .optional(),
    offerType: z.number().int().optional(),
    offerIdentifier: z.string().max(300).optional(),
    offerDiscountType: z.string().max(100).optional(),
    offerPeriod: z.string().max(50).optional(),
    revocationDate: ms.optional(),
    revocationReason: z.number().int().optional(),
    revocationType: z.string().max(100).optional(),
    revocationPercentage: z.number().int().min(0).max(100_000).optional(),
    isUpgraded: z.boolean().optional(),
    signedDate: ms.optional(),
    webOrderLineItemId: z.string().max(64).optional(),
    quantity: z.number().int().optional(),
  })
  .refine((tx) => !JSON.stringify(tx).includes('\\u0000'), {
    // Postgres text and jsonb cannot hold NUL: refused here, per transaction, not as a failed chunk.
    message: 'text fields must not contain NUL characters (\\u0000)',
  });
export type DecodedTransaction = z.infer<typeof decodedTransactionSchema>;

export const decodedRenewalInfoSchema = z.looseObject({
  originalTransactionId: z.string().max(64).optional(),
  productId: z.string().max(300).optional(),
  environment: z.string().max(100).optional(),
  gracePeriodExpiresDate: ms.optional(),
  isInBillingRetryPeriod: z.boolean().optional(),
  renewalPrice: z.number().int().optional(),
  currency: z.string().optional(),
  signedDate: ms.optional(),
});
export type DecodedRenewalInfo = z.infer<typeof decodedRenewalInfoSchema>;

/** Notification types that change what a transaction earned (App Store Server Notifications V2). */
const notificationType = z.string().min(1).max(100);

/**
 * One input item, in one of the forms a platform has at hand:
 * - a notification's body (`signedPayload`), as Apple POSTs it;
 * - a signed transaction (`signedTransactionInfo`, optionally with `signedRenewalInfo`), as the
 *   App Store Server API returns them (transaction history, subscription statuses);
 * - a decoded transaction (`transaction`, Apple's field names), or the decoded transaction itself.
 * `paidDays`: the subscriber's days of paid service before this transaction, when the platform
 * knows more history than it sends.
 */
const common = {
  paidDays: z.number().int().min(0).max(100_000).optional(),
};
export const signedNotificationInputSchema = z.strictObject({
  signedPayload: z.string().min(1).max(200_000),
  ...common,
});
export const signedTransactionInputSchema = z.strictObject({
  signedTransactionInfo: z.string().min(1).max(100_000),
  signedRenewalInfo: z.string().min(1).max(100_000).optional(),
  notificationType: notificationType.optional(),
  subtype: z.string().max(100).optional(),
  ...common,
});
export const decodedTransactionInputSchema = z.strictObject({
  transaction: decodedTransactionSchema,
  renewalInfo: decodedRenewalInfoSchema.optional(),
  notificationType: notificationType.optional(),
  subtype: z.string().max(100).optional(),
  ...common,
});

export const transactionInputSchema = z.union([
  signedNotificationInputSchema,
  signedTransactionInputSchema,
  decodedTransactionInputSchema,
  decodedTransactionSchema,
]);
export type TransactionInput = z.infer<typeof transactionInputSchema>;

/** What a transaction was. */
export const transactionKinds = [
  'first_purchase',
  'renewal',
  'conversion',
  'offer_period',
  'purchase',
  'refund',
  'refund_reversed',
  'revoke',
] as const;
export type TransactionKind = (typeof transactionKinds)[number];

/** Which part of a transaction an attribution is: one of each at most per transaction. */
export const entryKinds = ['charge', 'refund', 'refund_reversed', 'revoke'] as const;
export type EntryKind = (typeof entryKinds)[number];

export const bases = ['exact', 'preserved_price', 'unknown_proceeds'] as const;
export type Basis = (typeof bases)[number];

const money = z.string().describe('a decimal amount, exact (never a float)');
const iso = z.string().describe('an ISO 8601 instant');

export const attributionSchema = z.object({
  transactionId: z.string(),
  originalTransactionId: z.string(),
  entry: z.enum(entryKinds),
  kind: z.enum(transactionKinds),
  productId: z.string(),
  productAppleId: z.string(),
  territory: z.string(),
  environment: z.enum(['production', 'sandbox']),
  currency: z.string(),
  /** Negative for a refund; null when neither the transaction nor the catalog says. */
  customerPrice: money.nullable(),
  customerPriceSource: z.enum(['transaction', 'catalog']),
  proceeds: money.nullable(),
  proceedsRate: z.enum(['first_year', 'after_first_year']).nullable(),
  proceedsReason: z.string(),
  basis: z.enum(bases),
  /** The price version whose amounts were used. */
  pricePoint: z
    .object({
      source: z.enum(['catalog', 'app_store_connect', 'offer']),
      from: z.string().nullable(),
      until: z.string().nullable(),
    })
    .nullable(),
  paidDays: z.number().int(),
  paidDaysSource: z.enum(['counted', 'given']),
  offer: z
    .object({
      type: z.enum(['introductory', 'promotional', 'offer_code', 'win_back', 'unknown']),
      identifier: z.string().nullable(),
      discountType: z.string().nullable(),
      /** The catalog's offer (its Apple id), null when none matched. */
      appleId: z.string().nullable(),
      customerPrice: money.nullable(),
      proceeds: money.nullable(),
    })
    .nullable(),
  rule: z
    .object({
      renewalKind: z.enum(['paid_to_paid', 'offer_to_paid']),
      graceDays: z.number().int(),
      recoveredRevenueDatedTo: z.string(),
      effectiveFrom: iso,
      /** The first version seen, extended back to a date before it was observed. */
      assumed: z.boolean(),
    })
    .nullable(),
  revenueDate: iso,
  /** Renewals: when the payment was due (the previous period's end), if known. */
  dueDate: iso.nullable(),
  recoveredInGrace: z.boolean(),
  purchaseDate: iso,
  serviceStart: iso,
  serviceEnd: iso.nullable(),
});
export type Attribution = z.infer<typeof attributionSchema>;
