import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { getLogger, type Logger } from '../log/logger.ts';
import {
  type AppleErrorResponse,
  agreementsMissing,
  forbiddenRole,
  methodNotAllowed,
  notAuthorized,
  notFound,
  pathError,
  rateLimited,
  unexpected,
} from './apple-errors.ts';
import {
  type KeyInfo,
  type KeyPatch,
  KeyRegistry,
  type RegisteredKey,
  TokenVerifier,
  toInfo,
} from './auth.ts';
import { CATALOG_ROLES, type SimCatalog, type SimKeyInput, simCatalogSchema } from './catalog.ts';
import { handleControl } from './control.ts';
import { CursorCodec } from './cursor.ts';
import { CATALOG_INCLUDES } from './endpoints.ts';
import { type FaultAction, FaultInjector, type FaultRule } from './faults.ts';
import { generateKeyPair, randomIssuerId, randomKeyId, writeP8 } from './keys.ts';
import { createMutations, type SimMutations } from './mutate.ts';
import { parseQuery } from './parameters.ts';
import { HOUR_MS, type RateDecision, RollingHourLimiter, rateLimitHeader } from './rate-limit.ts';
import { matchRoute } from './routes.ts';
import { CatalogStore } from './store.ts';

export interface SimulatorOptions {
  /** The catalog to serve (default: empty). Keys listed in it are registered. */
  catalog?: SimCatalog;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Base of the links in documents; default: from the request's Host header, else baseUrl. */
  publicUrl?: string;
  /** Added to every request (benchmarks use 50–100 ms to stand in for Apple's latency). */
  latencyMs?: number;
  /**
   * The hourly budget per key (default 3600), the length of the rolling "hour" (default
   * 3,600,000 ms; tests scale it down) and the `Retry-After` sent with 429s (default none).
   */
  rateLimit?: RateLimitSettings;
  /** The clock for token and rate-limit checks (epoch ms); tests may move it. */
  now?: () => number;
  /**
   * The day (YYYY-MM-DD) the details are served for: prices in force on it and scheduled after
   * it. Default: the UTC date of `now()`. Lets a test step past a scheduled price change without
   * moving the clock tokens are checked against (see also `setToday`).
   */
  today?: string;
  /** When set, `/_simulator/...` requires the header `x-simulator-token: <value>`. */
  controlToken?: string;
  /** Entries kept in `requests` (counts are kept regardless). Default 100,000. */
  maxRequestLog?: number;
  /** Called after each API request is answered (e.g. to log it). */
  onRequest?: (entry: SimRequest) => void;
  logger?: Logger;
}

export interface RateLimitSettings {
  perHour?: number;
  windowMs?: number;
  retryAfterSeconds?: number | null;
}

export interface SimRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** 0 when the connection was reset by a fault. */
  status: number;
  keyId: string | null;
  at: Date;
  /** e.g. `GET /v1/apps/{id}/inAppPurchasesV2`. */
  endpoint: string;
  durationMs: number;
  /** Why a request was refused (401 detail) or which fault fired; never a token. */
  note?: string;
  /**
   * The Apple id of the product a detail request is about (also when the path names one of its
   * offers, its price schedule or its availability); null for other requests.
   */
  productId: string | null;
}

export interface CreateKeyOptions {
  role?: string;
  appIds?: string[] | 'all';
  agreementsMissing?: boolean;
  keyId?: string;
  issuerId?: string;
  rateLimitPerHour?: number;
  /** Writes `AuthKey_<KEYID>.p8` into this folder. */
  dir?: string;
}

export interface CreatedKey {
  keyId: string;
  issuerId: string;
  privateKeyPem: string;
  p8Path?: string;
}

export interface Simulator {
  readonly baseUrl: string;
  readonly port: number;
  /** The live catalog. Prefer `mutate`; direct edits are seen too (reading this marks indexes stale). */
  readonly catalog: SimCatalog;
  createKey(options?: CreateKeyOptions): Promise<CreatedKey>;
  keys: {
    /** Registers a key whose private half is kept elsewhere. */
    register(input: SimKeyInput): KeyInfo;
    update(keyId: string, patch: KeyPatch): KeyInfo;
    remove(keyId: string): boolean;
    list(): KeyInfo[];
  };
  mutate: SimMutations;
  faults: {
    add(rule: FaultRule): string;
    remove(id: string): boolean;
    clear(): void;
    list(): ReturnType<FaultInjector['list']>;
  };
  readonly requests: readonly SimRequest[];
  /** Requests per endpoint template, optionally for one key and/or one product only. */
  requestCounts(filter?: { keyId?: string; productId?: string }): Record<string, number>;
  /** Answers per HTTP status (e.g. `{200: 950, 429: 0}`), optionally for one key; kept regardless of the log. */
  statusCounts(filter?: { keyId?: string }): Record<string, number>;
  /** A key's hourly budget as the next response's X-Rate-Limit would tell it (nothing counted). */
  budget(keyId: string): { limit: number; remaining: number; windowMs: number };
  /** Detail requests per product (Apple id), then per endpoint template; optionally for one key. */
  detailRequestCounts(filter?: { keyId?: string }): Record<string, Record<string, number>>;
  resetRequests(): void;
  /** Forgets every key's rolling-hour usage. */
  resetRateLimits(): void;
  setLatency(ms: number): void;
  setRateLimit(limit: RateLimitSettings): void;
  /** Serve the details as on this day (YYYY-MM-DD); null: the clock's UTC date again. */
  setToday(day: string | null): void;
  /** The day the details are served for (YYYY-MM-DD). */
  today(): string;
  readonly settings: {
    latencyMs: number;
    perHour: number;
    windowMs: number;
    retryAfterSeconds: number | null;
  };
  /** Replaces the catalog (and registers its keys). */
  replaceCatalog(catalog: SimCatalog): void;
  /** Clears requests, faults, rate-limit windows and cached tokens. */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_RATE_LIMIT_PER_HOUR = 3600;

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
  note?: string;
}

const json = (error: AppleErrorResponse, headers: Record<string, string> = {}, note?: string): Answer => ({
  status: error.status,
  body: JSON.stringify(error.body),
  headers: { ...error.headers, ...headers },
  ...(note ? { note } : {}),
});

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const now = options.now ?? Date.now;
  const logger = options.logger ?? getLogger();
  const store = new CatalogStore(options.catalog ?? { apps: [] });
  const registry = new KeyRegistry();
  const verifier = new TokenVerifier(registry, now);
  registry.onChange = () => verifier.clearCache();
  const settings = {
    latencyMs: options.latencyMs ?? 0,
    perHour: options.rateLimit?.perHour ?? DEFAULT_RATE_LIMIT_PER_HOUR,
    windowMs: options.rateLimit?.windowMs ?? HOUR_MS,
    retryAfterSeconds: options.rateLimit?.retryAfterSeconds ?? null,
  };
  let fixedToday: string | null = options.today ?? null;
  const today = () => fixedToday ?? new Date(now()).toISOString().slice(0, 10);
  const limiter = new RollingHourLimiter(now, () => settings.windowMs);
  const faults = new FaultInjector();
  const cursors = new CursorCodec();
  const mutate = createMutations(store, today);
  const maxLog = options.maxRequestLog ?? 100_000;
  let requests: SimRequest[] = [];
  const counts = new Map<string, number>();
  /** Detail requests per product and endpoint, kept regardless of the log's size. */
  const productCounts = new Map<string, Map<string, number>>();
  const statuses = new Map<string, number>();
  for (const key of options.catalog?.keys ?? []) registry.register(key);

  const limitFor = (key: RegisteredKey) => key.rateLimitPerHour ?? settings.perHour;

  const rateHeaders = (decision: RateDecision) => ({ 'X-Rate-Limit': rateLimitHeader(decision) });
  const peekHeaders = (keyId: string | undefined): Record<string, string> => {
    const key = keyId ? registry.get(keyId) : undefined;
    const limit = key ? limitFor(key) : settings.perHour;
    return rateHeaders(key ? limiter.peek(key.keyId, limit) : { allowed: true, limit, remaining: limit });
  };

  function record(entry: SimRequest): void {
    requests.push(entry);
    if (requests.length > maxLog) requests = requests.slice(requests.length - Math.floor(maxLog / 2));
    counts.set(entry.endpoint, (counts.get(entry.endpoint) ?? 0) + 1);
    statuses.set(String(entry.status), (statuses.get(String(entry.status)) ?? 0) + 1);
    if (entry.productId !== null) {
      let perEndpoint = productCounts.get(entry.productId);
      if (!perEndpoint) {
        perEndpoint = new Map();
        productCounts.set(entry.productId, perEndpoint);
      }
      perEndpoint.set(entry.endpoint, (perEndpoint.get(entry.endpoint) ?? 0) + 1);
    }
    options.onRequest?.(entry);
  }

  function baseFor(req: IncomingMessage): string {
    if (options.publicUrl) return options.publicUrl.replace(/\/+$/, '');
    const host = req.headers.host;
    return host ? `http://${host}` : simulator.baseUrl;
  }

  /** Everything after authentication: Apple's order of checks, then the endpoint. */
  async function answer(req: IncomingMessage, url: URL, method: string): Promise<Answer> {
    const auth = await verifier.verify(req.headers.authorization, method, url);
    if (!auth.ok) return json(notAuthorized(), peekHeaders(auth.keyId), auth.reason);
    const key = auth.key;
    const decision = limiter.take(key.keyId, limitFor(key));
    const headers = rateHeaders(decision);
    if (!decision.allowed) {
      const retry = settings.retryAfterSeconds;
      return json(rateLimited(), retry === null ? headers : { ...headers, 'Retry-After': String(retry) });
    }
    if (key.agreementsMissing) return json(agreementsMissing(), headers);
    const matched = matchRoute(url.pathname);
    if (!matched) return json(pathError(url.pathname), headers);
    if (method !== 'GET') return json(methodNotAllowed(method, url.pathname), headers);
    const parsed = parseQuery(matched.route.template, url.searchParams);
    if (!parsed.ok) return json(parsed.error, headers);
    const revealsCatalog =
      matched.route.catalog || [...parsed.query.include].some((name) => CATALOG_INCLUDES.has(name));
    if (revealsCatalog && !CATALOG_ROLES.has(key.role))
      return json(forbiddenRole(), headers, `role ${key.role}`);
    const result = matched.route.endpoint({
      store,
      key,
      query: parsed.query,
      url,
      base: baseFor(req),
      id: matched.id,
      cursors,
      today: today(),
    });
    if (result.status !== 200) return json(result as AppleErrorResponse, headers);
    return { status: 200, body: (result as { body: string }).body, headers };
  }

  function faultAnswer(action: Extract<FaultAction, { kind: 'status' }>, keyId: string | undefined): Answer {
    const headers = peekHeaders(keyId);
    if (action.retryAfterSeconds !== undefined) headers['Retry-After'] = String(action.retryAfterSeconds);
    const { status } = action;
    const note = `fault ${status}`;
    if (status === 429) return json(rateLimited(), headers, note);
    if (status === 401) return json(notAuthorized(), headers, note);
    if (status === 403) return json(forbiddenRole(), headers, note);
    if (status === 404) return json(notFound('unknown', 'unknown'), headers, note);
    if (status >= 502 && status <= 504) {
      // Gateways in front of Apple answer with HTML, not JSON: clients must cope.
      const text =
        status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Unavailable' : 'Gateway Timeout';
      return {
        status,
        body: `<html><head><title>${status} ${text}</title></head><body><h1>${text}</h1></body></html>\n`,
        headers: { ...headers, 'Content-Type': 'text/html; charset=utf-8' },
        note,
      };
    }
    const error = unexpected();
    error.status = status;
    for (const item of error.body.errors) item.status = String(status);
    return json(error, headers, note);
  }

  function send(res: ServerResponse, reply: Answer, corrupt: 'malformed' | 'truncated' | undefined): void {
    let body = Buffer.from(reply.body);
    const headers: Record<string, string> = { 'Content-Type': 'application/json', ...reply.headers };
    if (corrupt === 'malformed') {
      body = Buffer.concat([
        body.subarray(0, Math.floor(body.length / 2)),
        Buffer.from('\u0000}{"errors":['),
      ]);
    }
    if (corrupt === 'truncated') {
      // Announce the full length, send half, then close: the client sees a premature end.
      res.writeHead(reply.status, { ...headers, 'Content-Length': String(body.length) });
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.writeHead(reply.status, { ...headers, 'Content-Length': String(body.length) });
    res.end(body);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const matched = matchRoute(url.pathname);
    const endpoint = `${method} ${matched ? matched.route.template : url.pathname}`;
    const entry: SimRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      keyId: null,
      at: new Date(now()),
      endpoint,
      durationMs: 0,
      productId: productOf(matched?.route.product, matched?.id),
    };
    // The key is read (not trusted) for accounting and fault headers; auth decides later.
    entry.keyId = readKeyId(req.headers.authorization) ?? null;
    const fault = faults.apply({
      method,
      path: url.pathname,
      pathWithQuery: `${url.pathname}${url.search}`,
      template: matched?.route.template,
    });
    const delay = settings.latencyMs + fault.latencyMs;
    if (delay > 0) await sleep(delay);
    if (fault.action?.kind === 'reset') {
      entry.note = 'fault reset';
      entry.durationMs = performance.now() - started;
      record(entry);
      req.socket.destroy();
      return;
    }
    let reply: Answer;
    if (fault.action?.kind === 'status') {
      reply = faultAnswer(fault.action, entry.keyId ?? undefined);
    } else {
      try {
        reply = await answer(req, url, method);
      } catch (error) {
        logger.error({ err: error, path: url.pathname }, 'simulator: unexpected error answering a request');
        reply = json(unexpected(), peekHeaders(entry.keyId ?? undefined), 'simulator error');
      }
    }
    const corrupt = fault.action?.kind === 'body' ? fault.action.body : undefined;
    send(res, reply, corrupt);
    entry.status = reply.status;
    if (reply.note) entry.note = reply.note;
    if (corrupt) entry.note = `fault ${corrupt} body`;
    entry.durationMs = performance.now() - started;
    record(entry);
  }

  /** The product a request's `{id}` belongs to, for the per-product accounting. */
  function productOf(kind: 'id' | 'offer' | undefined, id: string | undefined): string | null {
    if (!kind || id === undefined) return null;
    if (kind === 'id') return id;
    const offer = store.detailsIndex().offers.get(id);
    if (!offer) return null;
    return (offer.product.iap ?? offer.product.subscription)?.id ?? null;
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const isControl = url.pathname === '/_simulator' || url.pathname.startsWith('/_simulator/');
    // API requests carry no body; drain anything sent so the socket stays usable.
    if (!isControl) req.resume();
    const work = isControl
      ? handleControl(simulator, req, res, url, options.controlToken)
      : handleApi(req, res, url);
    work.catch((error: unknown) => {
      logger.error({ err: error }, 'simulator: request failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(unexpected().body));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host =
    options.host === undefined || options.host === '0.0.0.0' || options.host === '::'
      ? '127.0.0.1'
      : options.host;
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  const simulator: Simulator = {
    baseUrl,
    port: address.port,
    get catalog() {
      // Whoever holds the live object may edit it; make the next request re-index.
      store.touch();
      return store.catalog;
    },
    async createKey(keyOptions = {}) {
      const pair = generateKeyPair();
      const keyId = keyOptions.keyId ?? randomKeyId();
      const issuerId = keyOptions.issuerId ?? randomIssuerId();
      registry.register({
        keyId,
        issuerId,
        publicKeyPem: pair.publicKeyPem,
        role: keyOptions.role ?? 'ADMIN',
        appIds: keyOptions.appIds ?? 'all',
        agreementsMissing: keyOptions.agreementsMissing ?? false,
        ...(keyOptions.rateLimitPerHour === undefined
          ? {}
          : { rateLimitPerHour: keyOptions.rateLimitPerHour }),
      });
      const created: CreatedKey = { keyId, issuerId, privateKeyPem: pair.privateKeyPem };
      if (keyOptions.dir) created.p8Path = await writeP8(keyOptions.dir, keyId, pair.privateKeyPem);
      return created;
    },
    keys: {
      register: (input) => toInfo(registry.register(input)),
      update: (keyId, patch) => toInfo(registry.update(keyId, patch)),
      remove: (keyId) => registry.remove(keyId),
      list: () => registry.list(),
    },
    mutate,
    faults: {
      add: (rule) => faults.add(rule),
      remove: (id) => faults.remove(id),
      clear: () => faults.clear(),
      list: () => faults.list(),
    },
    get requests() {
      return requests;
    },
    requestCounts(filter = {}) {
      if (filter.keyId === undefined && filter.productId === undefined) return Object.fromEntries(counts);
      if (filter.keyId === undefined && filter.productId !== undefined) {
        return Object.fromEntries(productCounts.get(filter.productId) ?? []);
      }
      const result: Record<string, number> = {};
      for (const entry of requests) {
        if (entry.keyId !== filter.keyId) continue;
        if (filter.productId !== undefined && entry.productId !== filter.productId) continue;
        result[entry.endpoint] = (result[entry.endpoint] ?? 0) + 1;
      }
      return result;
    },
    statusCounts(filter = {}) {
      if (filter.keyId === undefined) return Object.fromEntries(statuses);
      const result: Record<string, number> = {};
      for (const entry of requests) {
        if (entry.keyId === filter.keyId) result[entry.status] = (result[entry.status] ?? 0) + 1;
      }
      return result;
    },
    budget(keyId) {
      const key = registry.get(keyId);
      if (!key) throw new NotFoundError(`No key ${keyId} is registered with the simulator.`);
      const decision = limiter.peek(key.keyId, limitFor(key));
      return { limit: decision.limit, remaining: decision.remaining, windowMs: settings.windowMs };
    },
    detailRequestCounts(filter = {}) {
      const result: Record<string, Record<string, number>> = {};
      if (filter.keyId === undefined) {
        for (const [productId, perEndpoint] of productCounts)
          result[productId] = Object.fromEntries(perEndpoint);
        return result;
      }
      for (const entry of requests) {
        if (entry.keyId !== filter.keyId || entry.productId === null) continue;
        const perEndpoint = result[entry.productId] ?? {};
        result[entry.productId] = perEndpoint;
        perEndpoint[entry.endpoint] = (perEndpoint[entry.endpoint] ?? 0) + 1;
      }
      return result;
    },
    resetRequests() {
      requests = [];
      counts.clear();
      productCounts.clear();
      statuses.clear();
    },
    resetRateLimits() {
      limiter.reset();
    },
    setLatency(ms) {
      settings.latencyMs = Math.max(0, ms);
    },
    setToday(day) {
      if (day !== null && !/^\d{4}-\d{2}-\d{2}$/.test(day)) {
        throw new InvalidInputError('today', `'${day}' is not a date YYYY-MM-DD.`);
      }
      fixedToday = day;
    },
    today,
    setRateLimit(limit) {
      if (limit.perHour !== undefined) settings.perHour = limit.perHour;
      if (limit.windowMs !== undefined) settings.windowMs = limit.windowMs;
      if (limit.retryAfterSeconds !== undefined) settings.retryAfterSeconds = limit.retryAfterSeconds;
    },
    settings,
    replaceCatalog(catalog) {
      const parsed = simCatalogSchema.parse(catalog);
      store.replace(parsed);
      for (const key of parsed.keys ?? []) registry.register(key);
    },
    reset() {
      simulator.resetRequests();
      faults.clear();
      limiter.reset();
      verifier.clearCache();
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return simulator;
}

/** The `kid` of a bearer token, unverified (for accounting only). */
function readKeyId(authorization: string | undefined): string | undefined {
  if (!authorization?.startsWith('Bearer ')) return undefined;
  const [header] = authorization.slice(7).split('.', 1);
  if (!header) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof parsed.kid === 'string' ? parsed.kid.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}
