import { z } from 'zod';
import { projectIdSchema } from '../projects/id.ts';
import { attributionSchema } from './model.ts';

/*
 * The inputs and outputs of the attribution operations (src/app/attribution.ts) as zod schemas,
 * in a module that loads only zod: the public API re-exports them, and HTTP routes reuse them,
 * without loading the database layer.
 */

export const attributionEnvironments = ['production', 'sandbox'] as const;
export const environmentSchema = z.enum(attributionEnvironments, {
  message: 'environment must be production or sandbox',
});

export const storedAttributionSchema = attributionSchema.extend({
  version: z.number().int().min(1),
  versionReason: z.string(),
});
export type StoredAttribution = z.infer<typeof storedAttributionSchema>;

export const itemStatuses = ['stored', 'new_version', 'duplicate', 'refused'] as const;

export const attributionItemResultSchema = z.object({
  /** 0-based position in the input (the CLI reports 1-based lines). */
  index: z.number().int(),
  status: z.enum(itemStatuses),
  transactionId: z.string().nullable(),
  /** The current attributions of the transaction (its charge, and a refund, reversal or revocation). */
  attributions: z.array(storedAttributionSchema),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type AttributionItemResult = z.infer<typeof attributionItemResultSchema>;

export const attributionSummarySchema = z.object({
  items: z.number().int(),
  stored: z.number().int(),
  newVersions: z.number().int(),
  duplicates: z.number().int(),
  refused: z.number().int(),
  /** Refusals by reason code. */
  refusedBy: z.record(z.string(), z.number().int()),
  unknownProceeds: z.number().int(),
  /** Price points read from App Store Connect (each inside the key's budget). */
  pricePointLookups: z.number().int(),
});
export type AttributionSummary = z.infer<typeof attributionSummarySchema>;

export const MAX_TRANSACTIONS_PER_CALL = 10_000;

export const attributeTransactionsInputSchema = z.object({
  projectId: projectIdSchema,
  /** The environment the transactions must come from (a verifier per environment, as Apple's). */
  environment: environmentSchema.default('production'),
  /**
   * Each: `{signedPayload}` (a notification as Apple POSTs it), `{signedTransactionInfo,
   * signedRenewalInfo?}`, `{transaction: <decoded>, …}` or a decoded transaction (Apple's names).
   */
  transactions: z
    .array(z.unknown())
    .min(1, 'transactions must hold at least one transaction')
    .max(
      MAX_TRANSACTIONS_PER_CALL,
      `at most ${MAX_TRANSACTIONS_PER_CALL} transactions per call: use the CLI's --file or the attribute-transactions job for more`,
    ),
});
export type AttributeTransactionsInput = z.input<typeof attributeTransactionsInputSchema>;

export const attributeTransactionsOutputSchema = z.object({
  projectId: z.string(),
  environment: environmentSchema,
  results: z.array(attributionItemResultSchema),
  summary: attributionSummarySchema,
});
export type AttributeTransactionsOutput = z.infer<typeof attributeTransactionsOutputSchema>;

// ---------------------------------------------------------------------------------------------
// Revenue

export const revenueGroupings = ['day', 'month', 'product', 'territory'] as const;

const instant = z.union([z.date(), z.string()]).transform((value, c) => {
  const date = value instanceof Date ? value : new Date(value.trim());
  if (Number.isNaN(date.getTime())) {
    c.addIssue({
      code: 'custom',
      message: 'must be an ISO date or date-time, such as 2026-03-01 or 2026-03-01T00:00:00Z',
    });
    return z.NEVER;
  }
  return date;
});

export const revenueInputSchema = z
  .object({
    projectId: projectIdSchema,
    /** Inclusive. */
    from: instant,
    /** Exclusive. */
    to: instant,
    by: z.enum(revenueGroupings, { message: 'by must be day, month, product or territory' }).default('day'),
    environment: environmentSchema.default('production'),
  })
  .refine((v) => v.from < v.to, { message: 'from must be before to', path: ['to'] });
export type RevenueInput = z.input<typeof revenueInputSchema>;

export const revenueRowSchema = z.object({
  /** The day (YYYY-MM-DD), month (YYYY-MM), product id or territory. */
  key: z.string(),
  currency: z.string(),
  /** Sums (refunds negative), exact decimals. */
  customerPrice: z.string(),
  proceeds: z.string(),
  /** Attributions whose proceeds are unknown, left out of `proceeds`. */
  unknownProceeds: z.number().int(),
  count: z.number().int(),
});

export const revenueOutputSchema = z.object({
  projectId: z.string(),
  environment: environmentSchema,
  from: z.string(),
  to: z.string(),
  by: z.enum(revenueGroupings),
  rows: z.array(revenueRowSchema),
  /** Per currency over the whole range (amounts in different currencies are never added). */
  totals: z.array(revenueRowSchema.omit({ key: true })),
});
export type RevenueOutput = z.infer<typeof revenueOutputSchema>;
