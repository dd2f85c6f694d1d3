import { describe, expect, it } from 'vitest';
import { parseRevenueForm, periodChart, periodKeys, productChart } from '../../../src/console/revenue.ts';

/* The revenue page's pure parts: the range form, the periods drawn, and escaping in the SVG. */

const row = (key: string, customerPrice: string, proceeds: string, currency = 'USD') => ({
  key,
  currency,
  customerPrice,
  proceeds,
  unknownProceeds: 0,
  count: 1,
});

describe('the revenue range', () => {
  it('defaults to the last 30 days by day, or 12 months by month, to tomorrow exclusive', () => {
    const now = new Date('2026-12-04T23:00:00Z');
    expect(parseRevenueForm({}, now)).toEqual({
      form: { from: '2026-11-05', to: '2026-12-05', by: 'day', environment: 'production' },
      error: null,
    });
    expect(parseRevenueForm({ by: 'month' }, now).form).toMatchObject({
      from: '2026-01-01',
      to: '2026-12-05',
    });
  });

  it('names what is wrong: a bad date, a backwards or too long range, an unknown grouping', () => {
    const now = new Date('2026-12-04T00:00:00Z');
    expect(parseRevenueForm({ from: '2026-13-01', to: '2026-12-01' }, now).error?.field).toBe('from');
    expect(parseRevenueForm({ from: '2026-12-01', to: '2026-11-01' }, now).error?.field).toBe('to');
    expect(parseRevenueForm({ from: '2020-01-01', to: '2026-01-01' }, now).error?.message).toContain(
      'by month',
    );
    expect(parseRevenueForm({ from: '2020-01-01', to: '2026-01-01', by: 'month' }, now).error).toBeNull();
    expect(parseRevenueForm({ by: 'week' }, now).error?.field).toBe('by');
    expect(parseRevenueForm({ environment: 'staging' }, now).error?.field).toBe('environment');
  });

  it('enumerates every day or month of the range in UTC, to exclusive', () => {
    expect(periodKeys('2026-02-27', '2026-03-02', 'day')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(periodKeys('2026-11-15', '2027-02-01', 'month')).toEqual(['2026-11', '2026-12', '2027-01']);
    expect(periodKeys('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', 'day')).toEqual(['2026-01-01']);
  });
});

describe('the charts', () => {
  it('draws a bar pair per period, zero for an empty one, with the exact amounts as data', () => {
    const svg = periodChart(
      'USD',
      'day',
      ['2026-03-01', '2026-03-02', '2026-03-03'],
      [
        row('2026-03-01', '9.99', '6.99'),
        row('2026-03-03', '-9.99', '-6.99'),
        row('2026-03-01', '1', '1', 'EUR'),
      ],
    ).value;
    expect(svg.match(/class="bar price"/g)).toHaveLength(3);
    expect(svg).toContain('data-key="2026-03-02" data-amount="0"');
    expect(svg).toContain('data-amount="-9.99"');
    expect(svg).not.toContain('EUR');
  });

  it('escapes a hostile product id', () => {
    const svg = productChart('USD', [row('<script>alert(1)</script>"', '1.00', '0.70')]).value;
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;');
  });
});
