import type { SimCatalog, Simulator } from '../simulator/index.ts';

/*
 * The demo's App Store Connect account: two apps, one with a small but complete catalog (each
 * kind of in-app purchase, a subscription group, billing grace period on for paid renewals in
 * production), written out by hand so the tables read like a real developer's catalog.
 */

export const DEMO_APP_ID = '1574839201';

/** A UTC day `days` from today (YYYY-MM-DD). */
export const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

export function demoCatalog(): SimCatalog {
  return {
    apps: [
      {
        id: DEMO_APP_ID,
        bundleId: 'com.example.sunrise',
        name: 'Sunrise Meditation',
        sku: 'SUNRISE2024',
        primaryLocale: 'en-US',
        iaps: [
          {
            id: '6450000101',
            productId: 'com.example.sunrise.coins100',
            name: '100 Calm Coins',
            inAppPurchaseType: 'CONSUMABLE',
            state: 'APPROVED',
            familySharable: false,
            contentHosting: false,
          },
          {
            id: '6450000102',
            productId: 'com.example.sunrise.removeads',
            name: 'Remove Ads',
            inAppPurchaseType: 'NON_CONSUMABLE',
            state: 'APPROVED',
            familySharable: true,
            contentHosting: false,
          },
          {
            id: '6450000103',
            productId: 'com.example.sunrise.retreatpass',
            name: 'Weekend Retreat Pass',
            inAppPurchaseType: 'NON_RENEWING_SUBSCRIPTION',
            state: 'READY_TO_SUBMIT',
            familySharable: false,
            contentHosting: false,
          },
        ],
        groups: [
          {
            id: '6450000200',
            referenceName: 'Sunrise Premium',
            subscriptions: [
              {
                id: '6450000201',
                productId: 'com.example.sunrise.premium.yearly',
                name: 'Premium Yearly',
                state: 'APPROVED',
                subscriptionPeriod: 'ONE_YEAR',
                groupLevel: 1,
                familySharable: true,
              },
              {
                id: '6450000202',
                productId: 'com.example.sunrise.premium.monthly',
                name: 'Premium Monthly',
                state: 'APPROVED',
                subscriptionPeriod: 'ONE_MONTH',
                groupLevel: 2,
                familySharable: true,
                // Prices (with an increase scheduled in 30 days, existing subscribers preserved) and a free week.
                details: {
                  prices: [
                    { startDate: null, tier: 20 },
                    { startDate: inDays(30), tier: 24, preserved: true },
                  ],
                  offers: [
                    {
                      id: '6450000290',
                      kind: 'introductory',
                      duration: 'ONE_WEEK',
                      offerMode: 'FREE_TRIAL',
                      numberOfPeriods: 1,
                      tier: null,
                      territories: ['USA', 'DEU', 'GBR'],
                    },
                  ],
                  localizations: [],
                  availability: { availableInNewTerritories: false, territories: ['DEU', 'GBR', 'USA'] },
                },
              },
              {
                id: '6450000203',
                productId: 'com.example.sunrise.premium.weekly',
                name: 'Premium Weekly',
                state: 'WAITING_FOR_REVIEW',
                subscriptionPeriod: 'ONE_WEEK',
                groupLevel: 3,
                familySharable: false,
              },
            ],
          },
        ],
        grace: {
          id: '7450000001',
          optIn: true,
          sandboxOptIn: false,
          duration: 'SIXTEEN_DAYS',
          renewalType: 'PAID_TO_PAID_ONLY',
        },
      },
      {
        id: '1574839202',
        bundleId: 'com.example.trailhead',
        name: 'Trailhead Maps',
        sku: 'TRAILHEAD2023',
        primaryLocale: 'en-GB',
        iaps: [
          {
            id: '6450000301',
            productId: 'com.example.trailhead.offlinemaps',
            name: 'Offline Maps',
            inAppPurchaseType: 'NON_CONSUMABLE',
            state: 'APPROVED',
            familySharable: true,
            contentHosting: false,
          },
        ],
        groups: [],
        grace: null,
      },
    ],
  };
}

/**
 * What a developer does in App Store Connect between two syncs: one change of each kind the
 * worker must notice. Returns a line per change, for the demo to print.
 */
export function changeCatalog(sim: Simulator): string[] {
  sim.mutate.addProduct(DEMO_APP_ID, {
    id: '6450000104',
    productId: 'com.example.sunrise.coins500',
    name: '500 Calm Coins',
    inAppPurchaseType: 'CONSUMABLE',
    state: 'READY_TO_SUBMIT',
  });
  sim.mutate.updateProduct('6450000202', { name: 'Premium Monthly (Intro Offer)' });
  sim.mutate.updateProduct('6450000203', { state: 'APPROVED' });
  sim.mutate.removeProduct('6450000103');
  sim.mutate.setGrace(DEMO_APP_ID, {
    duration: 'TWENTY_EIGHT_DAYS',
    renewalType: 'ALL_RENEWALS',
    sandboxOptIn: true,
  });
  return [
    'added the consumable com.example.sunrise.coins500 ("500 Calm Coins")',
    'renamed com.example.sunrise.premium.monthly to "Premium Monthly (Intro Offer)"',
    'com.example.sunrise.premium.weekly passed review (WAITING_FOR_REVIEW → APPROVED)',
    'deleted com.example.sunrise.retreatpass',
    'billing grace period: 16 → 28 days, paid-to-paid only → all renewals, and on in sandbox too',
  ];
}
