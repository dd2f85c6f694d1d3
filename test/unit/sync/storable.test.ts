import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storableJson, storableRecord } from '../../../src/sync/storable.ts';

/*
 * storableRecord checks the serialised raw attributes instead of walking them: it must clean and
 * report exactly what storableJson does, and hand back the serialisation of what it returns.
 */

const record = (raw: Record<string, unknown>, fields: Record<string, unknown> = {}) => ({
  appleId: '1',
  productId: 'p',
  familySharable: null,
  ...fields,
  raw,
});

describe('storableRecord', () => {
  it('returns a clean record itself, with its raw attributes serialised', () => {
    const clean = record({ name: 'Gold 😀', nested: { list: ['a', 1, true, null] } });
    const { value, changed, rawJson } = storableRecord(clean);
    expect(value).toBe(clean);
    expect(changed).toEqual([]);
    expect(rawJson).toBe(JSON.stringify(clean.raw));
  });

  it.each([
    ['a NUL in a raw value', record({ name: 'Gold\u0000' })],
    ['a lone high surrogate in a raw value', record({ list: ['\ud83d'] })],
    ['a lone low surrogate in a raw key', record({ 'k\udc00': 1 })],
    ['a NUL in a field outside raw', record({}, { appleId: 'x\u0000' })],
    ['a lone surrogate in a nested field outside raw', record({}, { extra: { deep: ['\udfff'] } })],
    ['the text \\u0000 (a false alarm: nothing to clean)', record({ name: '\\u0000 and \\ud800' })],
  ])('cleans like storableJson: %s', (_name, input) => {
    const expected = storableJson(input);
    const { value, changed, rawJson } = storableRecord(input);
    expect(value).toEqual(expected.value);
    expect(changed).toEqual(expected.changed);
    expect(rawJson).toBe(JSON.stringify(value.raw));
  });

  it('agrees with storableJson on any JSON value', () => {
    const unit = fc.oneof(
      fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\\', 'u', '0', 'd', '8'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    );
    const text = fc.string({ unit });
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(text, tie('value'), { maxKeys: 3 }),
      ),
    }));
    fc.assert(
      fc.property(fc.dictionary(text, json.value, { maxKeys: 4 }), text, (raw, name) => {
        const input = record(raw, { referenceName: name });
        const expected = storableJson(input);
        const { value, changed, rawJson } = storableRecord(input);
        expect(value).toEqual(expected.value);
        expect(changed).toEqual(expected.changed);
        expect(rawJson).toBe(JSON.stringify(value.raw));
        if (changed.length === 0) expect(value).toBe(input);
      }),
      { numRuns: 500 },
    );
  });
});
