import { z } from 'zod';
import {
  EVENT_TYPES,
  type EventType,
  eventEnvelopeSchema,
  MAX_INLINE_CHANGES,
  MAX_PRICES_IN_EVENT,
  payloadSchemas,
} from './types.ts';

/*
 * The events reference (docs/events.md), generated from the zod schemas the outbox checks every
 * payload with: each type's fields and an example payload built from the schema (the `example`
 * of each field, else its constant, first enum value or type) and parsed by that schema, so the
 * reference cannot show what the worker would refuse to send. `node scripts/events-reference.ts`
 * writes it; test/unit/events/reference.test.ts fails when the file and the schemas disagree.
 */

type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  example?: unknown;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  maxItems?: number;
  maxLength?: number;
};

/** When each type is sent (the one hand-written column: the schemas say what, not when). */
export const WHEN: Record<EventType, string> = {
  'catalog.changed':
    'a sync run changed the catalog (structure or details) or versioned the rules; once per run, when the run is complete',
  'prices.changed': 'a run changed prices: every price change row of the run, with the old and new money',
  'price_change.scheduled':
    'a future-dated price version appeared (once per product and start date), before it takes effect',
  'price_change.cancelled': 'a scheduled price version disappeared before its start date',
  'sync.failed': 'a sync job failed for good (no attempt left, or not retryable)',
  'credentials.status_changed': 'the status of a project’s key changed (found by a sync or a verification)',
  'credentials.verified': 'a verification (Verify & Fetch Apps) finished',
  'catalog.health_changed': 'the catalog’s health issues changed (not on every sync)',
  'webhook.endpoint_disabled': 'an endpoint answered 410 or failed for WEBHOOKS_DISABLE_AFTER_MS',
};

export function exampleOf(node: JsonSchema): unknown {
  if (node.example !== undefined) return node.example;
  if (node.const !== undefined) return node.const;
  if (node.enum && node.enum.length > 0) return node.enum[0];
  if (node.anyOf) {
    const branch = node.anyOf.find((b) => b.type !== 'null') ?? node.anyOf[0]!;
    return exampleOf(branch);
  }
  const type = Array.isArray(node.type) ? node.type.find((t) => t !== 'null') : node.type;
  switch (type) {
    case 'object': {
      if (node.properties) {
        return Object.fromEntries(
          Object.entries(node.properties).map(([key, value]) => [key, exampleOf(value)]),
        );
      }
      const values = typeof node.additionalProperties === 'object' ? node.additionalProperties : {};
      return { key: exampleOf(values) };
    }
    case 'array':
      return node.items ? [exampleOf(node.items)] : [];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'string':
      return 'text';
    default:
      return null;
  }
}

function typeOf(node: JsonSchema): string {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.anyOf) return node.anyOf.map(typeOf).join(' \\| ');
  const types = Array.isArray(node.type) ? node.type : [node.type ?? 'any'];
  return types
    .map((t) => {
      if (t === 'array') return `array of ${node.items ? typeOf(node.items) : 'any'}`;
      if (t === 'object' && !node.properties && typeof node.additionalProperties === 'object') {
        return `object of ${typeOf(node.additionalProperties)}`;
      }
      return t;
    })
    .join(' \\| ');
}

function fieldRows(node: JsonSchema, prefix = ''): string[] {
  const rows: string[] = [];
  for (const [name, field] of Object.entries(node.properties ?? {})) {
    const required = node.required?.includes(name) ?? false;
    rows.push(`| \`${prefix}${name}\` | ${typeOf(field)}${required ? '' : ' (optional)'} |`);
    const inner = field.type === 'array' ? field.items : field.anyOf?.find((b) => b.type === 'array')?.items;
    if (inner?.properties) rows.push(...fieldRows(inner, `${prefix}${name}[].`));
  }
  return rows;
}

const jsonSchemaOf = (schema: z.ZodType) => z.toJSONSchema(schema) as JsonSchema;

/** An example payload of `type`, checked by its schema (throws if the schema would refuse it). */
export function examplePayload(type: EventType): unknown {
  const example = exampleOf(jsonSchemaOf(payloadSchemas[type]));
  return payloadSchemas[type].parse(example);
}

export function eventsReference(): string {
  const envelopeSchema = jsonSchemaOf(eventEnvelopeSchema);
  const envelope = eventEnvelopeSchema.parse({
    ...(exampleOf(envelopeSchema) as object),
    type: 'prices.changed',
    data: examplePayload('prices.changed'),
  });
  const lines = [
    '# Events reference',
    '',
    '<!-- Generated by `node scripts/events-reference.ts` from the zod schemas in src/events/types.ts;',
    '     do not edit by hand (test/unit/events/reference.test.ts fails when they disagree). -->',
    '',
    'Every event is one JSON envelope, the body of a signed webhook (Standard Webhooks: `webhook-id`,',
    '`webhook-timestamp`, `webhook-signature`) and the data of a `catalog-sync-events` job. The',
    '`data` of each type carries `version: 1`; a breaking change would add version 2 beside it.',
    'What is guaranteed about delivery and order is in the README ("Events and webhooks").',
    '',
    '## The envelope',
    '',
    '| field | type |',
    '|---|---|',
    ...fieldRows(envelopeSchema).filter((row) => !row.startsWith('| `data')),
    '| `data` | the payload of the type, below |',
    '',
    '```json',
    JSON.stringify(envelope, null, 2),
    '```',
    '',
    '## Types',
    '',
    '| type | sent when |',
    '|---|---|',
    ...EVENT_TYPES.map((type) => `| [\`${type}\`](#${type.replaceAll('.', '')}) | ${WHEN[type]} |`),
    '',
    `Lists are bounded: \`catalog.changed\` carries its change rows inline up to ${MAX_INLINE_CHANGES} (else`,
    '`changes: null`; read them with `catalog-sync changes <project> --run <changesCursor>`), the money',
    `events up to ${MAX_PRICES_IN_EVENT} prices each (\`more\` counts the rest). Money is a decimal string,`,
    'exactly as Apple states it; a figure Apple does not give is null.',
  ];
  for (const type of EVENT_TYPES) {
    lines.push(
      '',
      `### ${type}`,
      '',
      `Sent when ${WHEN[type]}.`,
      '',
      '| field | type |',
      '|---|---|',
      ...fieldRows(jsonSchemaOf(payloadSchemas[type])),
      '',
      '```json',
      JSON.stringify(examplePayload(type), null, 2),
      '```',
    );
  }
  return `${lines.join('\n')}\n`;
}
