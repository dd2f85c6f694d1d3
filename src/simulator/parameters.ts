import { type AppleErrorResponse, parameterIllegal, parameterInvalid } from './apple-errors.ts';
import { PARAMETER_TABLE } from './parameter-table.ts';

/*
 * Strict query parameters, as Apple checks them: a name the endpoint does not declare is
 * PARAMETER_ERROR.ILLEGAL; a declared name with a bad value (limit out of range, unknown
 * include, unknown field or enum value) is PARAMETER_ERROR.INVALID. The declarations come from
 * Apple's spec via parameter-table.ts (generated).
 */

export interface ParameterSpec {
  kind: 'list' | 'integer' | 'boolean';
  /** Comma-joined enum values of a list parameter; absent: free strings. */
  values?: string;
  max?: number;
}

interface CompiledSpec {
  kind: ParameterSpec['kind'];
  values: ReadonlySet<string> | undefined;
  max: number | undefined;
}

const compiled = new Map<string, Map<string, CompiledSpec>>();
for (const [path, parameters] of Object.entries(PARAMETER_TABLE)) {
  const specs = new Map<string, CompiledSpec>();
  for (const [name, spec] of Object.entries(parameters)) {
    specs.set(name, {
      kind: spec.kind,
      values: spec.values === undefined ? undefined : new Set(spec.values.split(',')),
      max: spec.max,
    });
  }
  compiled.set(path, specs);
}

/**
 * Parameters Apple accepts that the simulator also implements. Others Apple accepts (sort,
 * most filters) are refused with a 400 that says the simulator lacks them, rather than
 * silently ignored: ignoring a filter would answer more than Apple does.
 */
const IMPLEMENTED_FILTERS: Record<string, ReadonlySet<string>> = {
  '/v1/apps': new Set(['filter[bundleId]', 'filter[name]', 'filter[sku]', 'filter[id]']),
  '/v1/apps/{id}/inAppPurchasesV2': new Set([
    'filter[productId]',
    'filter[name]',
    'filter[state]',
    'filter[inAppPurchaseType]',
  ]),
  '/v1/apps/{id}/subscriptionGroups': new Set(['filter[referenceName]', 'filter[subscriptions.state]']),
  '/v1/subscriptionGroups/{id}/subscriptions': new Set([
    'filter[productId]',
    'filter[name]',
    'filter[state]',
  ]),
  // Catalog details (detail-endpoints.ts).
  '/v1/subscriptions/{id}/prices': new Set([
    'filter[territory]',
    'filter[planType]',
    'filter[subscriptionPricePoint]',
  ]),
  '/v1/subscriptions/{id}/pricePoints': new Set([
    'filter[territory]',
    'filter[planType]',
    'filter[upfrontPricePointId]',
  ]),
  '/v1/subscriptions/{id}/introductoryOffers': new Set(['filter[territory]']),
  '/v1/subscriptions/{id}/promotionalOffers': new Set(['filter[territory]']),
  '/v1/subscriptions/{id}/offerCodes': new Set(['filter[territory]']),
  '/v1/subscriptionPromotionalOffers/{id}/prices': new Set(['filter[territory]']),
  '/v1/winBackOffers/{id}/prices': new Set(['filter[territory]']),
  '/v1/subscriptionOfferCodes/{id}/prices': new Set(['filter[territory]']),
  '/v1/inAppPurchasePriceSchedules/{id}/manualPrices': new Set(['filter[territory]']),
  '/v1/inAppPurchasePriceSchedules/{id}/automaticPrices': new Set(['filter[territory]']),
  '/v2/inAppPurchases/{id}/pricePoints': new Set(['filter[territory]']),
  '/v2/inAppPurchases/{id}/offerCodes': new Set(['filter[territory]']),
  '/v1/inAppPurchaseOfferCodes/{id}/prices': new Set(['filter[territory]']),
};

/** Listings whose `sort` the simulator implements (every field the spec allows there). */
const IMPLEMENTED_SORTS: ReadonlySet<string> = new Set([
  '/v1/apps/{id}/inAppPurchasesV2',
  '/v1/subscriptionGroups/{id}/subscriptions',
]);

export interface ParsedQuery {
  limit: number | undefined;
  cursor: string | undefined;
  include: ReadonlySet<string>;
  /** `limit[relationship]` values. */
  includeLimits: ReadonlyMap<string, number>;
  /** Sparse fieldsets by resource type. */
  fields: ReadonlyMap<string, ReadonlySet<string>>;
  filters: ReadonlyMap<string, readonly string[]>;
  /** `sort` fields in order (`-name`: descending); empty when absent. */
  sort: readonly string[];
}

export type QueryResult = { ok: true; query: ParsedQuery } | { ok: false; error: AppleErrorResponse };

export function isCollection(template: string): boolean {
  return compiled.get(template)?.has('limit') ?? false;
}

export function parseQuery(template: string, params: URLSearchParams): QueryResult {
  const specs = compiled.get(template);
  if (!specs) throw new Error(`No parameter table for ${template}`);
  const seen = new Set<string>();
  const query = {
    limit: undefined as number | undefined,
    cursor: undefined as string | undefined,
    include: new Set<string>(),
    includeLimits: new Map<string, number>(),
    fields: new Map<string, ReadonlySet<string>>(),
    filters: new Map<string, string[]>(),
    sort: [] as string[],
  };
  for (const [name, value] of params) {
    if (seen.has(name)) {
      return fail(parameterInvalid(name, `The parameter '${name}' was given more than once`));
    }
    seen.add(name);
    if (name === 'cursor') {
      // Apple's spec declares no `cursor`; it is valid only on collections, from a `next` link.
      if (!specs.has('limit')) return fail(parameterIllegal(name));
      if (value === '') return fail(parameterInvalid(name, "'' is not a valid cursor"));
      query.cursor = value;
      continue;
    }
    const spec = specs.get(name);
    if (!spec) return fail(parameterIllegal(name));
    if (spec.kind === 'integer') {
      if (!/^[0-9]+$/.test(value)) return fail(parameterInvalid(name, `'${value}' is not a valid integer`));
      const number = Number(value);
      if (number < 1) return fail(parameterInvalid(name, `'${value}' is below the minimum value of '1'`));
      if (spec.max !== undefined && number > spec.max) {
        return fail(parameterInvalid(name, `'${value}' exceeds the maximum allowed value of '${spec.max}'`));
      }
      if (name === 'limit') query.limit = number;
      else query.includeLimits.set(name.slice('limit['.length, -1), number);
      continue;
    }
    if (spec.kind === 'boolean') {
      if (value !== 'true' && value !== 'false') {
        return fail(parameterInvalid(name, `'${value}' is not a valid boolean`));
      }
      return fail(notImplemented(name));
    }
    const values = value.split(',');
    for (const item of values) {
      if (item === '') return fail(parameterInvalid(name, `'${value}' has an empty value`));
      if (spec.values && !spec.values.has(item)) return fail(parameterInvalid(name, invalidItem(name, item)));
    }
    if (name === 'include') {
      for (const item of values) query.include.add(item);
    } else if (name.startsWith('fields[')) {
      query.fields.set(name.slice('fields['.length, -1), new Set(values));
    } else if (name === 'sort' && IMPLEMENTED_SORTS.has(template)) {
      query.sort = values;
    } else if (name.startsWith('filter[') && IMPLEMENTED_FILTERS[template]?.has(name)) {
      query.filters.set(name, values);
    } else {
      return fail(notImplemented(name));
    }
  }
  return { ok: true, query };
}

function invalidItem(name: string, item: string): string {
  if (name.startsWith('fields[')) return `'${item}' is not a valid field name`;
  if (name === 'include') return `'${item}' is not a valid relationship name`;
  if (name === 'sort') return `'${item}' is not a valid sort field`;
  return `'${item}' is not a valid value for '${name}'`;
}

function notImplemented(name: string) {
  return parameterIllegal(
    name,
    `The parameter '${name}' is accepted by Apple but not implemented by the catalog-sync simulator; ` +
      'drop it or add it to src/simulator',
  );
}

const fail = (error: AppleErrorResponse): QueryResult => ({ ok: false, error });
