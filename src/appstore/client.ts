import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { getLogger, type Logger } from '../log/logger.ts';
import {
  type AppleErrorInfo,
  documentTooDeepError,
  errorFromResponse,
  transientNetworkError,
} from './errors.ts';
import { buildUrl, collectPages, DEFAULT_PAGE_LIMIT, type Query } from './pagination.ts';
import { exceedsJsonDepth, parseBody } from './parse.ts';
import { parseRateLimit } from './rate-limit.ts';
import {
  type App,
  appSchema,
  errorBodySchema,
  type GenericResource,
  genericPagedDocumentSchema,
  pagedDocumentSchema,
  type UnknownEnumValue,
} from './resources.ts';
import { isRetryableStatus, parseRetryAfter, retryDelay } from './retry.ts';
import { createSemaphore } from './semaphore.ts';
import { type ClientStats, createStatsRecorder } from './stats.ts';
import { createTokenProvider } from './token.ts';
import { createTransport, NetworkFailure, type RawResponse } from './transport.ts';

/** Emitted after every HTTP attempt (retries included); never carries a header or token. */
export interface ResponseEvent {
  /** The key that made the request (a Key ID is not a secret): rate limits are per key. */
  keyId: string;
  callSite: string;
  method: 'GET';
  /** Path without query string. */
  path: string;
  /** Undefined when no response came (reset, timeout). */
  status: number | undefined;
  attempt: number;
  durationMs: number;
  rateLimit: Record<string, number> | undefined;
}

export interface AppStoreClientOptions {
  /** `https://api.appstoreconnect.apple.com`, or the simulator's URL. */
  baseUrl: string;
  keyId: string;
  issuerId: string;
  /** Returns the .p8 PEM; called only when a token must be minted (decrypt-on-demand). */
  loadPrivateKey: () => Promise<string>;
  /** Shares minted tokens with other clients of the same key (see TokenProviderOptions). */
  tokenCacheKey?: string | undefined;
  logger?: Logger;
  connectTimeoutMs?: number;
  responseTimeoutMs?: number;
  /** Retries after the first attempt, for 429, 5xx and network failures. */
  maxRetries?: number;
  /** Upper bound on any single wait, including a server's Retry-After. */
  retryCapMs?: number;
  maxPages?: number;
  /** Requests in flight at once (Apple throttles bursts even with hourly budget left). */
  concurrency?: number;
  /** Largest response body accepted, counted after decompression (bytes). */
  maxResponseBytes?: number;
  /** Deepest nesting of arrays/objects accepted in a JSON document. */
  maxJsonDepth?: number;
  /** Apple's error `detail` is cut to this many characters in messages. */
  maxErrorDetailChars?: number;
  /** First backoff ceiling (doubles per retry). */
  backoffBaseMs?: number;
  onResponse?: (event: ResponseEvent) => void;
  /** Injected for tests: clock (ms since epoch), sleep and jitter source. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const clientDefaults = {
  connectTimeoutMs: 5_000,
  responseTimeoutMs: 30_000,
  maxRetries: 4,
  retryCapMs: 60_000,
  maxPages: 1_000,
  concurrency: 8,
  backoffBaseMs: 500,
  maxResponseBytes: 32 * 1024 * 1024,
  maxJsonDepth: 64,
  maxErrorDetailChars: 500,
} as const;

/** A rate-limited request's suggested wait when Apple sends no Retry-After. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;

/** A paginated schema: an item schema, or a whole paged-document schema (its `data` items). */
type ItemOf<S extends z.ZodType> = z.output<S> extends { data: Array<infer I> } ? I : z.output<S>;

export interface PaginatedResult<T> {
  data: T[];
  included: unknown[];
}

export interface AppStoreClient {
  /** One GET (with retries), parsed by `schema`. `pathOrUrl` is a path or a same-origin URL. */
  getDocument<S extends z.ZodType>(
    pathOrUrl: string,
    query: Query | undefined,
    schema: S,
    callSite?: string,
  ): Promise<z.output<S>>;
  /**
   * All pages of a collection (limit=200 unless given), or throws: never a partial list.
   * `schema` is an item schema, a paged-document schema, or undefined (generic resources).
   */
  paginate<S extends z.ZodType>(
    path: string,
    query: Query | undefined,
    schema: S,
    callSite?: string,
  ): Promise<PaginatedResult<ItemOf<S>>>;
  paginate(
    path: string,
    query: Query | undefined,
    schema?: undefined,
    callSite?: string,
  ): Promise<PaginatedResult<GenericResource>>;
  /** All apps the key sees (GET /v1/apps, all pages, fields[apps]=name,bundleId,sku,primaryLocale). */
  listApps(): Promise<App[]>;
  // The catalog itself is read by src/sync/fetch.ts with the fewest requests its shape allows.
  stats(): ClientStats;
  /**
   * Stops this client: requests in flight are aborted, later ones fail (kind `client_closed`).
   * The keep-alive sockets are shared by the process and stay open (see closeSharedAgents()).
   */
  close(): void;
}

/** `/v1/apps/123/inAppPurchasesV2` → `GET /v1/apps/{id}/inAppPurchasesV2` (default call site). */
export function endpointTemplate(pathname: string): string {
  return `GET ${pathname.replace(/\/(\d+|[0-9a-f-]{36})(?=\/|$)/gi, '/{id}')}`;
}

/**
 * The page schema for an item schema, built once: zod compiles an object schema's parser on its
 * first use, so a schema built per call cost that compilation on every listing of every sync.
 */
const pageSchemas = new WeakMap<z.ZodType, z.ZodType>();
function pageSchemaOf(itemSchema: z.ZodType): z.ZodType {
  let page = pageSchemas.get(itemSchema);
  if (!page) {
    page = pagedDocumentSchema(itemSchema);
    pageSchemas.set(itemSchema, page);
  }
  return page;
}

function isDocumentSchema(schema: z.ZodType): boolean {
  return schema instanceof z.ZodObject && schema.shape.data instanceof z.ZodArray;
}

function appleErrorOf(body: string): AppleErrorInfo | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = errorBodySchema.safeParse(json);
  if (!parsed.success) return undefined;
  const first = parsed.data.errors[0]!;
  return { code: first.code, title: first.title, detail: first.detail };
}

function header(response: RawResponse, name: string): string | string[] | undefined {
  return response.headers[name];
}

export function createAppStoreClient(options: AppStoreClientOptions): AppStoreClient {
  const settings = {
    connectTimeoutMs: options.connectTimeoutMs ?? clientDefaults.connectTimeoutMs,
    responseTimeoutMs: options.responseTimeoutMs ?? clientDefaults.responseTimeoutMs,
    maxRetries: options.maxRetries ?? clientDefaults.maxRetries,
    retryCapMs: options.retryCapMs ?? clientDefaults.retryCapMs,
    maxPages: options.maxPages ?? clientDefaults.maxPages,
    concurrency: options.concurrency ?? clientDefaults.concurrency,
    backoffBaseMs: options.backoffBaseMs ?? clientDefaults.backoffBaseMs,
    maxResponseBytes: options.maxResponseBytes ?? clientDefaults.maxResponseBytes,
    maxJsonDepth: options.maxJsonDepth ?? clientDefaults.maxJsonDepth,
    maxErrorDetailChars: options.maxErrorDetailChars ?? clientDefaults.maxErrorDetailChars,
  };
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const logger = options.logger ?? getLogger();
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;
  const tokens = createTokenProvider({
    keyId: options.keyId,
    issuerId: options.issuerId,
    loadPrivateKey: options.loadPrivateKey,
    cacheKey: options.tokenCacheKey,
    now,
  });
  const transport = createTransport({
    connectTimeoutMs: settings.connectTimeoutMs,
    responseTimeoutMs: settings.responseTimeoutMs,
    maxResponseBytes: settings.maxResponseBytes,
  });
  const semaphore = createSemaphore(settings.concurrency);
  const stats = createStatsRecorder();
  const warned = new Set<string>();

  const warnUnknownEnums = (values: UnknownEnumValue[], callSite: string) => {
    for (const { field, value } of values) {
      const key = `${field}\u0000${value}`;
      if (warned.has(key)) continue;
      warned.add(key);
      logger.warn(
        { field, value, callSite },
        'App Store Connect sent an enum value this worker does not know; it is kept as received',
      );
    }
  };

  const emit = (event: Omit<ResponseEvent, 'keyId'>) => {
    if (!options.onResponse) return;
    try {
      options.onResponse({ ...event, keyId: options.keyId });
    } catch (error) {
      logger.warn({ err: error, callSite: event.callSite }, 'onResponse hook failed');
    }
  };

  type Attempt =
    | { ok: true; response: RawResponse; token: string }
    | { ok: false; failure: NetworkFailure; token: string };

  const attemptOnce = (url: URL, callSite: string, attempt: number): Promise<Attempt> =>
    semaphore.run(async () => {
      const token = await tokens.get();
      const started = now();
      let outcome: Attempt;
      try {
        const response = await transport.get(url, {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
        });
        outcome = { ok: true, response, token };
      } catch (error) {
        if (!(error instanceof NetworkFailure)) throw error;
        outcome = { ok: false, failure: error, token };
      }
      const status = outcome.ok ? outcome.response.status : undefined;
      const rateLimit = outcome.ok ? parseRateLimit(header(outcome.response, 'x-rate-limit')) : undefined;
      stats.record(callSite, status, rateLimit);
      emit({
        callSite,
        method: 'GET',
        path: url.pathname,
        status,
        attempt,
        durationMs: now() - started,
        rateLimit,
      });
      return outcome;
    });

  /** One GET with the retry rules; resolves with the parsed JSON body of a 2xx. */
  const requestJson = async (url: URL, callSite: string): Promise<unknown> => {
    const request = `GET ${url.pathname}`;
    let retries = 0;
    let attempts = 0;
    let refreshedAfter401 = false;

    const backOff = async (reason: string, retryAfterMs: number | undefined) => {
      const wait = retryDelay(
        retries,
        retryAfterMs,
        { baseMs: settings.backoffBaseMs, capMs: settings.retryCapMs },
        random,
      );
      logger.debug({ callSite, path: url.pathname, reason, retry: retries + 1, waitMs: wait }, 'retrying');
      retries++;
      await sleep(wait);
    };

    for (;;) {
      attempts++;
      const outcome = await attemptOnce(url, callSite, attempts);

      if (!outcome.ok) {
        if (retries < settings.maxRetries) {
          await backOff(outcome.failure.code, undefined);
          continue;
        }
        throw transientNetworkError(request, outcome.failure.message, attempts);
      }

      const { response } = outcome;
      const { status } = response;
      if (status >= 200 && status < 300) {
        let json: unknown;
        try {
          json = JSON.parse(response.body);
        } catch {
          // A truncated or garbled body is a transport fault: the same GET may well succeed.
          if (retries < settings.maxRetries) {
            await backOff('unreadable body', undefined);
            continue;
          }
          throw transientNetworkError(request, `HTTP ${status} with a body that is not JSON`, attempts);
        }
        if (exceedsJsonDepth(json, settings.maxJsonDepth))
          throw documentTooDeepError(request, settings.maxJsonDepth);
        return json;
      }

      if (status === 401 && !refreshedAfter401) {
        // An expired or rejected token: one more try with a freshly minted one.
        refreshedAfter401 = true;
        tokens.invalidate(outcome.token);
        continue;
      }

      const retryAfterMs = parseRetryAfter(header(response, 'retry-after'), now());
      if (isRetryableStatus(status) && retries < settings.maxRetries) {
        await backOff(`HTTP ${status}`, retryAfterMs);
        continue;
      }
      throw errorFromResponse({
        status,
        apple: appleErrorOf(response.body),
        request,
        retryAfterMs: status === 429 ? (retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS) : retryAfterMs,
        attempts,
        detailMaxChars: settings.maxErrorDetailChars,
      });
    }
  };

  const fetchParsed = async <S extends z.ZodType>(
    url: URL,
    schema: S,
    callSite: string,
  ): Promise<z.output<S>> => {
    const body = await requestJson(url, callSite);
    const parsed = parseBody(schema, body, `GET ${url.pathname}`);
    warnUnknownEnums(parsed.unknownEnumValues, callSite);
    return parsed.value;
  };

  const getDocument: AppStoreClient['getDocument'] = async (pathOrUrl, query, schema, callSite) => {
    const url = buildUrl(baseUrl, pathOrUrl, query);
    return fetchParsed(url, schema, callSite ?? endpointTemplate(url.pathname));
  };

  async function paginate<S extends z.ZodType>(
    path: string,
    query: Query | undefined,
    schema: S,
    callSite?: string,
  ): Promise<PaginatedResult<ItemOf<S>>>;
  async function paginate(
    path: string,
    query: Query | undefined,
    schema?: undefined,
    callSite?: string,
  ): Promise<PaginatedResult<GenericResource>>;
  async function paginate<S extends z.ZodType>(
    path: string,
    query: Query | undefined,
    schema: S | undefined,
    callSite?: string,
  ): Promise<PaginatedResult<ItemOf<S>>> {
    const pageSchema = (
      schema === undefined
        ? genericPagedDocumentSchema
        : isDocumentSchema(schema)
          ? schema
          : pageSchemaOf(schema)
    ) as z.ZodType<{ data: ItemOf<S>[]; included?: unknown[]; links?: { next?: string | null } }>;
    const first = buildUrl(baseUrl, path, { limit: DEFAULT_PAGE_LIMIT, ...query });
    const site = callSite ?? endpointTemplate(first.pathname);
    const { data, included } = await collectPages(first, (url) => fetchParsed(url, pageSchema, site), {
      baseUrl,
      maxPages: settings.maxPages,
    });
    return { data, included };
  }

  return {
    getDocument,
    paginate,
    async listApps() {
      const { data } = await paginate(
        '/v1/apps',
        { 'fields[apps]': 'name,bundleId,sku,primaryLocale' },
        appSchema,
        'apps',
      );
      return data;
    },
    stats: () => stats.snapshot(),
    close: () => transport.close(),
  };
}
