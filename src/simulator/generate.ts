import type { SimApp, SimCatalog, SimGrace, SimGroup, SimIap, SimSubscription } from './catalog.ts';
import { addDetails, type GenerateDetailsOptions } from './generate-details.ts';

/*
 * Seeded catalog generator: the same options and seed give the same catalog, byte for byte.
 * Names, product ids, states, periods and group levels look like a real developer's
 * catalog; a few attributes Apple added recently (multiSeatStatus, marketSettings) appear so
 * clients are tested for tolerance, and `unknownEnumValues` adds states Apple has not
 * published yet.
 */

export interface GenerateAppOptions {
  id?: string;
  bundleId?: string;
  name?: string;
  /** In-app purchases (consumable, non-consumable, non-renewing), mixed. */
  iaps: number;
  groups: number;
  /** Subscriptions per group: one count for all, or one per group (the last repeats). */
  subscriptionsPerGroup: number | number[];
  /** Undefined: generated settings; null: the app has none; an object: those attributes. */
  grace?: (Partial<Omit<SimGrace, 'id'>> & { id?: string }) | null;
}

export interface GenerateCatalogOptions {
  seed?: number;
  apps: GenerateAppOptions[];
  /** Give some products states outside Apple's published enums (default false). */
  unknownEnumValues?: boolean;
  /** Give some optional attributes `null`, as Apple sends for unset values (default false). */
  nullAttributes?: boolean;
  /** Add the 4.5.1 subscription attributes multiSeatStatus and marketSettings (default true). */
  recentAttributes?: boolean;
  /**
   * Catalog details (prices in every territory, offers, localizations, availability): `true`
   * for the defaults, or options (see generate-details.ts). Default: none. Structure ids do
   * not change when details are turned on.
   */
  details?: boolean | GenerateDetailsOptions;
}

/** mulberry32: small, fast, good enough for test data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Apple-like numeric ids (10 digits, starting 14…69), unique within `taken`. */
export function createIdSource(random: () => number, taken: (id: string) => boolean = () => false) {
  const issued = new Set<string>();
  return (): string => {
    for (;;) {
      const id = String(1_400_000_000 + Math.floor(random() * 5_500_000_000));
      if (!issued.has(id) && !taken(id)) {
        issued.add(id);
        return id;
      }
    }
  };
}

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;

function weighted<T extends string>(random: () => number, table: readonly [T, number][]): T {
  const total = table.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random() * total;
  for (const [value, weight] of table) {
    roll -= weight;
    if (roll < 0) return value;
  }
  return table[0]![0];
}

const IAP_STATES: [string, number][] = [
  ['APPROVED', 60],
  ['READY_TO_SUBMIT', 10],
  ['MISSING_METADATA', 8],
  ['WAITING_FOR_REVIEW', 6],
  ['IN_REVIEW', 3],
  ['DEVELOPER_ACTION_NEEDED', 3],
  ['REJECTED', 2],
  ['DEVELOPER_REMOVED_FROM_SALE', 4],
  ['REMOVED_FROM_SALE', 2],
  ['WAITING_FOR_UPLOAD', 1],
  ['PROCESSING_CONTENT', 1],
];
const SUBSCRIPTION_STATES: [string, number][] = [
  ['APPROVED', 65],
  ['READY_TO_SUBMIT', 10],
  ['MISSING_METADATA', 8],
  ['WAITING_FOR_REVIEW', 6],
  ['IN_REVIEW', 3],
  ['DEVELOPER_ACTION_NEEDED', 2],
  ['REJECTED', 2],
  ['DEVELOPER_REMOVED_FROM_SALE', 3],
  ['PENDING_BINARY_APPROVAL', 1],
];
/** States Apple has not published for these resources: clients must keep them, not crash. */
export const UNKNOWN_IAP_STATE = 'READY_FOR_DISTRIBUTION';
export const UNKNOWN_SUBSCRIPTION_STATE = 'PENDING_TERRITORY_APPROVAL';

const CURRENCIES = ['Coins', 'Gems', 'Credits', 'Tokens', 'Stars', 'Crystals', 'Hints', 'Lives'];
const AMOUNTS = [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const UNLOCKS = [
  'Remove Ads',
  'Pro Upgrade',
  'Premium Theme Pack',
  'Dark Mode',
  'Offline Maps',
  'Extra Filters',
  'Sticker Pack',
  'Level Pack',
  'Soundtrack',
  'Expert Mode',
];
const PASSES = [
  'Season Pass',
  'Weekend Pass',
  '30-Day Pass',
  'Tournament Entry',
  'Event Ticket',
  'Course Access',
];
const GROUP_NAMES = [
  'Premium',
  'Pro Access',
  'Family Plan',
  'Creator Tools',
  'Plus',
  'Unlimited',
  'Cloud Storage',
];
const PERIODS: [string, string][] = [
  ['ONE_MONTH', 'Monthly'],
  ['ONE_YEAR', 'Yearly'],
  ['ONE_WEEK', 'Weekly'],
  ['THREE_MONTHS', 'Quarterly'],
  ['SIX_MONTHS', 'Semiannual'],
  ['TWO_MONTHS', 'Bimonthly'],
];
const REVIEW_NOTES = [
  'Tap the store button on the home screen to see this item.',
  'Available after completing the tutorial.',
  'Use the demo account in the review notes to reach the paywall.',
  '',
];
const DURATIONS = ['THREE_DAYS', 'SIXTEEN_DAYS', 'TWENTY_EIGHT_DAYS'];
const RENEWAL_TYPES = ['ALL_RENEWALS', 'PAID_TO_PAID_ONLY'];

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '');

/** A product id unique within the app: `com.example.app.coins100`, then `….coins100.2` on collision. */
function uniqueProductId(used: Used, bundleId: string, stem: string): string {
  return uniqueIn(used.productIds, used.next, `${bundleId}.${stem}`, '.');
}

function uniqueName(used: Used, name: string): string {
  return uniqueIn(used.names, used.next, name, ' ');
}

/** `base`, else `base<sep>2`, `base<sep>3`, … — remembering where each base got to, so it stays O(1). */
function uniqueIn(taken: Set<string>, next: Map<string, number>, base: string, separator: string): string {
  let candidate = base;
  let n = next.get(base) ?? 2;
  if (taken.has(candidate)) {
    do candidate = `${base}${separator}${n++}`;
    while (taken.has(candidate));
    next.set(base, n);
  }
  taken.add(candidate);
  return candidate;
}

interface Context {
  random: () => number;
  nextId: () => string;
  options: GenerateCatalogOptions;
}

function generateIap(ctx: Context, app: { bundleId: string }, index: number, used: Used): SimIap {
  const { random } = ctx;
  // The first three cover each kind, so even a small catalog has all of them.
  const roll = index < 3 ? index / 3 : random();
  let iap: Omit<SimIap, 'id' | 'state'>;
  if (roll < 0.34) {
    const currency = pick(random, CURRENCIES);
    const amount = pick(random, AMOUNTS);
    iap = {
      name: uniqueName(used, `${amount.toLocaleString('en-US')} ${currency}`),
      productId: uniqueProductId(used, app.bundleId, `${slug(currency)}${amount}`),
      inAppPurchaseType: 'CONSUMABLE',
      familySharable: false,
      contentHosting: false,
    };
  } else if (roll < 0.67) {
    const unlock = pick(random, UNLOCKS);
    iap = {
      name: uniqueName(used, unlock),
      productId: uniqueProductId(used, app.bundleId, slug(unlock)),
      inAppPurchaseType: 'NON_CONSUMABLE',
      familySharable: random() < 0.4,
      contentHosting: random() < 0.1,
    };
  } else {
    const pass = pick(random, PASSES);
    iap = {
      name: uniqueName(used, pass),
      productId: uniqueProductId(used, app.bundleId, slug(pass)),
      inAppPurchaseType: 'NON_RENEWING_SUBSCRIPTION',
      familySharable: false,
      contentHosting: false,
    };
  }
  const unknown = ctx.options.unknownEnumValues && random() < 0.1;
  const nullNote = ctx.options.nullAttributes && random() < 0.3;
  return {
    id: ctx.nextId(),
    ...iap,
    state: unknown ? UNKNOWN_IAP_STATE : weighted(random, IAP_STATES),
    reviewNote: nullNote ? null : pick(random, REVIEW_NOTES),
  };
}

interface Used {
  names: Set<string>;
  productIds: Set<string>;
  next: Map<string, number>;
}

function generateGroup(
  ctx: Context,
  app: { bundleId: string },
  index: number,
  size: number,
  used: Used,
): SimGroup {
  const { random } = ctx;
  const base = GROUP_NAMES[index % GROUP_NAMES.length]!;
  const referenceName = uniqueName(used, index < GROUP_NAMES.length ? base : `${base} ${index + 1}`);
  const groupSlug = slug(referenceName);
  const id = ctx.nextId();
  const subscriptions: SimSubscription[] = [];
  for (let i = 0; i < size; i++) {
    const [period, label] = PERIODS[i % PERIODS.length]!;
    const tier = Math.floor(i / PERIODS.length);
    const tierLabel = tier === 0 ? '' : ` Tier ${tier + 1}`;
    const unknown = ctx.options.unknownEnumValues && random() < 0.1;
    const subscription: SimSubscription = {
      id: ctx.nextId(),
      productId: uniqueProductId(
        used,
        app.bundleId,
        `${groupSlug}.${label.toLowerCase()}${tier === 0 ? '' : tier + 1}`,
      ),
      name: uniqueName(used, `${referenceName} ${label}${tierLabel}`),
      state: unknown ? UNKNOWN_SUBSCRIPTION_STATE : weighted(random, SUBSCRIPTION_STATES),
      subscriptionPeriod: period,
      // Level 1 is the highest level of service in the group (Apple's ranking).
      groupLevel: i + 1,
      familySharable: random() < 0.3,
      reviewNote: ctx.options.nullAttributes && random() < 0.3 ? null : pick(random, REVIEW_NOTES),
    };
    if (ctx.options.recentAttributes !== false) {
      subscription.multiSeatStatus = random() < 0.15 ? 'ENABLED' : 'DISABLED';
      subscription.marketSettings = random() < 0.2 ? ['APP_STORE', 'APPLE_BUSINESS'] : ['APP_STORE'];
    }
    subscriptions.push(subscription);
  }
  return { id, referenceName, subscriptions };
}

function generateGrace(ctx: Context, spec: GenerateAppOptions['grace']): SimGrace | null {
  if (spec === null) return null;
  const { random } = ctx;
  return {
    id: spec?.id ?? ctx.nextId(),
    optIn: spec?.optIn ?? random() < 0.7,
    sandboxOptIn: spec?.sandboxOptIn ?? random() < 0.8,
    duration: spec?.duration ?? pick(random, DURATIONS),
    renewalType: spec?.renewalType ?? pick(random, RENEWAL_TYPES),
  };
}

export function generateCatalog(options: GenerateCatalogOptions): SimCatalog {
  const random = seededRandom(options.seed ?? 1);
  const reserved = new Set(
    options.apps.flatMap((app) => [app.id, app.grace?.id].filter((id) => id !== undefined)),
  );
  const ctx: Context = { random, nextId: createIdSource(random, (id) => reserved.has(id)), options };
  const single = options.apps.length === 1;
  const apps = options.apps.map((spec, appIndex): SimApp => {
    const number = appIndex + 1;
    const bundleId = spec.bundleId ?? (single ? 'com.example.app' : `com.example.app${number}`);
    const used: Used = { names: new Set(), productIds: new Set(), next: new Map() };
    const iaps: SimIap[] = [];
    for (let i = 0; i < spec.iaps; i++) iaps.push(generateIap(ctx, { bundleId }, i, used));
    const groups: SimGroup[] = [];
    for (let g = 0; g < spec.groups; g++) {
      const counts = spec.subscriptionsPerGroup;
      const size = Array.isArray(counts) ? (counts[g] ?? counts[counts.length - 1] ?? 0) : counts;
      groups.push(generateGroup(ctx, { bundleId }, g, size, used));
    }
    return {
      id: spec.id ?? ctx.nextId(),
      bundleId,
      name: spec.name ?? (single ? 'Example App' : `Example App ${number}`),
      sku: `SKU${slug(bundleId).toUpperCase().slice(-12)}${number}`,
      primaryLocale: 'en-US',
      iaps,
      groups,
      grace: generateGrace(ctx, spec.grace),
    };
  });
  if (options.details) {
    const taken = new Set<string>();
    for (const app of apps) {
      taken.add(app.id);
      if (app.grace) taken.add(app.grace.id);
      for (const iap of app.iaps) taken.add(iap.id);
      for (const group of app.groups) {
        taken.add(group.id);
        for (const subscription of group.subscriptions) taken.add(subscription.id);
      }
    }
    // A stream of its own: the structure is the same with or without details.
    const detailsRandom = seededRandom(((options.seed ?? 1) ^ 0x5eed5eed) >>> 0);
    const detailsOptions = options.details === true ? {} : options.details;
    addDetails(
      apps,
      detailsOptions,
      detailsRandom,
      createIdSource(detailsRandom, (id) => taken.has(id)),
    );
  }
  return { apps };
}

/** The catalog `catalog-sync simulator` serves when no file is given. */
export function sampleCatalog(): SimCatalog {
  return generateCatalog({
    seed: 42,
    apps: [
      {
        id: '6446671329',
        bundleId: 'com.example.app',
        name: 'Example App',
        iaps: 6,
        groups: 2,
        subscriptionsPerGroup: [4, 2],
        grace: { optIn: true, sandboxOptIn: true, duration: 'SIXTEEN_DAYS', renewalType: 'ALL_RENEWALS' },
      },
    ],
    // Prices in 175 territories, offers, localizations, availability (dates relative to today).
    details: { scheduledShare: 0.5 },
  });
}
