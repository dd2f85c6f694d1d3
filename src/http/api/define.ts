import { z } from 'zod';
import type { AppContext } from '../../app/context.ts';
import type { Config } from '../../config/env.ts';

/*
 * A route of the HTTP API is a declaration: method, path, scope, the zod schemas of its params,
 * query, body and answer, and the src/app function it calls. The router (router.ts) does the
 * rest the same way for every route (token, rate limit, content type, validation, idempotency,
 * errors, logging), and the OpenAPI document (openapi.ts) is generated from the same list.
 */

export type Scope = 'read' | 'write';
type Method = 'get' | 'post' | 'put' | 'delete';
type Out<T> = T extends z.ZodType ? z.output<T> : Record<string, never>;

export interface RouteSpec {
  operationId: string;
  method: Method;
  /** OpenAPI style, under /api/v1: `/projects/{projectId}/status`. */
  path: string;
  /** `read` routes accept any token; `write` routes a write token only (and take Idempotency-Key). */
  scope: Scope;
  summary: string;
  description?: string | undefined;
  tag: string;
  params?: z.ZodObject | undefined;
  query?: z.ZodObject | undefined;
  body?: z.ZodType | undefined;
  /** A request without a body is read as `{}`. */
  bodyOptional?: boolean | undefined;
  response: z.ZodType;
  status: 200 | 201 | 202;
  /** The longest this route may keep a request waiting (then 504; the work may go on). */
  timeoutMs?: ((config: Config) => number) | undefined;
  /** Its body limit, when not API_MAX_BODY_BYTES (routes that take many transactions). */
  maxBodyBytes?: ((config: Config) => number) | undefined;
  run(ctx: AppContext, input: { params: unknown; query: unknown; body: unknown }): Promise<unknown>;
}

/** Declares a route, typing `run`'s input from the schemas. */
export function route<
  P extends z.ZodObject | undefined = undefined,
  Q extends z.ZodObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: {
  operationId: string;
  method: Method;
  path: string;
  scope: Scope;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  bodyOptional?: boolean;
  response: z.ZodType;
  status?: 200 | 201 | 202;
  timeoutMs?: (config: Config) => number;
  maxBodyBytes?: (config: Config) => number;
  run(ctx: AppContext, input: { params: Out<P>; query: Out<Q>; body: Out<B> }): Promise<unknown>;
}): RouteSpec {
  // A write without a body of its own still refuses one it does not expect.
  const body = spec.body ?? (spec.method === 'get' ? undefined : z.strictObject({}));
  return {
    ...spec,
    body,
    bodyOptional: spec.bodyOptional ?? spec.body === undefined,
    status: spec.status ?? 200,
    run: spec.run as RouteSpec['run'],
  };
}

/** `/projects/{projectId}` → `/projects/:projectId` (express). */
export function expressPath(path: string): string {
  return path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
}
