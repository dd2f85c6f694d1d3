import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';

/*
 * Apple's response schemas for the catalog-details endpoints, from the 4.4.1 excerpt
 * (test/fixtures/apple-openapi-catalog-details-excerpt.json), compiled with ajv. As in
 * apple-schemas.ts, a schema the excerpt references but leaves out becomes a stub typed by its
 * discriminator mapping.
 */

type Schema = Record<string, unknown>;

const excerpt = JSON.parse(
  readFileSync(new URL('../../fixtures/apple-openapi-catalog-details-excerpt.json', import.meta.url), 'utf8'),
) as { components: { schemas: Record<string, Schema> } };

const schemas: Record<string, Schema> = structuredClone(excerpt.components.schemas);
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

const addFormats = ((addFormatsPlugin as unknown as { default?: unknown }).default ?? addFormatsPlugin) as (
  ajv: Ajv,
) => Ajv;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'details', components: { schemas } });

const compiled = new Map<string, ValidateFunction>();

/** Errors as readable strings; empty when `body` satisfies Apple's schema `name`. */
export function detailSchemaErrors(name: string, body: unknown): string[] {
  let validate = compiled.get(name);
  if (!validate) {
    if (!schemas[name]) throw new Error(`The details excerpt has no schema ${name}`);
    validate = ajv.getSchema(`details#/components/schemas/${name}`);
    if (!validate) throw new Error(`No schema ${name}`);
    compiled.set(name, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

/** The response schema Apple declares for `GET <template>` (200). */
export function responseSchemaOf(template: string): string {
  const paths = (
    JSON.parse(
      readFileSync(
        new URL('../../fixtures/apple-openapi-catalog-details-excerpt.json', import.meta.url),
        'utf8',
      ),
    ) as {
      paths: Record<
        string,
        { get: { responses: Record<string, { content: Record<string, { schema: { $ref: string } }> }> } }
      >;
    }
  ).paths;
  const ref = paths[template]?.get.responses['200']?.content['application/json']?.schema.$ref;
  if (!ref) throw new Error(`The details excerpt has no GET ${template}`);
  return ref.split('/').pop()!;
}
