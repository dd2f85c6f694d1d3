/*
 * Text Postgres cannot store: a NUL character (text: 22021, jsonb: 22P05) and a lone UTF-16
 * surrogate (not valid Unicode; jsonb refuses its escape). Apple's data should never hold them,
 * but one that does would fail every sync of the project forever, and neither carries anything a
 * person sees in App Store Connect. So they are CLEANED, not rejected: NUL removed, a lone
 * surrogate replaced by U+FFFD, and the sync logs a warning naming the product and the field.
 * Cleaning is deterministic, so the next sync sees the same value and records no change.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point.
const NUL = /\u0000/g;

/** `text` with NULs removed and lone surrogates replaced; the same string when nothing changed. */
export function storableText(text: string): string {
  const withoutNul = text.includes('\u0000') ? text.replace(NUL, '') : text;
  return withoutNul.isWellFormed() ? withoutNul : withoutNul.toWellFormed();
}

export interface Cleaned<T> {
  value: T;
  /** Paths of the strings (values or keys) that were changed, such as `raw.name` or `raw.{key}`. */
  changed: string[];
}

/** Whether a string needs storableText: a NUL or a lone surrogate. */
const needsCleaning = (text: string): boolean => text.includes('\u0000') || !text.isWellFormed();

/**
 * Whether every string and key in a JSON value is storable as it is. Checked before copying: Apple's
 * data practically never needs cleaning, and the copy (with a path string built per key) was 270 KB
 * of the 2.3 MB allocated and 0.17 ms of CPU per unchanged 100-product re-sync (test/bench/sync-cpu.ts).
 */
function isStorable(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'string') {
      if (needsCleaning(current)) return false;
    } else if (Array.isArray(current)) {
      for (const item of current) pending.push(item);
    } else if (current !== null && typeof current === 'object') {
      for (const key of Object.keys(current)) {
        if (needsCleaning(key)) return false;
        pending.push((current as Record<string, unknown>)[key]);
      }
    }
  }
  return true;
}

/*
 * JSON.stringify writes a NUL as `\u0000` and a lone surrogate as `\udXXX` (lowercase hex, ES2019's
 * well-formed JSON.stringify), and no other character as either escape; a paired surrogate is
 * written as itself. So serialised text without them proves every string and key in it storable.
 * A false alarm (a string holding the six characters `\u0000`, written `\\u0000`) only costs the walk.
 */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f])/;

/** Whether the record's own field values, `raw` aside, are storable (its keys are the model's names). */
function fieldsAreStorable(record: Record<string, unknown>): boolean {
  for (const key in record) {
    if (key === 'raw') continue;
    const value = record[key];
    if (
      typeof value === 'string'
        ? needsCleaning(value)
        : value !== null && typeof value === 'object' && !isStorable(value)
    ) {
      return false;
    }
  }
  return true;
}

export interface StorableRecord<T> extends Cleaned<T> {
  /** JSON.stringify(value.raw), for the caller's byte bound (and the catalog digest). */
  rawJson: string;
}

/**
 * A catalog record made storable, with its raw attributes serialised. The serialisation, which the
 * byte bound needs anyway, is checked instead of walking `raw`, and the record's other fields
 * (flat, mostly strings from `raw`) one by one: walking every record with storableJson was about
 * 0.08 ms of the 3.7 ms of CPU that fetching an unchanged 100-product catalog costs.
 */
export function storableRecord<T extends { raw: Record<string, unknown> }>(record: T): StorableRecord<T> {
  const rawJson = JSON.stringify(record.raw);
  if (!UNSTORABLE_ESCAPE.test(rawJson) && fieldsAreStorable(record)) {
    return { value: record, changed: [], rawJson };
  }
  const { value, changed } = storableJson(record);
  return { value, changed, rawJson: value === record ? rawJson : JSON.stringify(value.raw) };
}

/**
 * Cleans every string and object key in a JSON value (depth is bounded before this). When nothing
 * needs cleaning, `value` itself is returned, not a copy.
 */
export function storableJson<T>(value: T, path = ''): Cleaned<T> {
  if (isStorable(value)) return { value, changed: [] };
  const changed: string[] = [];
  const clean = (current: unknown, at: string): unknown => {
    if (typeof current === 'string') {
      const cleaned = storableText(current);
      if (cleaned !== current) changed.push(at || '(value)');
      return cleaned;
    }
    if (Array.isArray(current)) return current.map((item, index) => clean(item, `${at}[${index}]`));
    if (current !== null && typeof current === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(current)) {
        const cleanKey = storableText(key);
        const shownKey = cleanKey.length > 60 ? `${cleanKey.slice(0, 60)}…` : cleanKey;
        if (cleanKey !== key) changed.push(`${at ? `${at}.` : ''}${shownKey} (key)`);
        out[cleanKey] = clean(inner, at ? `${at}.${shownKey}` : shownKey);
      }
      return out;
    }
    return current;
  };
  return { value: clean(value, path) as T, changed };
}
