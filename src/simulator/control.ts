import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AppError, errorMessage } from '../errors.ts';
import { simCatalogSchema, simKeySchema } from './catalog.ts';
import { faultRuleFromInput, faultRuleInputSchema } from './faults.ts';
import { MUTATION_NAMES } from './mutate.ts';
import type { Simulator } from './server.ts';

/*
 * The control endpoint, for a simulator running in another process (the demo, benchmarks):
 *
 *   GET    /_simulator/health                      {ok, baseUrl}
 *   GET    /_simulator/catalog                     the live catalog (keys as public info)
 *   PUT    /_simulator/catalog                     replace it (catalog file format)
 *   POST   /_simulator/mutate                      {op: 'addProduct' | …, args: [...]} → {result}
 *   GET    /_simulator/keys                        registered keys (public info)
 *   POST   /_simulator/keys                        {publicKeyPem, keyId, issuerId, role?, appIds?, …} registers;
 *                                                  without publicKeyPem creates one and returns privateKeyPem
 *   PATCH  /_simulator/keys/{keyId}                {role?, appIds?, agreementsMissing?, rateLimitPerHour?}
 *   DELETE /_simulator/keys/{keyId}
 *   GET    /_simulator/faults | POST (a rule; RegExp as `pathPattern`) | DELETE (clear all)
 *   GET    /_simulator/requests                    {requests, counts}; DELETE resets them
 *   GET    /_simulator/counts[?keyId=K][&productId=P]  requests per endpoint template
 *   GET    /_simulator/counts?byProduct=1[&keyId=K]     {products: {productId: {endpoint: n}}} (details)
 *   GET    /_simulator/statuses[?keyId=K]          answers per HTTP status, e.g. {statuses: {200: 950, 429: 0}}
 *   GET    /_simulator/budget/{keyId}              {limit, remaining, windowMs} (nothing counted)
 *   PUT    /_simulator/settings                    {latencyMs?, rateLimit?: {perHour?, windowMs?, retryAfterSeconds?},
 *                                                  today?: 'YYYY-MM-DD' | null} (the day details are served for)
 *   POST   /_simulator/reset                       requests, faults, rate-limit windows, token cache
 *
 * Control requests are not Apple calls: they are not authenticated with JWTs, rate limited,
 * faulted or recorded. With `controlToken` set they need `x-simulator-token`.
 */

const MAX_BODY_BYTES = 512 * 1024 * 1024;

const mutateSchema = z
  .object({ op: z.enum(MUTATION_NAMES), args: z.array(z.unknown()).default([]) })
  .strict();
const createKeySchema = z
  .object({
    keyId: z.string().optional(),
    issuerId: z.string().optional(),
    role: z.string().optional(),
    appIds: z.union([z.literal('all'), z.array(z.string())]).optional(),
    agreementsMissing: z.boolean().optional(),
    rateLimitPerHour: z.number().int().positive().optional(),
  })
  .strict();
const keyPatchSchema = z
  .object({
    role: z.string().min(1).optional(),
    appIds: z.union([z.literal('all'), z.array(z.string())]).optional(),
    agreementsMissing: z.boolean().optional(),
    rateLimitPerHour: z.number().int().positive().optional(),
  })
  .strict();
const settingsSchema = z
  .object({
    latencyMs: z.number().int().nonnegative().optional(),
    /** The day details are served for (YYYY-MM-DD); null: the clock's date. */
    today: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .nullable()
      .optional(),
    rateLimit: z
      .object({
        perHour: z.number().int().positive().optional(),
        windowMs: z.number().int().positive().optional(),
        retryAfterSeconds: z.number().int().nonnegative().nullable().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

class ControlError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ControlError(413, 'Request body too large.');
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ControlError(400, 'The body is not valid JSON.');
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ControlError(400, `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export async function handleControl(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  token: string | undefined,
): Promise<void> {
  try {
    if (token !== undefined && req.headers['x-simulator-token'] !== token) {
      throw new ControlError(401, 'Send the control token in the x-simulator-token header.');
    }
    const [, , resource, id] = url.pathname.split('/');
    const method = req.method ?? 'GET';
    const route = `${method} ${resource ?? ''}${id === undefined ? '' : '/:id'}`;
    reply(res, 200, await dispatch(sim, req, url, route, id));
  } catch (error) {
    if (error instanceof ControlError) reply(res, error.status, { error: error.message });
    else if (error instanceof AppError)
      reply(res, error.kind === 'not_found' ? 404 : 400, { error: error.message });
    else reply(res, 400, { error: errorMessage(error) });
  }
}

async function dispatch(
  sim: Simulator,
  req: IncomingMessage,
  url: URL,
  route: string,
  id: string | undefined,
): Promise<unknown> {
  switch (route) {
    case 'GET health':
      return { ok: true, baseUrl: sim.baseUrl };
    case 'GET catalog':
      return { apps: sim.catalog.apps, keys: sim.keys.list() };
    case 'PUT catalog': {
      const catalog = parse(simCatalogSchema, await readJson(req));
      sim.replaceCatalog(catalog);
      return { ok: true, apps: catalog.apps.length };
    }
    case 'POST mutate': {
      const { op, args } = parse(mutateSchema, await readJson(req));
      const fn = sim.mutate[op] as (...values: unknown[]) => unknown;
      const result = fn(...args);
      return { result: result ?? null };
    }
    case 'GET keys':
      return { keys: sim.keys.list() };
    case 'POST keys': {
      const body = (await readJson(req)) as Record<string, unknown>;
      if (typeof body['publicKeyPem'] === 'string') {
        const key = sim.keys.register(parse(simKeySchema, body));
        return { keyId: key.keyId, issuerId: key.issuerId };
      }
      return await sim.createKey(parse(createKeySchema, body));
    }
    case 'PATCH keys/:id':
      return sim.keys.update(
        id!,
        parse(keyPatchSchema, await readJson(req)) as Parameters<Simulator['keys']['update']>[1],
      );
    case 'DELETE keys/:id':
      if (!sim.keys.remove(id!)) throw new ControlError(404, `No key ${id} is registered.`);
      return { ok: true };
    case 'GET faults':
      return {
        faults: sim.faults
          .list()
          .map((f) => ({ ...f, rule: { ...f.rule, path: String(f.rule.path ?? '') } })),
      };
    case 'POST faults':
      return { id: sim.faults.add(faultRuleFromInput(parse(faultRuleInputSchema, await readJson(req)))) };
    case 'DELETE faults':
      sim.faults.clear();
      return { ok: true };
    case 'GET requests':
      return { requests: sim.requests, counts: sim.requestCounts() };
    case 'DELETE requests':
      sim.resetRequests();
      return { ok: true };
    case 'GET counts': {
      const keyId = url.searchParams.get('keyId');
      const productId = url.searchParams.get('productId');
      if (url.searchParams.get('byProduct') === '1' || url.searchParams.get('byProduct') === 'true') {
        return { products: sim.detailRequestCounts(keyId ? { keyId } : {}) };
      }
      return {
        counts: sim.requestCounts({ ...(keyId ? { keyId } : {}), ...(productId ? { productId } : {}) }),
      };
    }
    case 'GET statuses': {
      const keyId = url.searchParams.get('keyId');
      return { statuses: sim.statusCounts(keyId ? { keyId } : {}) };
    }
    case 'GET budget/:id':
      return sim.budget(id!);
    case 'PUT settings': {
      const settings = parse(settingsSchema, await readJson(req));
      if (settings.latencyMs !== undefined) sim.setLatency(settings.latencyMs);
      if (settings.rateLimit) sim.setRateLimit(settings.rateLimit);
      if (settings.today !== undefined) sim.setToday(settings.today);
      return { settings: sim.settings, today: sim.today() };
    }
    case 'POST reset':
      sim.reset();
      return { ok: true };
    default:
      throw new ControlError(
        404,
        `No control route ${route.replace(':id', id ?? '')}; see src/simulator/control.ts.`,
      );
  }
}
