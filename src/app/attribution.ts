import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { attributionBatches, attributionBatchItems } from '../../db/schema.ts';
import {
  type AttributeResult,
  attributeTransaction,
  type CatalogView,
  environmentOf,
  type HistoryEntry,
  historyEntryOf,
  type MissingPricePoint,
  type ProductView,
} from '../attribution/attribute.ts';
import {
  type Attribution,
  type DecodedTransaction,
  decodedTransactionInputSchema,
  decodedTransactionSchema,
  signedNotificationInputSchema,
  signedTransactionInputSchema,
} from '../attribution/model.ts';
import { add, isDecimal, sameAmount } from '../attribution/money.ts';
import {
  type AttributeTransactionsInput,
  type AttributeTransactionsOutput,
  type AttributionItemResult,
  type AttributionSummary,
  attributeTransactionsInputSchema,
  environmentSchema,
  type RevenueInput,
  type RevenueOutput,
  revenueInputSchema,
  type StoredAttribution,
} from '../attribution/schemas.ts';
import {
  digestOf,
  insertVersions,
  loadCurrent,
  loadHistory,
  loadProducts,
  loadProjectView,
  type RevenueGrouping,
  savePricePoint,
  sumRevenue,
  type VersionRow,
} from '../attribution/store.ts';
import {
  createVerifier,
  Refused,
  readRootCertificates,
  type VerifiedInput,
  type Verifier,
} from '../attribution/verify.ts';
import { loadClientForProject } from '../credentials/index.ts';
import { errorMessage, failureReason, InvalidInputError, NotFoundError } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';
import { requireProject } from '../projects/store.ts';
import { enqueueAttribution } from '../queue/producer.ts';
import type { AppContext, DataContext } from './context.ts';
import { type JobRef, jobRef } from './jobs.ts';
import { detailsBudgetOf } from './refresh-details.ts';

/*
 * What a transaction earned, stored once per transaction (src/attribution, docs/attribution.md):
 * `attributeTransactions` for a list (the API, HTTP), `attributeStream` for a stream of any
 * length (the CLI's NDJSON, the bulk job), `revenue` for sums. Items are handled in chunks:
 * verified, attributed against the catalog and the subscriber's history (this stream and what
 * was stored before), then written in one statement per chunk — a chunk is all stored or none.
 * Memory is bounded by the chunk, never by the stream.
 */

function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'input';
    throw new InvalidInputError(field, issue?.message ?? 'is not valid');
  }
  return parsed.data;
}

/** One input item: its value, or why its line could not be read (bad JSON, a truncated line). */
export type StreamItem = { index: number; value: unknown } | { index: number; unreadable: string };

export interface AttributeStreamOptions {
  projectId: string;
  environment?: 'production' | 'sandbox';
  /** Items handled and written together (default 500). */
  chunkSize?: number;
  /** Called with each chunk's results, in input order, once the chunk is stored. */
  onResults?: (results: AttributionItemResult[]) => void | Promise<void>;
  /** Whether to return every result (a list call) or only the summary (a stream). */
  collect?: boolean;
}

const emptySummary = (): AttributionSummary => ({
  items: 0,
  stored: 0,
  newVersions: 0,
  duplicates: 0,
  refused: 0,
  refusedBy: {},
  unknownProceeds: 0,
  pricePointLookups: 0,
});

/** A decoded or verified item, ready for the catalog. */
interface Ready {
  index: number;
  input: VerifiedInput;
  paidDays?: number | undefined;
}

function refusedResult(
  index: number,
  code: string,
  message: string,
  transactionId: string | null = null,
): AttributionItemResult {
  return { index, status: 'refused', transactionId, attributions: [], error: { code, message } };
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'is not valid';
  return `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}

/** Which fields changed between two answers, for the reason of a new version. */
function changes(before: Attribution, after: Attribution): string {
  const fields: Array<keyof Attribution> = [
    'basis',
    'customerPrice',
    'proceeds',
    'proceedsRate',
    'paidDays',
    'revenueDate',
    'kind',
    'rule',
    'offer',
    'dueDate',
  ];
  const show = (value: unknown) =>
    value === null || value === undefined
      ? 'none'
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  const same = (a: unknown, b: unknown) =>
    typeof a === 'string' && typeof b === 'string' && isDecimal(a) && isDecimal(b)
      ? sameAmount(a, b)
      : JSON.stringify(a) === JSON.stringify(b);
  const changed = fields.filter((f) => !same(before[f], after[f]));
  if (changed.length === 0) return 'a better answer: the reasons or sources changed';
  return `a better answer: ${changed.map((f) => `${f} ${show(before[f])} → ${show(after[f])}`).join('; ')}`;
}

interface Session {
  projectId: string;
  environment: 'production' | 'sandbox';
  bundleId: string;
  appStoreId: string | null;
  verifier: Promise<Verifier> | undefined;
  catalog: CatalogView;
  /** Product ids looked for and not found (so they are not looked for again). */
  unknownProducts: Set<string>;
  /** (product, territory, price) already looked up in App Store Connect in this session. */
  lookedUp: Map<string, string>;
}

async function openSession(
  ctx: DataContext,
  projectIdInput: string,
  environment: 'production' | 'sandbox',
): Promise<Session> {
  const project = await requireProject(ctx, projectIdInput);
  if (!project.bundleId) {
    throw new InvalidInputError(
      'projectId',
      `project ${project.id} has no selected app: select it (catalog-sync select-app ${project.id} <appStoreId>) and sync its catalog first`,
    );
  }
  const view = await loadProjectView(ctx.db, project.id);
  return {
    projectId: project.id,
    environment,
    bundleId: project.bundleId,
    appStoreId: project.appStoreId,
    verifier: undefined,
    catalog: { products: new Map(), currencies: view.currencies, rules: view.rules },
    unknownProducts: new Set(),
    lookedUp: new Map(),
  };
}

function verifierOf(ctx: DataContext, session: Session): Promise<Verifier> {
  session.verifier ??= (async () => {
    let roots: Buffer[];
    try {
      roots = readRootCertificates(ctx.config.attribution.rootCertificateFiles);
    } catch (error) {
      throw new Refused('not_configured', `signed payloads cannot be verified: ${errorMessage(error)}`);
    }
    return createVerifier(roots, ctx.config.attribution.onlineChecks, {
      bundleId: session.bundleId,
      appStoreId: session.appStoreId,
      environment: session.environment,
    });
  })();
  // A configuration error is answered per item, and asked again next time.
  session.verifier.catch(() => {
    session.verifier = undefined;
  });
  return session.verifier;
}

/** Reads, verifies and checks one item against the project's app and environment. */
async function prepare(
  ctx: DataContext,
  session: Session,
  item: StreamItem,
): Promise<Ready | AttributionItemResult> {
  if ('unreadable' in item) return refusedResult(item.index, 'invalid', item.unreadable);
  const value = item.value;
  try {
    let input: VerifiedInput;
    let paidDays: number | undefined;
    const object = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
    if (object && 'signedPayload' in object) {
      const parsed = signedNotificationInputSchema.safeParse(value);
      if (!parsed.success) return refusedResult(item.index, 'invalid', firstIssue(parsed.error));
      input = await (await verifierOf(ctx, session)).notification(parsed.data.signedPayload);
      paidDays = parsed.data.paidDays;
    } else if (object && 'signedTransactionInfo' in object) {
      const parsed = signedTransactionInputSchema.safeParse(value);
      if (!parsed.success) return refusedResult(item.index, 'invalid', firstIssue(parsed.error));
      input = {
        ...(await (
          await verifierOf(ctx, session)
        ).transaction(parsed.data.signedTransactionInfo, parsed.data.signedRenewalInfo)),
        notificationType: parsed.data.notificationType,
        subtype: parsed.data.subtype,
      };
      paidDays = parsed.data.paidDays;
    } else if (object && 'transaction' in object) {
      const parsed = decodedTransactionInputSchema.safeParse(value);
      if (!parsed.success) return refusedResult(item.index, 'invalid', firstIssue(parsed.error));
      input = parsed.data;
      paidDays = parsed.data.paidDays;
    } else {
      const parsed = decodedTransactionSchema.safeParse(value);
      if (!parsed.success) {
        return refusedResult(
          item.index,
          'invalid',
          object
            ? `not a transaction: ${firstIssue(parsed.error)} (send {signedPayload}, {signedTransactionInfo}, {transaction} or a decoded transaction with Apple's field names)`
            : 'not a transaction: expected a JSON object',
        );
      }
      input = { transaction: parsed.data };
    }
    const tx = input.transaction;
    if (tx.bundleId !== session.bundleId) {
      return refusedResult(
        item.index,
        'wrong_app',
        `the transaction is for bundle id ${JSON.stringify(tx.bundleId)}, not the project's app (${session.bundleId})`,
        tx.transactionId,
      );
    }
    if (environmentOf(tx.environment) !== session.environment) {
      return refusedResult(
        item.index,
        'wrong_environment',
        `the transaction is from ${JSON.stringify(tx.environment)}, and ${session.environment} transactions were asked for: send it with environment ${environmentOf(tx.environment) ?? 'production or sandbox'}`,
        tx.transactionId,
      );
    }
    return { index: item.index, input, paidDays };
  } catch (error) {
    if (error instanceof Refused) return refusedResult(item.index, error.code, error.message);
    throw error;
  }
}

async function ensureProducts(
  ctx: DataContext,
  session: Session,
  productIds: Iterable<string>,
): Promise<void> {
  const missing = [...new Set(productIds)].filter(
    (id) => !session.catalog.products.has(id) && !session.unknownProducts.has(id),
  );
  if (missing.length === 0) return;
  const loaded = await loadProducts(ctx.db, session.projectId, missing);
  for (const id of missing) {
    const product = loaded.get(id);
    if (product) session.catalog.products.set(id, product);
    else session.unknownProducts.add(id);
  }
}

const lookupKey = (m: MissingPricePoint) => `${m.productAppleId}/${m.territory}/${m.customerPrice}`;

/**
 * The product's price points in one territory from App Store Connect, inside the key's details
 * budget; the one at the transaction's price is kept. Returns why nothing was found, or null.
 */
async function lookUpPricePoint(
  ctx: AppContext,
  session: Session,
  product: ProductView,
  missing: MissingPricePoint,
): Promise<string | null> {
  const budget = await detailsBudgetOf(ctx).catch(() => undefined);
  if (budget === undefined)
    return "not looked up in App Store Connect: the key's budget (in Redis) is out of reach";
  // The lookups spend the details share of the key: with none, App Store Connect is not asked.
  if (budget === null) return 'not looked up in App Store Connect: DETAILS_BUDGET_SHARE is 0';
  const { client, credentials } = await loadClientForProject(ctx, session.projectId);
  const grant = await budget.reserve(credentials.keyId, 1);
  if (!grant.granted) return "not looked up in App Store Connect: the key's details budget is spent for now";
  const subscription = product.kind === 'auto_renewable_subscription';
  const path = subscription
    ? `/v1/subscriptions/${encodeURIComponent(product.appleId)}/pricePoints`
    : `/v2/inAppPurchases/${encodeURIComponent(product.appleId)}/pricePoints`;
  const before = client.stats().requests;
  let points: Awaited<ReturnType<typeof client.paginate>>;
  try {
    points = await client.paginate(
      path,
      { 'filter[territory]': missing.territory },
      undefined,
      'attribution.pricePoints',
    );
  } finally {
    await budget.settle(credentials.keyId, 1, client.stats().requests - before).catch(() => undefined);
  }
  const text = (v: unknown) => (typeof v === 'string' && isDecimal(v) ? v : null);
  const match = points.data.find((p) => {
    const price = text(p.attributes?.customerPrice);
    return price !== null && sameAmount(price, missing.customerPrice);
  });
  if (!match)
    return `App Store Connect has no price point of ${product.productId} in ${missing.territory} at ${missing.customerPrice} ${missing.currency} either`;
  const point = {
    productAppleId: product.appleId,
    territory: missing.territory,
    pricePointId: match.id,
    currency: missing.currency,
    customerPrice: text(match.attributes?.customerPrice) as string,
    proceeds: text(match.attributes?.proceeds),
    proceedsYear2: text(match.attributes?.proceedsYear2),
  };
  await savePricePoint(ctx.db, session.projectId, point);
  const list = product.observed.get(missing.territory) ?? [];
  list.unshift({ ...point, source: 'app_store_connect' });
  product.observed.set(missing.territory, list);
  return null;
}

const canLookUp = (ctx: DataContext): ctx is AppContext =>
  typeof (ctx as Partial<AppContext>).queue === 'function';

/** One round: items with distinct transaction ids, attributed and stored together. */
async function runRound(
  ctx: DataContext,
  session: Session,
  ready: Ready[],
  summary: AttributionSummary,
): Promise<Map<number, AttributionItemResult>> {
  const out = new Map<number, AttributionItemResult>();
  await ensureProducts(
    ctx,
    session,
    ready.map((r) => r.input.transaction.productId),
  );
  const originals = [...new Set(ready.map((r) => r.input.transaction.originalTransactionId))];
  const stored = await loadHistory(ctx.db, session.projectId, originals);
  // This round's transactions replace their stored selves in the history.
  const historyOf = new Map<string, Map<string, HistoryEntry>>();
  for (const [original, entries] of stored)
    historyOf.set(original, new Map(entries.map((e) => [e.transactionId, e])));
  for (const r of ready) {
    const tx = r.input.transaction;
    const map = historyOf.get(tx.originalTransactionId) ?? new Map();
    map.set(tx.transactionId, historyEntryOf(tx));
    historyOf.set(tx.originalTransactionId, map);
  }
  // The current answers of these transactions: what a reversal gives back, and what is new.
  const current = await loadCurrent(
    ctx.db,
    session.projectId,
    ready.map((r) => r.input.transaction.transactionId),
  );
  const attribute = (r: Ready): AttributeResult =>
    attributeTransaction(
      {
        tx: r.input.transaction,
        history: [...(historyOf.get(r.input.transaction.originalTransactionId)?.values() ?? [])],
        paidDays: r.paidDays,
        notificationType: r.input.notificationType,
        storedRefund: current.get(`${r.input.transaction.transactionId}/refund`)?.answer ?? null,
      },
      session.catalog,
    );
  const results = new Map<number, AttributeResult>(ready.map((r) => [r.index, attribute(r)]));

  // Prices the catalog has never seen: App Store Connect's price points may know them.
  const notes = new Map<number, string>();
  for (const r of ready) {
    const result = results.get(r.index);
    if (!result?.ok || !result.missing) continue;
    const key = lookupKey(result.missing);
    let note = session.lookedUp.get(key);
    if (note === undefined) {
      const product = session.catalog.products.get(r.input.transaction.productId) as ProductView;
      if (!canLookUp(ctx))
        note = 'not looked up in App Store Connect (no queue context: the budget is unknown)';
      else {
        try {
          note = (await lookUpPricePoint(ctx, session, product, result.missing)) ?? '';
          summary.pricePointLookups++;
        } catch (error) {
          note = `App Store Connect could not be asked: ${scrubSecrets(errorMessage(error))}`;
          ctx.logger.warn({ projectId: session.projectId, reason: note }, 'price point lookup failed');
        }
      }
      session.lookedUp.set(key, note);
    }
    if (note === '') results.set(r.index, attribute(r));
    else notes.set(r.index, note);
  }

  const rows: VersionRow[] = [];
  const perItem = new Map<
    number,
    { status: AttributionItemResult['status']; attributions: StoredAttribution[] }
  >();
  for (const r of ready) {
    const result = results.get(r.index) as AttributeResult;
    const tx: DecodedTransaction = r.input.transaction;
    if (!result.ok) {
      out.set(r.index, refusedResult(r.index, result.failure.code, result.failure.message, tx.transactionId));
      continue;
    }
    const history = historyEntryOf(tx);
    let status: AttributionItemResult['status'] = 'duplicate';
    const attributions: StoredAttribution[] = [];
    for (const raw of result.entries) {
      const note = notes.get(r.index);
      const answer =
        note && raw.proceeds === null ? { ...raw, proceedsReason: `${raw.proceedsReason}; ${note}` } : raw;
      const digest = digestOf(answer);
      const existing = current.get(`${tx.transactionId}/${answer.entry}`);
      if (existing && existing.digest === digest) {
        attributions.push({ ...existing.answer, version: existing.version, versionReason: '' });
        continue;
      }
      const version = existing ? existing.version + 1 : 1;
      const reason = existing ? changes(existing.answer, answer) : 'first answer';
      rows.push({ answer, version, reason, digest, paidService: history.paid, offerPeriod: history.offer });
      attributions.push({ ...answer, version, versionReason: reason });
      if (existing) status = 'new_version';
      else if (status === 'duplicate') status = 'stored';
      if (answer.proceeds === null) summary.unknownProceeds++;
    }
    perItem.set(r.index, { status, attributions });
  }
  await insertVersions(ctx.db, session.projectId, rows);
  const idOf = new Map(ready.map((r) => [r.index, r.input.transaction.transactionId]));
  for (const [index, { status, attributions }] of perItem) {
    const transactionId = idOf.get(index) ?? null;
    out.set(index, { index, status, transactionId, attributions, error: null });
  }
  return out;
}

async function runChunk(
  ctx: DataContext,
  session: Session,
  items: StreamItem[],
  summary: AttributionSummary,
): Promise<AttributionItemResult[]> {
  const prepared = await Promise.all(items.map((item) => prepare(ctx, session, item)));
  const results = new Map<number, AttributionItemResult>();
  let pending: Ready[] = [];
  for (const p of prepared) {
    if ('status' in p) results.set(p.index, p);
    else pending.push(p);
  }
  // A transaction twice in a chunk (a purchase, then its refund) is handled in order, one round each.
  while (pending.length > 0) {
    const seen = new Set<string>();
    const round: Ready[] = [];
    const later: Ready[] = [];
    for (const r of pending) {
      const id = r.input.transaction.transactionId;
      if (seen.has(id)) later.push(r);
      else {
        seen.add(id);
        round.push(r);
      }
    }
    for (const [index, result] of await runRound(ctx, session, round, summary)) results.set(index, result);
    pending = later;
  }
  const ordered = items.map((item) => results.get(item.index) as AttributionItemResult);
  for (const r of ordered) {
    summary.items++;
    if (r.status === 'stored') summary.stored++;
    else if (r.status === 'new_version') summary.newVersions++;
    else if (r.status === 'duplicate') summary.duplicates++;
    else {
      summary.refused++;
      const code = r.error?.code ?? 'invalid';
      summary.refusedBy[code] = (summary.refusedBy[code] ?? 0) + 1;
    }
  }
  return ordered;
}

/**
 * Attributes a stream of items of any length, chunk by chunk (memory bounded by the chunk).
 * Refused items are reported, never stored; everything else is stored before its results are
 * handed to `onResults`.
 */
export async function attributeStream(
  ctx: DataContext,
  items: AsyncIterable<StreamItem> | Iterable<StreamItem>,
  options: AttributeStreamOptions,
): Promise<{
  projectId: string;
  environment: 'production' | 'sandbox';
  summary: AttributionSummary;
  results: AttributionItemResult[];
}> {
  const environment = parseInput(environmentSchema, options.environment ?? 'production');
  const session = await openSession(ctx, options.projectId, environment);
  const chunkSize = options.chunkSize ?? 500;
  const summary = emptySummary();
  const collected: AttributionItemResult[] = [];
  let chunk: StreamItem[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const results = await runChunk(ctx, session, chunk, summary);
    chunk = [];
    if (options.collect) collected.push(...results);
    await options.onResults?.(results);
  };
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length >= chunkSize) await flush();
  }
  await flush();
  return { projectId: session.projectId, environment, summary, results: collected };
}

/**
 * What each transaction earned, stored once per transaction: the platform's call for a
 * notification or a fetched history (at most 10,000 per call).
 */
export async function attributeTransactions(
  ctx: DataContext,
  input: AttributeTransactionsInput,
): Promise<AttributeTransactionsOutput> {
  const parsed = parseInput(attributeTransactionsInputSchema, input);
  const { projectId, environment, summary, results } = await attributeStream(
    ctx,
    parsed.transactions.map((value, index) => ({ index, value })),
    { projectId: parsed.projectId, environment: parsed.environment, collect: true },
  );
  return { projectId, environment, results, summary };
}

// ---------------------------------------------------------------------------------------------
// Revenue

/** Customer price and proceeds summed per key and currency from the stored attributions (current versions). */
export async function revenue(ctx: DataContext, input: RevenueInput): Promise<RevenueOutput> {
  const parsed = parseInput(revenueInputSchema, input);
  const project = await requireProject(ctx, parsed.projectId);
  const rows = await sumRevenue(ctx.db, project.id, {
    from: parsed.from,
    to: parsed.to,
    by: parsed.by as RevenueGrouping,
    environment: parsed.environment,
  });
  const totals = await sumRevenue(ctx.db, project.id, {
    from: parsed.from,
    to: parsed.to,
    by: 'product',
    environment: parsed.environment,
  });
  const byCurrency = new Map<
    string,
    { customerPrice: string; proceeds: string; unknownProceeds: number; count: number }
  >();
  for (const r of totals) {
    const t = byCurrency.get(r.currency);
    byCurrency.set(
      r.currency,
      t
        ? {
            customerPrice: add(t.customerPrice, r.customerPrice),
            proceeds: add(t.proceeds, r.proceeds),
            unknownProceeds: t.unknownProceeds + r.unknownProceeds,
            count: t.count + r.count,
          }
        : {
            customerPrice: r.customerPrice,
            proceeds: r.proceeds,
            unknownProceeds: r.unknownProceeds,
            count: r.count,
          },
    );
  }
  return {
    projectId: project.id,
    environment: parsed.environment,
    from: parsed.from.toISOString(),
    to: parsed.to.toISOString(),
    by: parsed.by,
    rows,
    totals: [...byCurrency.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([currency, t]) => ({ currency, ...t })),
  };
}

// ---------------------------------------------------------------------------------------------
// Stored batches and the bulk job

export * from '../attribution/schemas.ts';

export const MAX_BATCH_ITEMS = 1_000_000;

/** Stores a batch for the `attribute-transactions` job, whose payload then only points at it. */
export async function createAttributionBatch(
  ctx: DataContext,
  input: { projectId: string; environment?: 'production' | 'sandbox'; transactions: unknown[] },
): Promise<{ batchId: string; items: number }> {
  const project = await requireProject(ctx, input.projectId);
  const environment = parseInput(environmentSchema, input.environment ?? 'production');
  if (!Array.isArray(input.transactions) || input.transactions.length === 0) {
    throw new InvalidInputError('transactions', 'must hold at least one transaction');
  }
  if (input.transactions.length > MAX_BATCH_ITEMS) {
    throw new InvalidInputError('transactions', `at most ${MAX_BATCH_ITEMS} per batch`);
  }
  return ctx.db.transaction(async (tx) => {
    const [batch] = await tx
      .insert(attributionBatches)
      .values({ projectId: project.id, environment, items: input.transactions.length })
      .returning({ id: attributionBatches.id });
    const id = (batch as { id: string }).id;
    for (let i = 0; i < input.transactions.length; i += 1000) {
      await tx
        .insert(attributionBatchItems)
        .values(
          input.transactions
            .slice(i, i + 1000)
            .map((value, k) => ({ batchId: id, line: i + k, input: value ?? null })),
        );
    }
    return { batchId: id, items: input.transactions.length };
  });
}

/** Reads a stored batch in pages (memory bounded by the page). */
async function* batchItems(ctx: DataContext, batchId: string): AsyncGenerator<StreamItem> {
  let after = -1;
  for (;;) {
    const page = await ctx.db
      .select({ line: attributionBatchItems.line, input: attributionBatchItems.input })
      .from(attributionBatchItems)
      .where(and(eq(attributionBatchItems.batchId, batchId), sql`${attributionBatchItems.line} > ${after}`))
      .orderBy(attributionBatchItems.line)
      .limit(1000);
    for (const row of page) yield { index: row.line, value: row.input };
    if (page.length < 1000) return;
    after = (page.at(-1) as { line: number }).line;
  }
}

/** The `attribute-transactions` job: attributes a stored batch, recording each item's outcome. */
export async function runAttributionBatch(
  ctx: DataContext,
  input: { projectId: string; batchId: string },
): Promise<{ batchId: string; summary: AttributionSummary }> {
  const [batch] = await ctx.db
    .select()
    .from(attributionBatches)
    .where(and(eq(attributionBatches.id, input.batchId), eq(attributionBatches.projectId, input.projectId)));
  if (!batch)
    throw new NotFoundError(`Project ${input.projectId} has no attribution batch ${input.batchId}.`);
  await ctx.db
    .update(attributionBatches)
    .set({ status: 'running' })
    .where(eq(attributionBatches.id, batch.id));
  try {
    const { summary } = await attributeStream(ctx, batchItems(ctx, batch.id), {
      projectId: batch.projectId,
      environment: batch.environment,
      onResults: async (results) => {
        await ctx.db.execute(sql`
          update attribution_batch_items i set result = x.result
            from jsonb_to_recordset(${JSON.stringify(results.map((r) => ({ line: r.index, result: { status: r.status, transactionId: r.transactionId, versions: r.attributions.map((a) => ({ entry: a.entry, version: a.version })), error: r.error } })))}::jsonb)
                 as x(line int, result jsonb)
           where i.batch_id = ${batch.id} and i.line = x.line`);
      },
    });
    await ctx.db
      .update(attributionBatches)
      .set({ status: 'succeeded', summary, finishedAt: new Date() })
      .where(eq(attributionBatches.id, batch.id));
    return { batchId: batch.id, summary };
  } catch (error) {
    // Back to pending with the reason: the job may try again (a transient failure, a rate limit);
    // only its last attempt marks the batch failed (failAttributionBatch).
    await ctx.db
      .update(attributionBatches)
      .set({ status: 'pending', error: failureReason(error) })
      .where(eq(attributionBatches.id, batch.id));
    throw error;
  }
}

/** A batch whose job failed for good: its final state, with the reason. */
export async function failAttributionBatch(
  ctx: DataContext,
  input: { projectId: string; batchId: string },
  error: unknown,
): Promise<void> {
  await ctx.db
    .update(attributionBatches)
    .set({ status: 'failed', error: failureReason(error), finishedAt: new Date() })
    .where(and(eq(attributionBatches.id, input.batchId), eq(attributionBatches.projectId, input.projectId)));
}

/**
 * Stores a batch and queues its attribution (the `attribute-transactions` job, whose payload
 * is only `{projectId, batchId}`). The outcome is read from the batch (`attributionBatch`).
 */
export async function queueAttributionBatch(
  ctx: AppContext,
  input: { projectId: string; environment?: 'production' | 'sandbox'; transactions: unknown[] },
): Promise<{ batchId: string; items: number; job: JobRef }> {
  const batch = await createAttributionBatch(ctx, input);
  const project = await requireProject(ctx, input.projectId);
  const enqueued = await enqueueAttribution((await ctx.queue()).queue, project.id, batch.batchId);
  return { ...batch, job: jobRef(enqueued) };
}

/** A stored batch: its status and, once run, its summary. */
export async function attributionBatch(
  ctx: DataContext,
  input: { projectId: string; batchId: string },
): Promise<{
  batchId: string;
  status: string;
  items: number;
  summary: AttributionSummary | null;
  error: string | null;
}> {
  const project = await requireProject(ctx, input.projectId);
  const id = parseInput(z.uuid({ message: 'batchId must be a UUID' }), input.batchId);
  const [batch] = await ctx.db
    .select()
    .from(attributionBatches)
    .where(and(eq(attributionBatches.id, id), eq(attributionBatches.projectId, project.id)));
  if (!batch) throw new NotFoundError(`Project ${project.id} has no attribution batch ${id}.`);
  return {
    batchId: batch.id,
    status: batch.status,
    items: batch.items,
    summary: (batch.summary as AttributionSummary | null) ?? null,
    error: batch.error,
  };
}
