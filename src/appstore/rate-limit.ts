/**
 * Parses Apple's `X-Rate-Limit` header generically: entries `name:int` separated by `;`,
 * several header values comma-joined, e.g.
 * `user-hour-lim:3600;user-hour-rem:3598;, user-minute-lim:150;user-minute-rem:149;`.
 * Names are kept as Apple sends them, so new windows appear without a code change.
 * Returns undefined when the header is absent or holds nothing readable.
 */
export function parseRateLimit(
  header: string | readonly string[] | undefined,
): Record<string, number> | undefined {
  if (header === undefined) return undefined;
  const text = typeof header === 'string' ? header : header.join(',');
  const result: Record<string, number> = {};
  let found = false;
  for (const group of text.split(',')) {
    for (const entry of group.split(';')) {
      const colon = entry.indexOf(':');
      if (colon <= 0) continue;
      const name = entry.slice(0, colon).trim();
      const raw = entry.slice(colon + 1).trim();
      if (!name || !/^-?\d+$/.test(raw)) continue;
      result[name] = Number(raw);
      found = true;
    }
  }
  return found ? result : undefined;
}
