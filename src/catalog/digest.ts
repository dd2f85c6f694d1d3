import { createHash } from 'node:crypto';
import type { Catalog } from './model.ts';
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

/** sha256 (base64url) of the catalog as normalised, with its derived rules. */
export function catalogDigest(catalog: Catalog): string {
  const text = JSON.stringify({
    v: CATALOG_DIGEST_VERSION,
    products: catalog.products,
    groups: catalog.groups,
    grace: catalog.grace,
    rules: deriveRules(catalog.grace),
  });
  return createHash('sha256').update(text).digest('base64url');
}
