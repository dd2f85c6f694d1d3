import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PARAMETER_TABLE } from '../../../src/simulator/parameter-table.ts';
import { ALL_ROUTES } from '../../../src/simulator/routes.ts';
import { buildTable, SERVED_PATHS } from '../../../src/simulator/tools/build-parameter-table.ts';

/* parameter-table.ts is what the generator makes of Apple's two excerpts, for every served route. */

const read = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8'));

describe('the generated parameter table', () => {
  it('is up to date with both excerpts', () => {
    const table = buildTable(
      read('apple-openapi-excerpt.json'),
      read('apple-openapi-catalog-details-excerpt.json'),
    );
    expect(PARAMETER_TABLE).toEqual(table);
  });

  it('covers exactly the routes the simulator serves', () => {
    expect(new Set(ALL_ROUTES.map((route) => route.template))).toEqual(new Set(SERVED_PATHS));
  });

  it('keeps Apple’s caps: 50 on to-many includes, 200 on pages, 8000 on price points', () => {
    expect(PARAMETER_TABLE['/v1/subscriptionGroups/{id}/subscriptions']!['limit[prices]']).toEqual({
      kind: 'integer',
      max: 50,
    });
    expect(PARAMETER_TABLE['/v1/subscriptions/{id}/prices']!['limit']).toEqual({ kind: 'integer', max: 200 });
    expect(PARAMETER_TABLE['/v1/subscriptions/{id}/pricePoints']!['limit']).toEqual({
      kind: 'integer',
      max: 8000,
    });
  });
});
