import { AppError } from '../errors.ts';
import { compareStrings, ownValue, sameValue } from './canonical.ts';
import {
  type Catalog,
  type CatalogGroup,
  type CatalogProduct,
  catalogGroupSchema,
  catalogProductSchema,
  type GracePeriod,
  gracePeriodSchema,
  type StoredCatalog,
  type StoredGrace,
} from './model.ts';
import type { ChangeAction, ChangeEntity } from './vocabulary.ts';

/*
 * The diff between what Postgres holds and what App Store Connect returned. Pure, so the
 * sync can compute it outside the transaction and the property "apply(A, diff(A, B)) has
 * B's present part" can be tested on random catalogs without a database.
 */

export interface Change<T> {
  entity: ChangeEntity;
  /** Apple's id: stable across renames, so a rename is an update, not a remove plus an add. */
  entityId: string;
  action: ChangeAction;
  /** Model field names in model order, then `raw.<attribute>` for raw-only differences, sorted. */
  changedFields: string[];
  /** The model as stored (without removedAt); null for `added`. */
  before: T | null;
  /** The model as fetched; null for `removed`. */
  after: T | null;
}

export interface CatalogDiff {
  products: Change<CatalogProduct>[];
  groups: Change<CatalogGroup>[];
  grace: Change<GracePeriod> | null;
}

interface Keyed {
  appleId: string;
  raw: Record<string, unknown>;
}
type Stored<T> = T & { removedAt: Date | null };

/** How one entity kind is compared: which model fields count, and which raw attribute feeds which field. */
interface EntitySpec<T> {
  entity: ChangeEntity;
  fields: readonly (keyof T & string)[];
  /** Apple attribute → model field it is normalised into; a difference there is already reported by the field. */
  rawToField: Readonly<Record<string, string>>;
}

/**
 * Field lists come from the zod shapes so a field added to the model is diffed without
 * touching this file. The key (appleId) is excluded where it identifies the entity;
 * raw is compared per attribute instead of as one blob.
 */
function modelFields<T>(shape: Record<string, unknown>, exclude: readonly string[]): (keyof T & string)[] {
  return Object.keys(shape).filter((field) => !exclude.includes(field)) as (keyof T & string)[];
}

const productSpec: EntitySpec<CatalogProduct> = {
  entity: 'product',
  fields: modelFields<CatalogProduct>(catalogProductSchema.shape, ['appleId', 'raw']),
  rawToField: {
    name: 'referenceName',
    productId: 'productId',
    inAppPurchaseType: 'kind',
    state: 'state',
    familySharable: 'familySharable',
    contentHosting: 'contentHosting',
    subscriptionPeriod: 'subscriptionPeriod',
    groupLevel: 'groupLevel',
  },
};

const groupSpec: EntitySpec<CatalogGroup> = {
  entity: 'subscription_group',
  fields: modelFields<CatalogGroup>(catalogGroupSchema.shape, ['appleId', 'raw']),
  rawToField: { referenceName: 'referenceName' },
};

/* An app has at most one grace setting, so it is keyed by the project, and a new Apple id is a field change. */
const graceSpec: EntitySpec<GracePeriod> = {
  entity: 'grace_period',
  fields: modelFields<GracePeriod>(gracePeriodSchema.shape, ['raw']),
  rawToField: {
    optIn: 'optIn',
    sandboxOptIn: 'sandboxOptIn',
    duration: 'duration',
    renewalType: 'renewalType',
  },
};

/**
 * Which fields differ, in a fixed order so change rows and tests are stable: model fields in
 * spec order, then raw attributes in code-unit order. Only the differing attributes are
 * collected and sorted (not the union of both key sets): an unchanged product, the common case,
 * allocates next to nothing here (this and changeOf were 160 KB of the 2.3 MB an unchanged 100-product
 * re-sync allocated, test/bench/sync-cpu.ts).
 */
function changedFields<T extends Keyed>(spec: EntitySpec<T>, before: T, after: T): string[] {
  const changed: string[] = spec.fields.filter((field) => !sameValue(before[field], after[field]));
  const attributes: string[] = [];
  for (const attribute of Object.keys(before.raw)) {
    if (!sameValue(ownValue(before.raw, attribute), ownValue(after.raw, attribute))) {
      attributes.push(attribute);
    }
  }
  for (const attribute of Object.keys(after.raw)) {
    if (!Object.hasOwn(before.raw, attribute) && !sameValue(undefined, ownValue(after.raw, attribute))) {
      attributes.push(attribute);
    }
  }
  if (attributes.length === 0) return changed;
  for (const attribute of attributes.sort(compareStrings)) {
    const field = Object.hasOwn(spec.rawToField, attribute) ? spec.rawToField[attribute] : undefined;
    if (field === undefined || !changed.includes(field)) changed.push(`raw.${attribute}`);
  }
  return changed;
}

function withoutRemovedAt<T>(stored: Stored<T>): T {
  const { removedAt: _removedAt, ...model } = stored;
  return model as T;
}

/**
 * Two rows with one Apple id would make the result depend on input order and break
 * "apply gives B"; in a fetch it means pages shifted while the catalog was edited.
 */
function indexById<T extends { appleId: string }>(rows: readonly T[], entity: ChangeEntity, side: string) {
  const byId = new Map<string, T>();
  for (const row of rows) {
    if (byId.has(row.appleId)) {
      throw new AppError(
        'inconsistent_catalog',
        `The ${side} catalog lists ${entity} ${row.appleId} twice, so it cannot be diffed. ` +
          'The catalog probably changed while it was being read; run the sync again.',
        { retryable: true },
      );
    }
    byId.set(row.appleId, row);
  }
  return byId;
}

/** The change for one entity, or null when there is nothing to record (including "removed and still absent"). */
function changeOf<T extends Keyed>(
  spec: EntitySpec<T>,
  entityId: string,
  stored: Stored<T> | undefined,
  fetched: T | undefined,
): Change<T> | null {
  // The model without removedAt is built only for a change that carries it (an unchanged entity,
  // the common case, needs no copy): the comparison reads only spec.fields and raw.
  const make = (action: ChangeAction, fields: string[]): Change<T> => ({
    entity: spec.entity,
    entityId,
    action,
    changedFields: fields,
    before: stored === undefined ? null : withoutRemovedAt(stored),
    after: fetched ?? null,
  });
  if (fetched === undefined) return stored?.removedAt === null ? make('removed', []) : null;
  if (stored === undefined) return make('added', []);
  const fields = changedFields(spec, stored, fetched);
  if (stored.removedAt != null) return make('restored', fields);
  return fields.length > 0 ? make('updated', fields) : null;
}

function diffKeyed<T extends Keyed>(
  spec: EntitySpec<T>,
  stored: readonly Stored<T>[],
  fetched: readonly T[],
): Change<T>[] {
  const storedById = indexById(stored, spec.entity, 'stored');
  const fetchedById = indexById(fetched, spec.entity, 'fetched');
  const ids = [...new Set([...storedById.keys(), ...fetchedById.keys()])].sort(compareStrings);
  return ids
    .map((id) => changeOf(spec, id, storedById.get(id), fetchedById.get(id)))
    .filter((change): change is Change<T> => change !== null);
}

/* The grace change is identified by the Apple id it has now (or had, when it disappeared). */
function diffGrace(stored: StoredGrace | null, fetched: GracePeriod | null): Change<GracePeriod> | null {
  const entityId = fetched?.appleId ?? stored?.appleId;
  if (entityId === undefined) return null;
  return changeOf(graceSpec, entityId, stored ?? undefined, fetched ?? undefined);
}

/** What must change in `stored` to make its present part equal `fetched`; sorted by Apple id. */
export function diffCatalog(stored: StoredCatalog, fetched: Catalog): CatalogDiff {
  return {
    products: diffKeyed(productSpec, stored.products, fetched.products),
    groups: diffKeyed(groupSpec, stored.groups, fetched.groups),
    grace: diffGrace(stored.grace, fetched.grace),
  };
}

/** A sync whose diff is empty writes no catalog, change or rule rows. */
export function isEmptyDiff(diff: CatalogDiff): boolean {
  return diff.products.length === 0 && diff.groups.length === 0 && diff.grace === null;
}

/** Counts as `<entity>.<action>`, only the non-zero ones, keys sorted: an unchanged sync reports `{}`. */
export function countChanges(diff: CatalogDiff): Record<string, number> {
  const counts = new Map<string, number>();
  const all: Change<unknown>[] = [...diff.products, ...diff.groups, ...(diff.grace ? [diff.grace] : [])];
  for (const change of all) {
    const key = `${change.entity}.${change.action}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort(([a], [b]) => compareStrings(a, b)));
}

/**
 * A diff applied to a catalog it was not computed from would silently corrupt it (for
 * example the same diff applied twice); refuse instead.
 */
function mismatch(change: Change<unknown>, why: string): AppError {
  return new AppError(
    'internal',
    `Cannot apply the ${change.action} of ${change.entity} ${change.entityId}: ${why}. ` +
      'Compute the diff from the same stored catalog it is applied to.',
  );
}

function applyOne<T>(current: Stored<T> | undefined, change: Change<T>, at: Date): Stored<T> {
  const present = current !== undefined && current.removedAt === null;
  if (change.action === 'removed') {
    if (!present) throw mismatch(change, 'it is not present');
    // Never deleted: the row keeps its last known data, so history and restores can use it.
    return { ...current, removedAt: at };
  }
  if (change.after === null) throw mismatch(change, 'the change has no `after`');
  const expected = { added: current === undefined, updated: present, restored: current?.removedAt != null };
  if (!expected[change.action]) throw mismatch(change, 'the stored catalog is not in the state it expects');
  return { ...change.after, removedAt: null };
}

function applyKeyed<T extends { appleId: string }>(
  rows: readonly Stored<T>[],
  changes: readonly Change<T>[],
  at: Date,
): Stored<T>[] {
  const byId = new Map(rows.map((row) => [row.appleId, row]));
  for (const change of changes) byId.set(change.entityId, applyOne(byId.get(change.entityId), change, at));
  return [...byId.values()].sort((a, b) => compareStrings(a.appleId, b.appleId));
}

/**
 * The stored catalog after a diff, as the sync will write it; `at` stamps what disappeared.
 * Rows come back sorted by Apple id.
 */
export function applyDiff(stored: StoredCatalog, diff: CatalogDiff, at: Date): StoredCatalog {
  return {
    products: applyKeyed(stored.products, diff.products, at),
    groups: applyKeyed(stored.groups, diff.groups, at),
    grace: diff.grace === null ? stored.grace : applyOne(stored.grace ?? undefined, diff.grace, at),
  };
}
