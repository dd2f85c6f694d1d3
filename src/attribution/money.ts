/*
 * Exact decimal money as strings (never floats): Apple's transaction `price` is an integer in
 * milliunits, App Store Connect's amounts are decimal strings, Postgres stores `numeric`. The
 * arithmetic here is on bigint at a common scale, so 0.1 + 0.2 is 0.3 and a 40 % refund of 9.99
 * is exactly 3.996.
 */

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

interface Scaled {
  value: bigint;
  scale: number;
}

export function isDecimal(text: string): boolean {
  return DECIMAL.test(text);
}

function parse(text: string): Scaled {
  const match = DECIMAL.exec(text.trim());
  if (!match) throw new RangeError(`not a decimal amount: ${JSON.stringify(text)}`);
  const fraction = match[3] ?? '';
  const value = BigInt(`${match[2]}${fraction}`);
  return { value: match[1] === '-' ? -value : value, scale: fraction.length };
}

const rescale = (a: Scaled, scale: number): bigint => a.value * 10n ** BigInt(scale - a.scale);

function format(value: bigint, scale: number, minScale: number): string {
  const negative = value < 0n;
  let digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  let s = scale;
  // Trailing zeros beyond what the currency shows say nothing.
  while (s > minScale && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    s--;
  }
  const text = s === 0 ? digits : `${digits.slice(0, -s)}.${digits.slice(-s)}`;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

const fractionDigits = new Map<string, number>();

/** The digits a currency shows after the decimal point (ISO 4217 through Intl: JPY 0, USD 2, BHD 3). */
export function currencyDigits(currency: string): number {
  let digits = fractionDigits.get(currency);
  if (digits === undefined) {
    try {
      digits =
        new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
          .maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    fractionDigits.set(currency, digits);
  }
  return digits;
}

/** Apple's milliunits (`1990` → `1.99`; `300000` JPY → `300`), shown with the currency's digits at least. */
export function fromMilliunits(milliunits: number, currency: string): string {
  if (!Number.isSafeInteger(milliunits))
    throw new RangeError(`not a whole number of milliunits: ${milliunits}`);
  return format(BigInt(milliunits), 3, Math.min(3, currencyDigits(currency)));
}

/** Numerically equal (`9.99` = `9.990`). */
export function sameAmount(a: string, b: string): boolean {
  const x = parse(a);
  const y = parse(b);
  const scale = Math.max(x.scale, y.scale);
  return rescale(x, scale) === rescale(y, scale);
}

export function negate(amount: string): string {
  const a = parse(amount);
  return format(-a.value, a.scale, a.scale);
}

export function add(a: string, b: string): string {
  const x = parse(a);
  const y = parse(b);
  const scale = Math.max(x.scale, y.scale);
  return format(rescale(x, scale) + rescale(y, scale), scale, Math.min(x.scale, y.scale));
}

/**
 * `amount × milliPercent / 100000` exactly (Apple's `revocationPercentage`: 40 % is 40000): the
 * result keeps every digit it needs; a division by 10^5 always terminates.
 */
export function percentOf(amount: string, milliPercent: number): string {
  if (!Number.isSafeInteger(milliPercent)) throw new RangeError(`not a whole percentage: ${milliPercent}`);
  const a = parse(amount);
  return format(a.value * BigInt(milliPercent), a.scale + 5, a.scale);
}

/** Zero in a currency's digits (`0.00`, `0` for JPY). */
export function zero(currency: string): string {
  const digits = currencyDigits(currency);
  return digits === 0 ? '0' : `0.${'0'.repeat(digits)}`;
}
