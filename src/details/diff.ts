import type { ChangeEntity } from '../../db/schema.ts';
import { sameValue } from '../catalog/canonical.ts';
import type { Change } from '../catalog/diff.ts';
import {
  type DetailAvailability,
  type DetailLocalization,
  type DetailMetadata,
  type DetailOffer,
  type DetailPrice,
  type MetadataKind,
  metadataKinds,
  type ProductDetails,
  priceKey,
  type StoredDetails,
} from './model.ts';

/*
 * The diff between a product's stored details and what App Store Connect returned. Pure.
 *
 * Prices are versions in time, and Apple lists only the price in force today and the scheduled
 * ones (earlier ones drop out), so a stored price missing from the fetch is not automatically
 * "removed":
 * - it started on or before today and the territory now has a later started price: it was
 *   superseded by time — history, kept as is, no change;
 * - it had not started yet: the scheduled change was cancelled — `removed`;
 * - otherwise (the territory is no longer priced at all): the price ended — `removed`.
 * Offers, localizations and the availability are keyed by Apple's id and compared as wholes.
 */

export interface DetailsDiff {
  prices: Change<DetailPrice>[];
  offers: Change<DetailOffer>[];
  localizations: Change<DetailLocalization>[];
  availability: Change<DetailAvailability> | null;
  /** Versions, plan availabilities, promoted purchase, review screenshot, images. */
  metadata: Change<DetailMetadata>[];
}

type WithRemoved<T> = T & { removedAt: Date | null };

function strip<T>(stored: WithRemoved<T>): T {
  const { removedAt: _removedAt, ...rest } = stored;
  return rest as T;
}

function changedFields<T extends object>(before: T, after: T): string[] {
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...fields]
    .filter(
      (field) =>
        !sameValue((before as Record<string, unknown>)[field], (after as Record<string, unknown>)[field]),
    )
    .sort();
}

/** Compares one keyed entity kind; `keep(stored)` says a stored entity missing from the fetch is not removed. */
function diffKeyed<T extends object>(
  entity: ChangeEntity,
  stored: readonly WithRemoved<T>[],
  fetched: readonly T[],
  key: (item: T) => string,
  entityId: (item: T) => string,
  keep: (stored: T) => boolean = () => false,
): Change<T>[] {
  const storedByKey = new Map(stored.map((s) => [key(s), s]));
  const fetchedKeys = new Set<string>();
  const changes: Change<T>[] = [];
  for (const item of fetched) {
    const k = key(item);
    fetchedKeys.add(k);
    const previous = storedByKey.get(k);
    if (!previous) {
      changes.push({
        entity,
        entityId: entityId(item),
        action: 'added',
        changedFields: [],
        before: null,
        after: item,
      });
      continue;
    }
    const before = strip(previous);
    const fields = changedFields(before, item);
    if (previous.removedAt !== null) {
      changes.push({
        entity,
        entityId: entityId(item),
        action: 'restored',
        changedFields: fields,
        before,
        after: item,
      });
    } else if (fields.length > 0) {
      changes.push({
        entity,
        entityId: entityId(item),
        action: 'updated',
        changedFields: fields,
        before,
        after: item,
      });
    }
  }
  for (const previous of stored) {
    const k = key(previous);
    if (fetchedKeys.has(k) || previous.removedAt !== null) continue;
    const before = strip(previous);
    if (keep(before)) continue;
    changes.push({
      entity,
      entityId: entityId(before),
      action: 'removed',
      changedFields: [],
      before,
      after: null,
    });
  }
  return changes.sort((a, b) => (a.entityId < b.entityId ? -1 : a.entityId > b.entityId ? 1 : 0));
}

export const priceEntityId = (
  productAppleId: string,
  price: { territory: string; startDate: string | null },
) => `${productAppleId}/${priceKey(price)}`;

export function diffDetails(stored: StoredDetails, fetched: ProductDetails, today: string): DetailsDiff {
  const product = fetched.productAppleId;
  // Latest start date (≤ today) fetched per territory: what superseded older versions.
  const startedByTerritory = new Map<string, string>();
  for (const price of fetched.prices) {
    const start = price.startDate ?? '';
    if (start > today) continue;
    const current = startedByTerritory.get(price.territory);
    if (current === undefined || start > current) startedByTerritory.set(price.territory, start);
  }
  const supersededByTime = (price: DetailPrice) => {
    const start = price.startDate ?? '';
    if (start > today) return false;
    const later = startedByTerritory.get(price.territory);
    return later !== undefined && later > start;
  };
  return {
    prices: diffKeyed(
      'price',
      stored.prices,
      fetched.prices,
      priceKey,
      (p) => priceEntityId(product, p),
      supersededByTime,
    ),
    offers: diffKeyed(
      'offer',
      stored.offers,
      fetched.offers,
      (o) => o.appleId,
      (o) => o.appleId,
    ),
    localizations: diffKeyed(
      'localization',
      stored.localizations,
      fetched.localizations,
      (l) => l.appleId,
      (l) => l.appleId,
    ),
    availability: diffAvailability(product, stored.availability, fetched.availability),
    metadata: diffMetadata(stored.metadata, fetched.metadata, fetched.partialKinds),
  };
}

/**
 * Metadata records per kind (the kind is the change entity), keyed by Apple's id. A kind Apple
 * capped (`partialKinds`) keeps its unlisted records: not seen is not removed there.
 */
export function diffMetadata(
  stored: readonly WithRemoved<DetailMetadata>[],
  fetched: readonly DetailMetadata[],
  partialKinds: readonly MetadataKind[],
): Change<DetailMetadata>[] {
  return metadataKinds.flatMap((kind) =>
    diffKeyed(
      kind,
      stored.filter((m) => m.kind === kind),
      fetched.filter((m) => m.kind === kind),
      (m) => m.appleId,
      (m) => m.appleId,
      () => partialKinds.includes(kind),
    ),
  );
}

function diffAvailability(
  product: string,
  stored: WithRemoved<DetailAvailability> | null,
  fetched: DetailAvailability | null,
): Change<DetailAvailability> | null {
  const [change] = diffKeyed(
    'availability',
    stored ? [stored] : [],
    fetched ? [fetched] : [],
    () => product,
    () => product,
  );
  return change ?? null;
}

export function isEmptyDetailsDiff(diff: DetailsDiff): boolean {
  return (
    diff.prices.length === 0 &&
    diff.offers.length === 0 &&
    diff.localizations.length === 0 &&
    diff.availability === null &&
    diff.metadata.length === 0
  );
}

/** `<entity>.<action>` counts of any list of changes. */
export function countChanges(changes: readonly Change<unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const change of changes) {
    const key = `${change.entity}.${change.action}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** `<entity>.<action>` counts, like the structure's. */
export function countDetailChanges(diff: DetailsDiff): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const change of [
    ...diff.prices,
    ...diff.offers,
    ...diff.localizations,
    ...(diff.availability ? [diff.availability] : []),
    ...diff.metadata,
  ] as Change<unknown>[]) {
    const key = `${change.entity}.${change.action}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
