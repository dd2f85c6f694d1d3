import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/errors.ts';
import { formatDuration, parseDuration, parseInstant } from '../../../src/time/duration.ts';

/* One grammar for `--every`, `--since` and the API: the drift between them was a bug. */

function fieldOf(body: () => unknown): string | undefined {
  try {
    body();
  } catch (error) {
    if (error instanceof InvalidInputError) return error.field;
    throw error;
  }
  return undefined;
}

describe('parseDuration', () => {
  it.each([
    ['90s', 90],
    ['30m', 1800],
    ['6h', 21_600],
    ['1d', 86_400],
    ['2w', 1_209_600],
    ['1h30m', 5_400],
    ['1w2d', 777_600],
    [' 6H ', 21_600],
  ])('%j → %d s', (text, seconds) => {
    expect(parseDuration(text, 'every')).toBe(seconds);
  });

  it.each(['', '6', 'h', '6x', '-1h', '0s', '1.5h', '5y', '1h 30m'])(
    'refuses %j, naming the field given',
    (text) => {
      expect(fieldOf(() => parseDuration(text, 'every'))).toBe('every');
      expect(fieldOf(() => parseDuration(text, 'since'))).toBe('since');
    },
  );

  it('bounds the result when asked', () => {
    expect(() => parseDuration('400d', 'every', { max: 366 * 86_400 })).toThrow(/at most 52w2d/);
  });

  it('prints the shortest spelling', () => {
    expect(formatDuration(5_400)).toBe('1h30m');
    expect(formatDuration(86_400)).toBe('1d');
    expect(formatDuration(1_209_600)).toBe('2w');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('parseInstant', () => {
  const now = new Date('2026-03-10T12:00:00.000Z');

  it.each([
    ['30s', '2026-03-10T11:59:30.000Z'],
    ['90m', '2026-03-10T10:30:00.000Z'],
    ['1h30m', '2026-03-10T10:30:00.000Z'],
    ['24h', '2026-03-09T12:00:00.000Z'],
    ['7d', '2026-03-03T12:00:00.000Z'],
    ['2w', '2026-02-24T12:00:00.000Z'],
    ['2026-01-31T08:00:00Z', '2026-01-31T08:00:00.000Z'],
    ['2026-01-31T08:00:00+02:00', '2026-01-31T06:00:00.000Z'],
    ['2026-01-31', '2026-01-31T00:00:00.000Z'],
  ])('%s → %s', (text, expected) => {
    expect(parseInstant(text, 'since', { now }).toISOString()).toBe(expected);
  });

  it.each(['', 'yesterday', '24', 'h24', '2026-13-45', '5y', '100000000d', '99999999w'])(
    'refuses %j with an InvalidInputError on the field',
    (text) => {
      expect(() => parseInstant(text, 'since', { now })).toThrow(InvalidInputError);
      expect(fieldOf(() => parseInstant(text, 'since', { now }))).toBe('since');
    },
  );

  it('takes only a date-time when durations are not allowed', () => {
    expect(fieldOf(() => parseInstant('24h', 'at', { now, allowDuration: false }))).toBe('at');
  });
});
