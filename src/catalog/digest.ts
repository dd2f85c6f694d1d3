import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { type Catalog, catalogGroupSchema, catalogProductSchema, gracePeriodSchema } from './model.ts';
import { deriveRules } from './rules.ts';

/*
 * The digest of a fetched catalog: what a sync stores beside the catalog it applied (table
 * catalog_digests), so that the next sync that fetches the same catalog knows the stored one is
 * already it without loading and diffing it (src/sync/unchanged.ts). It covers everything the
 * apply writes from a catalog: every product, group and grace field (raw attributes included) and
 * the revenue-attribution rules derived from it, so rules derived differently by a newer release
 * change the digest too.
 *
 * Equal digests mean "the same catalog"; different digests do not mean "changed" (Apple may send
 * the same attributes in another order): the sync then loads and diffs as ever, finds nothing to
 * write, and stores the new digest.
 */

/**
 * Bump when the apply starts writing something new from an unchanged catalog (a column filled by
 * the apply rather than by a migration): every stored digest is then different, and the next sync
 * of each project takes the full path once.
 */
export const CATALOG_DIGEST_VERSION = 1;

/**
 * Each record as one line: its fields but the raw attributes, as a JSON array in the schema's
 * order (every field the model has, so a field added to it is covered without a change here;
 * an array, not an object, as the keys are the same on every line), then the raw attributes'
 * JSON. JSON text holds no raw newline or NUL, so the separators cannot be confused with content.
 */
function lineWriter<S extends z.ZodObject>(kind: string, schema: S) {
  const fields = Object.keys(schema.shape).filter((key) => key !== 'raw');
  return (record: z.infer<S> & { raw: Record<string, unknown> }, rawJson: RawJson): string =>
    `${kind}${JSON.stringify(fields.map((key) => record[key]))}\u0000${rawJson(record.raw)}\n`;
}

const productLine = lineWriter('p', catalogProductSchema);
const groupLine = lineWriter('g', catalogGroupSchema);
const graceLine = lineWriter('s', gracePeriodSchema);

/** The JSON text of a record's raw attributes. */
export type RawJson = (raw: Record<string, unknown>) => string;

/**
 * sha256 (base64url) of the catalog as normalised, with its derived rules. `rawJson` may hand over
 * texts already made: normalisation serialises every record's raw attributes for its size check,
 * and serialising them again here was most of the digest's CPU.
 */
export function catalogDigest(catalog: Catalog, rawJson: RawJson = (raw) => JSON.stringify(raw)): string {
  const lines = [`v${CATALOG_DIGEST_VERSION}\n`, `r${JSON.stringify(deriveRules(catalog.grace))}\n`];
  for (const product of catalog.products) lines.push(productLine(product, rawJson));
  for (const group of catalog.groups) lines.push(groupLine(group, rawJson));
  lines.push(catalog.grace === null ? 'n\n' : graceLine(catalog.grace, rawJson));
  return createHash('sha256').update(lines.join('')).digest('base64url');
}
