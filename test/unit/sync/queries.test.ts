import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/errors.ts';
import { parseSince } from '../../../src/sync/queries.ts';

describe('parseSince', () => {
  const now = new Date('2026-03-10T12:00:00.000Z');

  it.each([
    ['30s', '2026-03-10T11:59:30.000Z'],
    ['90m', '2026-03-10T10:30:00.000Z'],
    ['24h', '2026-03-09T12:00:00.000Z'],
    ['7d', '2026-03-03T12:00:00.000Z'],
    ['2w', '2026-02-24T12:00:00.000Z'],
    ['1.5h', '2026-03-10T10:30:00.000Z'],
    ['2026-01-31T08:00:00Z', '2026-01-31T08:00:00.000Z'],
    ['2026-01-31T08:00:00+02:00', '2026-01-31T06:00:00.000Z'],
    ['2026-01-31', '2026-01-31T00:00:00.000Z'],
  ])('%s → %s', (text, expected) => {
    expect(parseSince(text, now).toISOString()).toBe(expected);
  });

  it.each(['', 'yesterday', '24', 'h24', '2026-13-45', '5y'])('refuses %j, naming --since', (text) => {
    expect(() => parseSince(text, now)).toThrow(InvalidInputError);
    expect(() => parseSince(text, now)).toThrow(/--since/);
  });
});
