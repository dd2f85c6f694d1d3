import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { route } from '../../../src/http/api/define.ts';
import { openApiDocument } from '../../../src/http/api/openapi.ts';
import { routes } from '../../../src/http/api/routes.ts';
import { documentChecker } from '../../support/openapi.ts';

/* The OpenAPI document: generated from the routes, checked in, and in agreement with them. */

const generated = openApiDocument(routes) as {
  paths: Record<string, Record<string, { operationId: string }>>;
};

describe('the OpenAPI document', () => {
  it('is the checked-in docs/openapi.json (run `npm run openapi` after changing a route)', () => {
    const checkedIn = JSON.parse(
      readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8'),
    );
    expect(checkedIn).toEqual(generated);
  });

  it('lists exactly the routes, each once, with its method and scope', () => {
    const documented = Object.entries(generated.paths).flatMap(([path, operations]) =>
      Object.entries(operations).map(
        ([method, operation]) => `${method.toUpperCase()} ${path} ${operation.operationId}`,
      ),
    );
    const declared = routes.map((r) => `${r.method.toUpperCase()} ${r.path} ${r.operationId}`);
    expect(documented.sort()).toEqual(declared.sort());
    expect(new Set(routes.map((r) => r.operationId)).size).toBe(routes.length);
    for (const r of routes) {
      // A GET never writes; a write route is never reachable with a read token.
      if (r.method === 'get') expect(r.scope, r.operationId).toBe('read');
    }
  });

  it('catches a route whose answer differs from what the document says', () => {
    const broken = route({
      operationId: 'broken',
      tag: 'test',
      method: 'get',
      path: '/broken/{id}',
      scope: 'read',
      summary: 'answers a number where the document says a string',
      params: z.strictObject({ id: z.string() }),
      response: z.strictObject({ name: z.string() }),
      run: async () => ({ name: 1 }),
    });
    const checker = documentChecker(openApiDocument([broken]) as never);
    expect(() =>
      checker.check('GET', '/api/v1/broken/x', 200, 'application/json', { name: 'ok' }),
    ).not.toThrow();
    expect(() => checker.check('GET', '/api/v1/broken/x', 200, 'application/json', { name: 1 })).toThrow(
      /does not match the document/,
    );
    expect(() =>
      checker.check('GET', '/api/v1/broken/x', 200, 'application/json', { name: 'ok', extra: true }),
    ).toThrow(/does not match the document/);
    expect(() => checker.check('GET', '/api/v1/broken/x', 418, 'application/json', {})).toThrow(
      /does not list/,
    );
    expect(() => checker.check('GET', '/api/v1/nowhere', 200, 'application/json', {})).toThrow(
      /no such path/,
    );
  });
});
