import { renderTable } from '../format/table.ts';
import type { CatalogSync } from '../index.ts';
import {
  type GeneratedTransaction,
  milliunits,
  notificationTypeOf,
  type SigningChain,
  signedNotification,
  subscriberHistory,
} from '../simulator/transactions.ts';

/*
 * The money part of the demo: the prices in force and the scheduled increase, then a subscriber's
 * notifications as Apple signs them (free week → conversion → renewals, one recovered in grace)
 * attributed through the public API, and the month's revenue summed from what was stored.
 */

const PRODUCT = 'com.example.sunrise.premium.monthly';
const DAY = 86_400_000;

export async function showMoney(
  api: CatalogSync,
  out: (line?: string) => void,
  input: { projectId: string; bundleId: string; appStoreId: string; chain: SigningChain },
): Promise<void> {
  const { projectId } = input;
  const prices = await api.listPrices({ projectId, productId: PRODUCT });
  out(
    `  Prices of ${PRODUCT} (listPrices): in force, and the increase scheduled for existing and new subscribers:`,
  );
  out(
    indent(
      renderTable(
        ['territory', 'currency', 'price', 'proceeds', 'after a year', 'from', 'until'],
        prices.prices.map((p) => [
          p.territory,
          p.currency,
          p.customerPrice,
          p.proceeds,
          p.proceedsYear2,
          p.from ?? 'initial',
          p.until ?? (p.scheduled ? 'scheduled' : ''),
        ]),
      ),
    ),
  );
  const usa = prices.prices.find((p) => p.territory === 'USA' && !p.scheduled);
  if (!usa?.customerPrice) throw new Error('The demo catalog has no price in force in the USA.');

  // A subscriber who started 100 days ago: a free week, then monthly; the third renewal's payment
  // failed and Apple recovered it 3 days later, inside the 16 days of grace.
  const start = new Date(Math.floor((Date.now() - 100 * DAY) / DAY) * DAY + 9 * 3_600_000);
  const history: GeneratedTransaction[] = subscriberHistory({
    bundleId: input.bundleId,
    productId: PRODUCT,
    storefront: 'USA',
    currency: 'USD',
    start,
    trialDays: 7,
    periodDays: 30,
    price: usa.customerPrice,
    periods: 3,
    graceRecovery: { period: 2, days: 3 },
    idPrefix: '70000',
  });
  if (milliunits(usa.customerPrice) <= 0) throw new Error('unexpected free price');
  const notifications = history.map((transaction, i) =>
    signedNotification(input.chain, {
      ...notificationTypeOf(transaction, i),
      transaction,
      appAppleId: Number(input.appStoreId),
      bundleId: input.bundleId,
    }),
  );
  out(
    `  Apple POSTs ${notifications.length} signed notifications (x5c chain, ES256); the platform passes each body to attributeTransactions:`,
  );
  const result = await api.attributeTransactions({ projectId, transactions: notifications });
  const rows = result.results.flatMap((r) =>
    r.status === 'refused'
      ? [[r.index + 1, 'refused', r.error?.message ?? '', '', '', '', '', '']]
      : r.attributions.map((a) => [
          a.transactionId,
          a.kind,
          `${a.customerPrice ?? '?'} ${a.currency}`,
          a.proceeds ?? 'unknown',
          a.proceedsRate ?? '',
          a.purchaseDate.slice(0, 10),
          `${a.revenueDate.slice(0, 10)}${a.recoveredInGrace ? ' (due date: recovered in grace)' : ''}`,
          a.rule ? `${a.rule.renewalKind}, ${a.rule.graceDays} d${a.rule.assumed ? ', assumed' : ''}` : '',
        ]),
  );
  out(
    indent(
      renderTable(
        [
          'transaction',
          'kind',
          'customer price',
          'proceeds',
          'rate',
          'charged',
          'revenue date',
          'grace rule',
        ],
        rows,
      ),
    ),
  );
  out(
    `  ${result.summary.stored} stored (transaction_attributions); sent again they would be duplicates and change nothing.`,
  );
  const from = new Date(start.getTime());
  from.setUTCDate(1);
  from.setUTCHours(0, 0, 0, 0);
  const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 4, 1));
  const revenue = await api.revenue({ projectId, from, to, by: 'month' });
  out(
    `  revenue({ by: 'month' }) from ${revenue.from.slice(0, 10)} to ${revenue.to.slice(0, 10)}, summed from the stored attributions:`,
  );
  out(
    indent(
      renderTable(
        ['month', 'currency', 'customer price', 'proceeds', 'count'],
        revenue.rows.map((r) => [r.key, r.currency, r.customerPrice, r.proceeds, r.count]),
      ),
    ),
  );
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
