import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  attributeTransaction,
  type CatalogView,
  classify,
  DAY_MS,
  type HistoryEntry,
  historyEntryOf,
  paidServiceBefore,
} from '../../../src/attribution/attribute.ts';
import type { DecodedTransaction } from '../../../src/attribution/model.ts';
import { add, fromMilliunits, negate, percentOf, sameAmount } from '../../../src/attribution/money.ts';
import { ndjsonItems } from '../../../src/attribution/ndjson.ts';

const day = (iso: string) => new Date(`${iso}T00:00:00Z`).getTime();
const period = (id: string, from: string, days: number, extra: Partial<HistoryEntry> = {}): HistoryEntry => ({
  transactionId: id,
  purchaseDate: day(from),
  expiresDate: day(from) + days * DAY_MS,
  paid: true,
  offer: false,
  ...extra,
});

/** A catalog of one subscription `p` with one price in the USA, in force since always. */
const oneSubscription = (customerPrice: string, proceeds: string, proceedsYear2: string): CatalogView => ({
  currencies: new Map([['USA', 'USD']]),
  rules: [],
  products: new Map([
    [
      'p',
      {
        appleId: '10',
        productId: 'p',
        kind: 'auto_renewable_subscription',
        prices: new Map([
          [
            'USA',
            [
              {
                territory: 'USA',
                startDate: null,
                endDate: null,
                removedAt: null,
                currency: 'USD',
                customerPrice,
                proceeds,
                proceedsYear2,
              },
            ],
          ],
        ]),
        observed: new Map(),
        offers: [],
      },
    ],
  ]),
});

describe('money', () => {
  it('is exact', () => {
    expect(fromMilliunits(1990, 'USD')).toBe('1.99');
    expect(fromMilliunits(300000, 'JPY')).toBe('300');
    expect(fromMilliunits(1000, 'USD')).toBe('1.00');
    expect(fromMilliunits(1995, 'USD')).toBe('1.995');
    expect(add('0.1', '0.2')).toBe('0.3');
    expect(percentOf('9.99', 40_000)).toBe('3.996');
    expect(negate('4.99')).toBe('-4.99');
    expect(sameAmount('9.99', '9.990')).toBe(true);
    expect(sameAmount('9.99', '9.98')).toBe(false);
  });
});

describe('days of paid service', () => {
  it('counts paid periods, not trials, and resets after a gap of more than 60 days', () => {
    const history = [
      period('trial', '2025-01-01', 7, { paid: false, offer: true }),
      period('a', '2025-01-08', 200),
      period('b', '2025-07-27', 165),
    ];
    expect(paidServiceBefore(history, day('2026-01-08'))).toBe(365 * DAY_MS);
    // A year of service ending on 2026-01-01: a renewal 60 days later keeps it, 61 days later does not.
    const year = [period('a', '2025-01-01', 365)];
    expect(paidServiceBefore(year, day('2026-01-01') + 60 * DAY_MS)).toBe(365 * DAY_MS);
    expect(paidServiceBefore(year, day('2026-01-01') + 61 * DAY_MS)).toBe(0);
  });

  it('counts overlapping periods once', () => {
    expect(
      paidServiceBefore([period('a', '2025-01-01', 30), period('b', '2025-01-15', 30)], day('2025-03-01')),
    ).toBe(44 * DAY_MS);
  });
});

describe('classification', () => {
  const tx = (extra: Partial<DecodedTransaction> = {}): DecodedTransaction => ({
    transactionId: '2',
    originalTransactionId: '1',
    bundleId: 'b',
    productId: 'p',
    purchaseDate: day('2026-01-01'),
    environment: 'Production',
    storefront: 'USA',
    type: 'Auto-Renewable Subscription',
    ...extra,
  });
  it('names what a transaction was', () => {
    expect(classify(tx({ transactionReason: 'PURCHASE' }), null)).toBe('first_purchase');
    expect(classify(tx({ offerType: 1 }), null)).toBe('offer_period');
    expect(classify(tx(), period('1', '2025-12-25', 7, { offer: true }))).toBe('conversion');
    expect(classify(tx(), period('1', '2025-12-01', 31))).toBe('renewal');
    expect(classify(tx({ type: 'Consumable' }), null)).toBe('purchase');
  });

  it('a family-shared copy earns nothing; a partial refund takes back its share; a reversal gives it back', () => {
    const catalog = oneSubscription('9.99', '6.99', '8.49');
    const base = tx({ price: 9990, currency: 'USD', expiresDate: day('2026-02-01') });
    const shared = attributeTransaction(
      { tx: { ...base, inAppOwnershipType: 'FAMILY_SHARED' }, history: [] },
      catalog,
    );
    expect(shared.ok && shared.entries[0]).toMatchObject({ customerPrice: '0.00', proceeds: '0.00' });
    const refunded = {
      ...base,
      revocationDate: day('2026-01-10'),
      revocationType: 'REFUND_PRORATED',
      revocationPercentage: 40_000,
    };
    const partial = attributeTransaction({ tx: refunded, history: [historyEntryOf(refunded)] }, catalog);
    expect(
      partial.ok && partial.entries.map((e) => [e.entry, e.customerPrice, e.proceeds, e.revenueDate]),
    ).toEqual([
      ['charge', '9.99', '6.99', '2026-01-01T00:00:00.000Z'],
      ['refund', '-3.996', '-2.796', '2026-01-10T00:00:00.000Z'],
    ]);
    // A reversal gives back what the stored refund took, the prorated share — even when Apple
    // still carries the revocation on the transaction it reverses.
    const storedRefund = { customerPrice: '-3.996', proceeds: '-2.796' };
    const reversed = attributeTransaction(
      {
        tx: { ...refunded, revocationPercentage: undefined, signedDate: day('2026-01-20') },
        history: [],
        notificationType: 'REFUND_REVERSED',
        storedRefund,
      },
      catalog,
    );
    expect(
      reversed.ok && reversed.entries.map((e) => [e.entry, e.customerPrice, e.proceeds, e.revenueDate]),
    ).toEqual([
      ['charge', '9.99', '6.99', '2026-01-01T00:00:00.000Z'],
      ['refund_reversed', '3.996', '2.796', '2026-01-20T00:00:00.000Z'],
    ]);
    // Nothing was refunded (as far as catalog-sync knows): nothing to give back.
    const nothingStored = attributeTransaction(
      { tx: { ...base, signedDate: day('2026-01-20') }, history: [], notificationType: 'REFUND_REVERSED' },
      catalog,
    );
    expect(nothingStored.ok && nothingStored.entries.map((e) => e.entry)).toEqual(['charge']);
    // A family revoke of a transaction whose price the catalog lacks moves no money, exactly.
    const revoked = attributeTransaction(
      {
        tx: { ...base, price: 12340, revocationType: 'FAMILY_REVOKE', revocationDate: day('2026-01-05') },
        history: [],
      },
      catalog,
    );
    expect(revoked.ok && revoked.entries.map((e) => [e.entry, e.proceeds, e.basis])).toEqual([
      ['charge', null, 'unknown_proceeds'],
      ['revoke', '0.00', 'exact'],
    ]);
  });

  it('dates only Apple’s renewal charge to its due date: an upgrade or a resubscription is dated to its purchase', () => {
    const catalog = oneSubscription('99.99', '69.99', '84.99');
    const year = period('1', '2025-01-01', 365);
    const upgrade = attributeTransaction(
      {
        tx: tx({
          price: 99990,
          currency: 'USD',
          purchaseDate: day('2025-03-01'),
          expiresDate: day('2026-03-01'),
          transactionReason: 'PURCHASE',
        }),
        history: [year],
      },
      catalog,
    );
    expect(upgrade.ok && upgrade.entries[0]).toMatchObject({
      revenueDate: '2025-03-01T00:00:00.000Z',
      dueDate: null,
      recoveredInGrace: false,
    });
    // A renewal Apple charged an hour before its due date pays for the period from that date:
    // a year of paid service by then, so the year-2 rate.
    const early = attributeTransaction(
      {
        tx: tx({
          price: 99990,
          currency: 'USD',
          purchaseDate: day('2026-01-01') - 3_600_000,
          expiresDate: day('2027-01-01'),
          transactionReason: 'RENEWAL',
        }),
        history: [year],
      },
      catalog,
    );
    expect(early.ok && early.entries[0]).toMatchObject({
      proceeds: '84.99',
      proceedsRate: 'after_first_year',
      revenueDate: '2026-01-01T00:00:00.000Z',
    });
  });
});

describe('NDJSON input', () => {
  const read = async (chunks: string[], max?: number) => {
    const out = [];
    for await (const item of ndjsonItems(Readable.from(chunks.map((c) => Buffer.from(c))), max))
      out.push(item);
    return out;
  };
  it('splits lines across chunks, skips blank lines, reports bad and truncated ones', async () => {
    expect(await read(['{"a":', '1}\n\n{"b"', ':2}\n{"c":'])).toEqual([
      { index: 0, value: { a: 1 } },
      { index: 2, value: { b: 2 } },
      { index: 3, unreadable: 'line 4 is truncated: the input ended in the middle of a JSON value' },
    ]);
  });
  it('never buffers a line past the limit', async () => {
    const items = await read(['{"a":"', 'x'.repeat(50), 'y'.repeat(50), '"}\n{"b":1}\n'], 64);
    expect(items).toEqual([
      { index: 0, unreadable: 'line 1 is longer than 64 bytes: skipped' },
      { index: 1, value: { b: 1 } },
    ]);
  });
});
