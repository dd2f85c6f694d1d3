/*
 * The 175 App Store territories the simulator serves (`GET /v1/territories`), each with its
 * currency, and the arithmetic that turns a price tier into a territory's customer price and
 * proceeds. Ids are ISO 3166 alpha-3 codes as Apple uses them (Kosovo is Apple's `XKS`);
 * currencies are ISO 4217. Apple bills many smaller storefronts in USD; so does this table.
 * Exchange rates and taxes are plausible round numbers, not Apple's: what matters to clients
 * is the shape (decimal strings, zero-decimal currencies, proceeds below the price).
 */

export interface Territory {
  id: string;
  currency: string;
}

const EUROZONE = [
  'AUT',
  'BEL',
  'HRV',
  'CYP',
  'EST',
  'FIN',
  'FRA',
  'DEU',
  'GRC',
  'IRL',
  'ITA',
  'LVA',
  'LTU',
  'LUX',
  'MLT',
  'NLD',
  'PRT',
  'SVK',
  'SVN',
  'ESP',
  'MNE',
  'XKS',
];

/** Territories billed in their own (non-euro) currency. */
const LOCAL: Record<string, string> = {
  AUS: 'AUD',
  BGR: 'BGN',
  BRA: 'BRL',
  CAN: 'CAD',
  CHE: 'CHF',
  CHL: 'CLP',
  CHN: 'CNY',
  COL: 'COP',
  CZE: 'CZK',
  DNK: 'DKK',
  EGY: 'EGP',
  GBR: 'GBP',
  HKG: 'HKD',
  HUN: 'HUF',
  IDN: 'IDR',
  ISR: 'ILS',
  IND: 'INR',
  JPN: 'JPY',
  KOR: 'KRW',
  KAZ: 'KZT',
  MEX: 'MXN',
  MYS: 'MYR',
  NGA: 'NGN',
  NOR: 'NOK',
  NZL: 'NZD',
  PER: 'PEN',
  PHL: 'PHP',
  PAK: 'PKR',
  POL: 'PLN',
  QAT: 'QAR',
  ROU: 'RON',
  RUS: 'RUB',
  SAU: 'SAR',
  SWE: 'SEK',
  SGP: 'SGD',
  THA: 'THB',
  TUR: 'TRY',
  TWN: 'TWD',
  TZA: 'TZS',
  UKR: 'UAH',
  USA: 'USD',
  VNM: 'VND',
  ZAF: 'ZAR',
  ARE: 'AED',
};

/** Billed in USD. */
const USD_BILLED = [
  'AFG',
  'ALB',
  'DZA',
  'AGO',
  'AIA',
  'ATG',
  'ARG',
  'ARM',
  'AZE',
  'BHS',
  'BHR',
  'BRB',
  'BLR',
  'BLZ',
  'BEN',
  'BMU',
  'BTN',
  'BOL',
  'BIH',
  'BWA',
  'VGB',
  'BRN',
  'BFA',
  'KHM',
  'CMR',
  'CPV',
  'CYM',
  'TCD',
  'COD',
  'COG',
  'CRI',
  'CIV',
  'DMA',
  'DOM',
  'ECU',
  'SLV',
  'SWZ',
  'FJI',
  'GAB',
  'GMB',
  'GEO',
  'GHA',
  'GRD',
  'GTM',
  'GNB',
  'GUY',
  'HND',
  'ISL',
  'IRQ',
  'JAM',
  'JOR',
  'KEN',
  'KWT',
  'KGZ',
  'LAO',
  'LBN',
  'LBR',
  'LBY',
  'MAC',
  'MDG',
  'MWI',
  'MDV',
  'MLI',
  'MRT',
  'MUS',
  'FSM',
  'MDA',
  'MNG',
  'MSR',
  'MAR',
  'MOZ',
  'MMR',
  'NAM',
  'NRU',
  'NPL',
  'NIC',
  'NER',
  'MKD',
  'OMN',
  'PLW',
  'PAN',
  'PNG',
  'PRY',
  'RWA',
  'KNA',
  'LCA',
  'VCT',
  'STP',
  'SEN',
  'SRB',
  'SYC',
  'SLE',
  'SLB',
  'LKA',
  'SUR',
  'TJK',
  'TON',
  'TTO',
  'TUN',
  'TKM',
  'TCA',
  'UGA',
  'URY',
  'UZB',
  'VUT',
  'VEN',
  'YEM',
  'ZMB',
  'ZWE',
];

/** Local currency units per US dollar (round, plausible). */
const RATES: Record<string, number> = {
  USD: 1,
  EUR: 0.92,
  AUD: 1.5,
  BGN: 1.8,
  BRL: 5.5,
  CAD: 1.37,
  CHF: 0.9,
  CLP: 950,
  CNY: 7.2,
  COP: 4000,
  CZK: 23,
  DKK: 6.9,
  EGP: 48,
  GBP: 0.79,
  HKD: 7.8,
  HUF: 360,
  IDR: 16000,
  ILS: 3.7,
  INR: 84,
  JPY: 150,
  KRW: 1350,
  KZT: 480,
  MXN: 18,
  MYR: 4.5,
  NGN: 1500,
  NOK: 10.7,
  NZD: 1.65,
  PEN: 3.7,
  PHP: 57,
  PKR: 280,
  PLN: 4,
  QAR: 3.64,
  RON: 4.6,
  RUB: 92,
  SAR: 3.75,
  SEK: 10.5,
  SGD: 1.34,
  THB: 35,
  TRY: 33,
  TWD: 32,
  TZS: 2600,
  UAH: 41,
  VND: 25000,
  ZAR: 18.5,
  AED: 3.67,
};

/** Every territory, sorted by id (the order Apple's collection and keyset paging use). */
export const TERRITORIES: readonly Territory[] = [
  ...EUROZONE.map((id) => ({ id, currency: 'EUR' })),
  ...Object.entries(LOCAL).map(([id, currency]) => ({ id, currency })),
  ...USD_BILLED.map((id) => ({ id, currency: 'USD' })),
].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

export const TERRITORY_COUNT = TERRITORIES.length;

export const TERRITORIES_BY_ID: ReadonlyMap<string, Territory> = new Map(TERRITORIES.map((t) => [t.id, t]));

export const TERRITORY_IDS: readonly string[] = TERRITORIES.map((t) => t.id);

/**
 * The first `count` territories for a product: the USA, the big storefronts, then the rest in
 * id order, so "available in 40 territories" always includes the ones a test is likely to name.
 */
const PREFERRED = [
  'USA',
  'GBR',
  'DEU',
  'FRA',
  'JPN',
  'CAN',
  'AUS',
  'ITA',
  'ESP',
  'NLD',
  'BRA',
  'KOR',
  'CHN',
  'IND',
  'MEX',
];
const ORDERED = [...PREFERRED, ...TERRITORY_IDS.filter((id) => !PREFERRED.includes(id))];
export function territorySelection(count: number): string[] {
  return ORDERED.slice(0, Math.max(0, Math.min(count, ORDERED.length))).sort();
}

/** Apple's price points as US dollar amounts: the tier number is the index + 1. */
export const PRICE_TIERS: readonly number[] = (() => {
  const tiers: number[] = [];
  for (let v = 0.29; v < 1; v += 0.1) tiers.push(v);
  for (let v = 1.49; v < 10; v += 0.5) tiers.push(v);
  for (let v = 10.99; v < 50; v += 1) tiers.push(v);
  for (let v = 54.99; v < 200; v += 5) tiers.push(v);
  for (let v = 209.99; v < 1000; v += 10) tiers.push(v);
  return tiers.map((v) => Math.round(v * 100) / 100);
})();

export const TIER_COUNT = PRICE_TIERS.length;

/** The tier whose US price is closest to `usd`. */
export function tierFor(usd: number): number {
  let best = 1;
  for (let i = 0; i < PRICE_TIERS.length; i++) {
    if (Math.abs((PRICE_TIERS[i] as number) - usd) < Math.abs((PRICE_TIERS[best - 1] as number) - usd))
      best = i + 1;
  }
  return best;
}

const decimalsOf = (currency: string) => ((RATES[currency] ?? 1) >= 20 ? 0 : 2);

/** Value-added tax included in the customer price (US and Canadian prices exclude sales tax). */
function taxOf(territory: Territory): number {
  if (territory.id === 'USA' || territory.id === 'CAN') return 0;
  if (territory.currency === 'EUR' || territory.currency === 'GBP') return 0.2;
  return 0.1;
}

/** A price shaped like a real storefront's: …9 endings, or two significant digits without decimals. */
function storefrontPrice(usd: number, currency: string): number {
  const rate = RATES[currency] ?? 1;
  if (rate === 1) return usd;
  const local = usd * rate;
  if (decimalsOf(currency) === 0) {
    const magnitude = 10 ** Math.max(0, Math.floor(Math.log10(local)) - 1);
    return Math.max(magnitude, Math.round(local / magnitude) * magnitude);
  }
  if (local < 10) return Math.max(0.09, Math.round(local * 10) / 10 - 0.01);
  return Math.round(local) - 0.01;
}

export interface PriceAmounts {
  customerPrice: string;
  proceeds: string;
  /** What the developer earns after a subscriber's first year (85 % instead of 70 %). */
  proceedsYear2: string;
}

/** Customer price and proceeds of `tier` (1-based) in `territoryId`, as Apple's decimal strings. */
export function amountsFor(tier: number, territoryId: string): PriceAmounts {
  const territory = TERRITORIES_BY_ID.get(territoryId) ?? { id: territoryId, currency: 'USD' };
  const usd = PRICE_TIERS[Math.min(Math.max(tier, 1), TIER_COUNT) - 1] as number;
  const decimals = decimalsOf(territory.currency);
  const price = storefrontPrice(usd, territory.currency);
  const net = price / (1 + taxOf(territory));
  return {
    customerPrice: price.toFixed(decimals),
    proceeds: (net * 0.7).toFixed(decimals),
    proceedsYear2: (net * 0.85).toFixed(decimals),
  };
}
