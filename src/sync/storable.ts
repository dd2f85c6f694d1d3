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

/** Cleans every string and object key in a JSON value (iterative: depth is bounded before this). */
export function storableJson<T>(value: T, path = ''): Cleaned<T> {
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
