import { performance } from 'node:perf_hooks';
import express, { type Request, type Response, type Router } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { z } from 'zod';
import type { AppContext } from '../../app/context.ts';
import { asAppError } from '../../database/errors.ts';
import { AppError, InvalidInputError } from '../../errors.ts';
import {
  type Claim,
  claimIdempotencyKey,
  parseIdempotencyKey,
  requestHash,
} from '../../idempotency/index.ts';
import { authenticateToken } from '../../tokens/index.ts';
import { problem, problemOf, sendProblem } from '../problem.ts';
import { expressPath, type RouteSpec } from './define.ts';
import { openApiDocument } from './openapi.ts';
import { routes as defaultRoutes } from './routes.ts';

/*
 * The HTTP API's express router (mounted at /api/v1). Every route goes through the same steps:
 * service token (constant-time, revocation seen at once), per-token rate limit, scope, content
 * type and body bound, strict validation of params, query and body, Idempotency-Key on writes,
 * then the route's src/app call; any failure is a problem+json answer. Each request is logged
 * with the token's name, never its value.
 */

export interface ApiOptions {
  ctx: AppContext;
  /** Default: every route of routes.ts. */
  routes?: RouteSpec[];
}

/** A refusal before the route runs (token, scope, media type, body), answered as a problem. */
class Refusal extends Error {
  readonly status: number;
  readonly kind: string;
  readonly field: string | undefined;
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    kind: string,
    message: string,
    field?: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.kind = kind;
    this.field = field;
    this.headers = headers;
  }
}

/** The first zod issue as the field it names and what is wrong with it. */
function invalid(location: 'path' | 'query' | 'body', error: z.ZodError): InvalidInputError {
  // An unknown field first: a misspelt one also shows as a missing one, and the typo is the cause.
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const where = [...issue.path, key].join('.');
    return new InvalidInputError(
      where,
      `unknown ${location === 'query' ? 'query parameter' : 'field'}; this endpoint does not take it (the OpenAPI document at /api/v1/openapi.json lists what it takes).`,
    );
  }
  const field = issue.path.join('.') || location;
  return new InvalidInputError(field, issue.message);
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, location: 'path' | 'query' | 'body') {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid(location, parsed.error);
  return parsed.data as z.output<T>;
}

function withTimeout<T>(work: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new AppError(
            'timeout',
            `${operation} did not finish within ${ms} ms; it goes on in the background. Ask again in a ` +
              'moment, or follow the project with GET /projects/{projectId}/status.',
            { retryable: true },
          ),
        ),
      ms,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function apiRouter(options: ApiOptions): Router {
  const { ctx } = options;
  const routes = options.routes ?? defaultRoutes;
  const config = ctx.config;
  const limiter = new RateLimiterMemory({ points: config.api.rateLimitPerMinute, duration: 60 });
  // One parser per body limit: most routes take API_MAX_BODY_BYTES, those taking transactions more.
  const parsers = new Map<number, ReturnType<typeof express.json>>();
  const parserFor = (limit: number) => {
    let parser = parsers.get(limit);
    if (!parser) {
      parser = express.json({ limit, strict: true, type: () => true });
      parsers.set(limit, parser);
    }
    return parser;
  };
  const router = express.Router({ strict: true });
  let document: string | undefined;

  router.get('/openapi.json', (_req, res) => {
    document ??= `${JSON.stringify(openApiDocument(routes), null, 2)}\n`;
    res.status(200).set({ 'content-type': 'application/json; charset=utf-8' }).send(document);
  });

  const readBody = (req: Request, res: Response, limit: number) =>
    new Promise<void>((resolve, reject) => {
      parserFor(limit)(req, res, (error?: unknown) => {
        if (!error) return resolve();
        const type = (error as { type?: string }).type;
        if (type === 'entity.too.large') {
          reject(new Refusal(413, 'body_too_large', `The body is over ${limit} bytes; send less.`));
        } else if (type === 'entity.parse.failed') {
          reject(
            new Refusal(400, 'malformed_json', 'The body is not valid JSON; send one JSON object.', 'body'),
          );
        } else if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
          reject(new Refusal(415, 'unsupported_media_type', 'Send the body as UTF-8 JSON.'));
        } else {
          reject(error);
        }
      });
    });

  const handle = (spec: RouteSpec) => async (req: Request, res: Response) => {
    const started = performance.now();
    let who: { id: string; name: string } | undefined;
    res.on('finish', () => {
      ctx.logger.info(
        {
          method: req.method,
          route: spec.path,
          operation: spec.operationId,
          status: res.statusCode,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          tokenName: who?.name ?? null,
          tokenId: who?.id ?? null,
        },
        'api request',
      );
    });
    let claim: Claim | undefined;
    try {
      const header = req.headers.authorization ?? '';
      const bearer = /^Bearer ([^\s]+)$/i.exec(header)?.[1];
      if (!bearer) {
        throw new Refusal(
          401,
          'unauthorized',
          'Send a service token as Authorization: Bearer <token> (create one with `catalog-sync tokens create`).',
          undefined,
          { 'www-authenticate': 'Bearer' },
        );
      }
      const auth = await authenticateToken(ctx, bearer);
      if (!auth.ok) {
        throw new Refusal(
          401,
          auth.reason === 'revoked' ? 'token_revoked' : 'unauthorized',
          auth.reason === 'revoked'
            ? 'This token was revoked; create a new one with `catalog-sync tokens create`.'
            : 'This token is not one of this service’s tokens; create one with `catalog-sync tokens create`.',
          undefined,
          { 'www-authenticate': 'Bearer error="invalid_token"' },
        );
      }
      who = auth.token;
      try {
        await limiter.consume(auth.token.id);
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) throw error;
        const seconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
        throw new Refusal(
          429,
          'rate_limited',
          `This token made more than ${config.api.rateLimitPerMinute} requests in a minute; retry in ${seconds} s.`,
          undefined,
          { 'retry-after': String(seconds) },
        );
      }
      if (spec.scope === 'write' && auth.token.scope !== 'write') {
        throw new Refusal(
          403,
          'insufficient_scope',
          `Token ${JSON.stringify(auth.token.name)} may only read; this route writes (create a token with --scope write).`,
        );
      }
      const params = spec.params ? parseWith(spec.params, req.params, 'path') : {};
      const query = spec.query ? parseWith(spec.query, req.query ?? {}, 'query') : {};
      if (!spec.query && Object.keys(req.query ?? {}).length > 0) {
        throw new InvalidInputError(
          Object.keys(req.query)[0]!,
          'unknown query parameter; this endpoint takes none.',
        );
      }
      let body: unknown = {};
      if (spec.body) {
        const hasBody =
          Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
        if (hasBody) {
          if (!req.is('application/json')) {
            throw new Refusal(
              415,
              'unsupported_media_type',
              'Send the body as JSON with Content-Type: application/json.',
              'Content-Type',
            );
          }
          await readBody(req, res, spec.maxBodyBytes?.(config) ?? config.api.maxBodyBytes);
          body = req.body;
        } else if (!spec.bodyOptional) {
          throw new Refusal(400, 'invalid_input', 'This endpoint takes a JSON body; send one.', 'body');
        }
        body = parseWith(spec.body, body, 'body');
      }
      const key = req.headers['idempotency-key'];
      if (key !== undefined && spec.scope === 'write') {
        const idempotencyKey = parseIdempotencyKey(Array.isArray(key) ? key[0] : key);
        claim = await claimIdempotencyKey(ctx, {
          tokenId: auth.token.id,
          key: idempotencyKey,
          method: req.method,
          path: req.path,
          hash: requestHash(req.method, req.baseUrl + req.path, req.body ?? null),
        });
        if (claim.kind === 'replay') {
          res
            .status(claim.answer.status)
            .set({ 'content-type': 'application/json; charset=utf-8', 'idempotent-replayed': 'true' });
          res.send(JSON.stringify(claim.answer.body));
          return;
        }
      }
      const work = spec.run(ctx, { params, query, body });
      const result = await (spec.timeoutMs
        ? withTimeout(work, spec.timeoutMs(config), spec.operationId)
        : work);
      const text = JSON.stringify(result);
      if (claim?.kind === 'claimed') await claim.complete({ status: spec.status, body: JSON.parse(text) });
      res
        .status(spec.status)
        .set({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.send(text);
    } catch (error) {
      if (claim?.kind === 'claimed') await claim.release().catch(() => {});
      if (error instanceof Refusal) {
        return sendProblem(
          res,
          problem(error.status, error.kind, error.message, error.field ? { field: error.field } : {}),
          error.headers,
        );
      }
      const shown = asAppError(error, { doing: `answering ${spec.operationId}` });
      const answer = problemOf(shown);
      if (answer.status >= 500)
        ctx.logger.error({ err: error, operation: spec.operationId }, 'API request failed');
      sendProblem(res, answer, answer.status === 503 ? { 'retry-after': '5' } : {});
    }
  };

  for (const spec of routes) router[spec.method](expressPath(spec.path), handle(spec));
  router.use((req, res) => {
    const known = routes.filter((r) =>
      new RegExp(`^${expressPath(r.path).replace(/:[A-Za-z0-9_]+/g, '[^/]+')}$`).test(req.path),
    );
    if (known.length > 0) {
      const allowed = known.map((r) => r.method.toUpperCase()).join(', ');
      return sendProblem(
        res,
        problem(405, 'method_not_allowed', `${req.method} is not allowed here; use ${allowed}.`),
        { allow: allowed },
      );
    }
    sendProblem(res, problem(404, 'not_found', 'No such API route; /api/v1/openapi.json lists them.'));
  });
  return router;
}
