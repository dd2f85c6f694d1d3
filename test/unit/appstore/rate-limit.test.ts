import { describe, expect, it } from 'vitest';
import { parseRateLimit } from '../../../src/appstore/rate-limit.ts';

describe('parseRateLimit', () => {
  it('parses the hourly form Apple documents', () => {
    expect(parseRateLimit('user-hour-lim:3500;user-hour-rem:500;')).toEqual({
      'user-hour-lim': 3500,
      'user-hour-rem': 500,
    });
  });

  it('parses comma-joined values with per-minute entries', () => {
    expect(
      parseRateLimit('user-hour-lim:3600;user-hour-rem:3598;, user-minute-lim:150;user-minute-rem:149;'),
    ).toEqual({
      'user-hour-lim': 3600,
      'user-hour-rem': 3598,
      'user-minute-lim': 150,
      'user-minute-rem': 149,
    });
  });

  it('accepts a header given as several values', () => {
    expect(parseRateLimit(['user-hour-lim:3600;user-hour-rem:1', 'user-minute-rem:0'])).toEqual({
      'user-hour-lim': 3600,
      'user-hour-rem': 1,
      'user-minute-rem': 0,
    });
  });

  it('keeps names it has never seen and skips unreadable entries', () => {
    expect(parseRateLimit(' user-day-lim : 90000 ;bogus;x:abc;:5;user-day-rem:12')).toEqual({
      'user-day-lim': 90000,
      'user-day-rem': 12,
    });
  });

  it('returns undefined when absent or empty of numbers', () => {
    expect(parseRateLimit(undefined)).toBeUndefined();
    expect(parseRateLimit('')).toBeUndefined();
    expect(parseRateLimit('nonsense')).toBeUndefined();
  });
});
