/*
 * Value equality for catalog data. Raw attributes come back from Postgres `jsonb`, which
 * reorders object keys and drops `undefined`, so comparing them by reference or by plain
 * JSON.stringify would report changes that are not there and make every sync "dirty".
 */

/** A JSON text with object keys sorted at every depth: equal texts mean equal values as `jsonb` stores them. */
export function canonicalJson(value: unknown): string {
  // An absent attribute (undefined) must not equal one Apple sent as null: jsonb keeps the null.
  return JSON.stringify(canonicalise(value)) ?? 'undefined';
}

/** Deep equality by canonical form, so key order and jsonb round trips never count as a change. */
export function sameValue(a: unknown, b: unknown): boolean {
  return Object.is(a, b) || canonicalJson(a) === canonicalJson(b);
}

function canonicalise(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.toJSON();
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : canonicalise(item)));
  // No prototype: an attribute literally named `__proto__` (JSON.parse makes it an own key) stays data.
  const sorted: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value).sort()) {
    const item = ownValue(value as Record<string, unknown>, key);
    // jsonb has no undefined: a key holding it is the same as an absent key once stored.
    if (item !== undefined) sorted[key] = canonicalise(item);
  }
  return sorted;
}

/** Code-unit order, not locale order: the same on every machine and in every Node version. */
export function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/** The attribute's own value; reading `raw[key]` directly would find `Object.prototype` under `__proto__`. */
export function ownValue(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
