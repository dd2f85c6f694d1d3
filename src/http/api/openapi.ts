import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { RouteSpec } from './define.ts';
import { problemSchema } from './schemas.ts';

/*
 * The OpenAPI 3.1 document, generated from the routes' own zod schemas: what the router validates
 * with is what the document says. docs/openapi.json is this document, checked in
 * (`npm run openapi` writes it; a test fails when the two differ).
 */

export const API_VERSION = '1.0.0';

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

const idempotencyHeader = z.object({
  'Idempotency-Key': z.string().max(200).optional().meta({
    description:
      'The same key with the same body returns the first answer (24 hours); with another body, 422.',
  }),
});

export function openApiDocument(routes: RouteSpec[]): Record<string, unknown> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'serviceToken', {
    type: 'http',
    scheme: 'bearer',
    description:
      'A service token (cst_…) from `catalog-sync tokens create --name N --scope read|write`. ' +
      'Read tokens may call GET routes only.',
  });
  for (const spec of routes) {
    const write = spec.scope === 'write';
    registry.registerPath({
      operationId: spec.operationId,
      method: spec.method,
      path: spec.path,
      tags: [spec.tag],
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      security: [{ serviceToken: [] }],
      'x-scope': spec.scope,
      request: {
        ...(spec.params ? { params: spec.params } : {}),
        ...(spec.query ? { query: spec.query } : {}),
        ...(write
          ? {
              headers: idempotencyHeader,
            }
          : {}),
        ...(spec.body
          ? {
              body: {
                required: !spec.bodyOptional,
                content: { 'application/json': { schema: spec.body } },
              },
            }
          : {}),
      },
      responses: {
        [spec.status]: {
          description: 'Success',
          content: { 'application/json': { schema: spec.response } },
        },
        400: problemResponse('Bad input: malformed JSON, an unknown or invalid field (`field` names it)'),
        401: problemResponse('No token, or an unknown or revoked one'),
        ...(write ? { 403: problemResponse('A read token on a write route') } : {}),
        404: problemResponse('The project (or other resource) does not exist'),
        409: problemResponse('The project is not ready for this (no key, no app)'),
        ...(spec.body ? { 413: problemResponse('The body is over the limit') } : {}),
        ...(spec.body ? { 415: problemResponse('The body is not application/json') } : {}),
        ...(write ? { 422: problemResponse('The Idempotency-Key was used with another body') } : {}),
        429: problemResponse('Over the per-token rate limit; see Retry-After'),
        500: problemResponse('An unexpected failure'),
        503: problemResponse('Postgres or Redis is unavailable; retry'),
        ...(spec.timeoutMs
          ? { 504: problemResponse('No answer within the bounded wait; the work goes on') }
          : {}),
      },
    });
  }
  const generator = new OpenApiGeneratorV31(registry.definitions);
  return generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'catalog-sync HTTP API',
      version: API_VERSION,
      description:
        'Every operation of catalog-sync over HTTP JSON: onboarding (save a key, Verify & Fetch Apps, select an app), ' +
        'syncs and status, the catalog, prices and attribution, schedules, webhooks and events. ' +
        'Errors are application/problem+json (RFC 9457); timestamps ISO 8601; money decimal strings.',
    },
    servers: [{ url: '/api/v1' }],
  }) as unknown as Record<string, unknown>;
}
