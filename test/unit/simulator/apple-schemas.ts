import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';

/*
 * Apple's response schemas from the OpenAPI excerpt (test/fixtures/apple-openapi-excerpt.json),
 * compiled with ajv. The excerpt leaves out the resources the served endpoints never return
 * (localizations, offer codes, …) but that `included` oneOfs name: each becomes a stub
 * `{type: <its type>, id}` taken from the discriminator mapping, so a oneOf still picks exactly
 * one branch. The excerpt has no `AppResponse` (GET /v1/apps/{id}); it is built here as
 * Apple's single-resource documents are: `data: App`, `included`, `links: DocumentLinks`.
 */

type Schema = Record<string, unknown>;

const excerpt = JSON.parse(
  readFileSync(new URL('../../fixtures/apple-openapi-excerpt.json', import.meta.url), 'utf8'),
) as { components: { schemas: Record<string, Schema> } };

const schemas: Record<string, Schema> = structuredClone(excerpt.components.schemas);
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

// Stubs for every referenced but missing schema, typed by the discriminator mappings.
const text = JSON.stringify(schemas);
const missing = new Set([...text.matchAll(/#\/components\/schemas\/(\w+)/g)].map((m) => m[1]!));
for (const name of Object.keys(schemas)) missing.delete(name);
const typeOf = new Map<string, string>();
for (const match of text.matchAll(/"mapping":\{([^}]*)\}/g)) {
  for (const pair of match[1]!.matchAll(/"(\w+)":"#\/components\/schemas\/(\w+)"/g))
    typeOf.set(pair[2]!, pair[1]!);
}
for (const name of missing) {
  const type = typeOf.get(name);
  if (!type) throw new Error(`No discriminator names the type of ${name}`);
  schemas[name] = {
    type: 'object',
    properties: { type: { type: 'string', enum: [type] }, id: { type: 'string' } },
    required: ['id', 'type'],
  };
}

// AppResponse: the included IAPs on /v1/apps/{id} are v2 resources (type inAppPurchases).
const appsIncluded = ((schemas['AppsResponse']!['properties'] as Schema)['included'] as Schema)['items'] as {
  oneOf: { $ref: string }[];
};
schemas['AppResponse'] = {
  type: 'object',
  properties: {
    data: ref('App'),
    included: {
      type: 'array',
      items: {
        oneOf: appsIncluded.oneOf.map((branch) =>
          branch.$ref.endsWith('/InAppPurchase') ? ref('InAppPurchaseV2') : branch,
        ),
      },
    },
    links: ref('DocumentLinks'),
  },
  required: ['data', 'links'],
};

// ajv-formats is CommonJS; its default export is the plugin function.
const addFormats = ((addFormatsPlugin as unknown as { default?: unknown }).default ?? addFormatsPlugin) as (
  ajv: Ajv,
) => Ajv;

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'apple', components: { schemas } });

const compiled = new Map<string, ValidateFunction>();

export type AppleSchemaName =
  | 'AppsResponse'
  | 'AppResponse'
  | 'InAppPurchasesV2Response'
  | 'SubscriptionGroupsResponse'
  | 'SubscriptionGroupResponse'
  | 'SubscriptionsResponse'
  | 'SubscriptionGracePeriodResponse'
  | 'ErrorResponse';

/** Errors as readable strings; empty when `body` satisfies Apple's schema. */
export function schemaErrors(name: AppleSchemaName, body: unknown): string[] {
  let validate = compiled.get(name);
  if (!validate) {
    validate = ajv.getSchema(`apple#/components/schemas/${name}`);
    if (!validate) throw new Error(`No schema ${name}`);
    compiled.set(name, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}
