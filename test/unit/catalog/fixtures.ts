import type {
  CatalogGroup,
  CatalogProduct,
  GracePeriod,
  StoredCatalog,
  StoredGrace,
  StoredGroup,
  StoredProduct,
} from '../../../src/catalog/model.ts';

/* Small builders so each test states only what it is about. */

export function iap(appleId: string, over: Partial<CatalogProduct> = {}): CatalogProduct {
  return {
    appleId,
    productId: `com.example.${appleId}`,
    kind: 'consumable',
    referenceName: `Coins ${appleId}`,
    state: 'APPROVED',
    familySharable: false,
    contentHosting: false,
    subscriptionPeriod: null,
    groupAppleId: null,
    groupLevel: null,
    raw: { name: `Coins ${appleId}`, productId: `com.example.${appleId}`, inAppPurchaseType: 'CONSUMABLE' },
    ...over,
  };
}

export function sub(
  appleId: string,
  groupAppleId: string,
  over: Partial<CatalogProduct> = {},
): CatalogProduct {
  return iap(appleId, {
    kind: 'auto_renewable_subscription',
    referenceName: `Pro ${appleId}`,
    contentHosting: null,
    subscriptionPeriod: 'ONE_MONTH',
    groupAppleId,
    groupLevel: 1,
    raw: {
      name: `Pro ${appleId}`,
      productId: `com.example.${appleId}`,
      subscriptionPeriod: 'ONE_MONTH',
      groupLevel: 1,
    },
    ...over,
  });
}

export function group(appleId: string, over: Partial<CatalogGroup> = {}): CatalogGroup {
  return { appleId, referenceName: `Group ${appleId}`, raw: { referenceName: `Group ${appleId}` }, ...over };
}

export function grace(over: Partial<GracePeriod> = {}): GracePeriod {
  return {
    appleId: 'g1',
    optIn: true,
    sandboxOptIn: true,
    duration: 'SIXTEEN_DAYS',
    durationDays: 16,
    renewalType: 'ALL_RENEWALS',
    raw: { optIn: true, sandboxOptIn: true, duration: 'SIXTEEN_DAYS', renewalType: 'ALL_RENEWALS' },
    ...over,
  };
}

export function stored<T extends object>(
  model: T,
  removedAt: Date | null = null,
): T & { removedAt: Date | null } {
  return { ...model, removedAt };
}

export function storedCatalog(
  parts: { products?: StoredProduct[]; groups?: StoredGroup[]; grace?: StoredGrace | null } = {},
): StoredCatalog {
  return { products: parts.products ?? [], groups: parts.groups ?? [], grace: parts.grace ?? null };
}

export const T0 = new Date('2025-01-01T00:00:00.000Z');
export const T1 = new Date('2025-02-01T00:00:00.000Z');
