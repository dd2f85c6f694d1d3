/*
 * Builds src/simulator/parameter-table.ts from Apple's OpenAPI excerpt, so the simulator knows
 * every query parameter Apple accepts per endpoint (names, enums, limit maxima) without reading
 * the spec at run time.
 *
 *   node src/simulator/tools/build-parameter-table.ts [excerpt.json] [details-excerpt.json] [out.ts]
 *
 * Defaults: test/fixtures/apple-openapi-excerpt.json and
 * test/fixtures/apple-openapi-catalog-details-excerpt.json → src/simulator/parameter-table.ts.
 * A path in both excerpts must be declared identically (checked).
 * Run `npx biome check --write src/simulator/parameter-table.ts` afterwards.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The endpoints the simulator serves (all GET), as Apple's path templates. */
export const SERVED_PATHS = [
  '/v1/apps',
  '/v1/apps/{id}',
  '/v1/apps/{id}/inAppPurchasesV2',
  '/v1/apps/{id}/subscriptionGroups',
  '/v1/subscriptionGroups/{id}/subscriptions',
  // The group with its localizations and versions in one request (the catalog's group metadata).
  '/v1/subscriptionGroups/{id}',
  '/v1/apps/{id}/subscriptionGracePeriod',
  '/v1/subscriptionGracePeriods/{id}',
  // Catalog details.
  '/v1/territories',
  '/v1/subscriptions/{id}',
  '/v1/subscriptions/{id}/prices',
  '/v1/subscriptions/{id}/pricePoints',
  '/v1/subscriptions/{id}/introductoryOffers',
  '/v1/subscriptions/{id}/promotionalOffers',
  '/v1/subscriptions/{id}/offerCodes',
  '/v1/subscriptions/{id}/winBackOffers',
  '/v1/subscriptions/{id}/subscriptionLocalizations',
  '/v1/subscriptions/{id}/subscriptionAvailability',
  '/v1/subscriptionAvailabilities/{id}/availableTerritories',
  '/v1/subscriptionGroups/{id}/subscriptionGroupLocalizations',
  '/v1/subscriptionPromotionalOffers/{id}/prices',
  '/v1/winBackOffers/{id}/prices',
  '/v1/subscriptionOfferCodes/{id}/prices',
  '/v2/inAppPurchases/{id}',
  '/v2/inAppPurchases/{id}/inAppPurchaseLocalizations',
  '/v2/inAppPurchases/{id}/inAppPurchaseAvailability',
  '/v1/inAppPurchaseAvailabilities/{id}/availableTerritories',
  '/v2/inAppPurchases/{id}/iapPriceSchedule',
  '/v1/inAppPurchasePriceSchedules/{id}/manualPrices',
  '/v1/inAppPurchasePriceSchedules/{id}/automaticPrices',
  '/v1/inAppPurchasePriceSchedules/{id}/baseTerritory',
  '/v2/inAppPurchases/{id}/pricePoints',
  '/v2/inAppPurchases/{id}/offerCodes',
  '/v1/inAppPurchaseOfferCodes/{id}/prices',
] as const;

interface OpenApiParameter {
  name: string;
  in: string;
  schema?: { type?: string; maximum?: number; items?: { type?: string; enum?: string[] } };
}

interface OpenApiExcerpt {
  paths: Record<string, { get?: { parameters?: OpenApiParameter[] } }>;
  /** Attributes Apple added in 4.5.1 (keys like `Subscription.attributes.multiSeatStatus`). */
  v4_5_1_additions?: Record<string, unknown>;
}

/** 4.5.1 attributes that sparse fieldsets may name: `fields[<type>]` gains them. */
const ADDITION_TYPES: Record<string, string> = { Subscription: 'subscriptions' };

function additionsByType(excerpt: OpenApiExcerpt): Map<string, string[]> {
  const byType = new Map<string, string[]>();
  for (const key of Object.keys(excerpt.v4_5_1_additions ?? {})) {
    const [schema, section, attribute] = key.split('.');
    const type = schema === undefined ? undefined : ADDITION_TYPES[schema];
    if (section !== 'attributes' || !type || !attribute) continue;
    byType.set(type, [...(byType.get(type) ?? []), attribute]);
  }
  return byType;
}

export interface TableEntry {
  kind: 'list' | 'integer' | 'boolean';
  values?: string;
  max?: number;
}

export function buildTable(
  excerpt: OpenApiExcerpt,
  details: OpenApiExcerpt = { paths: {} },
): Record<string, Record<string, TableEntry>> {
  const table: Record<string, Record<string, TableEntry>> = {};
  const additions = additionsByType(excerpt);
  for (const path of SERVED_PATHS) {
    const main = excerpt.paths[path]?.get;
    const detail = details.paths[path]?.get;
    if (main && detail && JSON.stringify(main.parameters) !== JSON.stringify(detail.parameters))
      throw new Error(`The two excerpts declare GET ${path} differently; refresh them together.`);
    const operation = main ?? detail;
    if (!operation) throw new Error(`No excerpt has GET ${path}; refresh the excerpts or drop the endpoint.`);
    const parameters: Record<string, TableEntry> = {};
    for (const parameter of operation.parameters ?? []) {
      if (parameter.in !== 'query') continue;
      const schema = parameter.schema ?? {};
      if (schema.type === 'array') {
        const extra = additions.get(/^fields\[(.+)\]$/.exec(parameter.name)?.[1] ?? '') ?? [];
        const enumValues = schema.items?.enum;
        const values = enumValues
          ? [...enumValues, ...extra.filter((a) => !enumValues.includes(a))]
          : undefined;
        parameters[parameter.name] = values ? { kind: 'list', values: values.join(',') } : { kind: 'list' };
      } else if (schema.type === 'integer') {
        parameters[parameter.name] =
          schema.maximum === undefined ? { kind: 'integer' } : { kind: 'integer', max: schema.maximum };
      } else if (schema.type === 'boolean') {
        parameters[parameter.name] = { kind: 'boolean' };
      } else {
        throw new Error(`Unhandled schema type ${String(schema.type)} for ${parameter.name} on ${path}`);
      }
    }
    table[path] = parameters;
  }
  return table;
}

export function renderTable(table: Record<string, Record<string, TableEntry>>, source: string): string {
  const lines = [
    `// Generated by src/simulator/tools/build-parameter-table.ts from ${source}. Do not edit by hand.`,
    '// Query parameters Apple accepts per endpoint; list values are comma-joined enums.',
    "import type { ParameterSpec } from './parameters.ts';",
    '',
    'export const PARAMETER_TABLE: Record<string, Record<string, ParameterSpec>> = {',
  ];
  for (const [path, parameters] of Object.entries(table)) {
    lines.push(`  '${path}': {`);
    for (const [name, entry] of Object.entries(parameters))
      lines.push(`    '${name}': ${JSON.stringify(entry)},`);
    lines.push('  },');
  }
  lines.push('};', '');
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const input = process.argv[2] ?? 'test/fixtures/apple-openapi-excerpt.json';
  const detailsInput = process.argv[3] ?? 'test/fixtures/apple-openapi-catalog-details-excerpt.json';
  const output = process.argv[4] ?? 'src/simulator/parameter-table.ts';
  const excerpt = JSON.parse(readFileSync(input, 'utf8')) as OpenApiExcerpt;
  const details = JSON.parse(readFileSync(detailsInput, 'utf8')) as OpenApiExcerpt;
  writeFileSync(output, renderTable(buildTable(excerpt, details), `${input} and ${detailsInput}`));
  process.stdout.write(`wrote ${output}\n`);
}
