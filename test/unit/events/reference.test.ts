import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventsReference, exampleOf, examplePayload } from '../../../src/events/reference.ts';
import { EVENT_TYPES, payloadSchemas } from '../../../src/events/types.ts';

describe('the events reference (docs/events.md)', () => {
  it('is what the schemas give: regenerate it with `npm run docs:events` after changing an event', () => {
    const file = readFileSync(path.join(import.meta.dirname, '..', '..', '..', 'docs', 'events.md'), 'utf8');
    expect(file).toBe(eventsReference());
  });

  it('lists every type with an example its schema accepts', () => {
    const reference = eventsReference();
    for (const type of EVENT_TYPES) {
      expect(reference).toContain(`### ${type}\n`);
      const example = examplePayload(type);
      expect(payloadSchemas[type].safeParse(example).success, type).toBe(true);
      expect(reference).toContain(JSON.stringify(example, null, 2));
    }
  });

  it('builds examples from the schema: examples first, then constants, enums and types', () => {
    expect(
      exampleOf({
        type: 'object',
        properties: {
          a: { type: 'string', example: 'given' },
          b: { const: 1 },
          c: { enum: ['x', 'y'] },
          d: { anyOf: [{ type: 'null' }, { type: 'integer' }] },
          e: { type: 'array', items: { type: 'boolean' } },
          f: { type: 'object', additionalProperties: { type: 'integer' } },
        },
      }),
    ).toEqual({ a: 'given', b: 1, c: 'x', d: 1, e: [true], f: { key: 1 } });
  });
});
