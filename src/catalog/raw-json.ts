/*
 * The JSON text of a record's raw attributes, made once per object: normalisation measures it
 * (the per-record bound, src/sync/normalise.ts) and the catalog digest hashes it (digest.ts), and
 * JSON.stringify of a 100-product catalog's attributes was the larger part of either's CPU. Held
 * weakly by the object, so the text lives exactly as long as the catalog it belongs to. Raw
 * attributes are never changed in place once normalised (a cleaned record gets a new object).
 */
const texts = new WeakMap<object, string>();

export function rawJsonOf(raw: Record<string, unknown>): string {
  let text = texts.get(raw);
  if (text === undefined) {
    text = JSON.stringify(raw);
    texts.set(raw, text);
  }
  return text;
}
