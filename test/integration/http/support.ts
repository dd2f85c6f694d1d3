import { afterAll, beforeAll } from 'vitest';
import type { AppContext } from '../../../src/app/context.ts';
import { lazyQueue } from '../../../src/app/context.ts';
import { apiRouter } from '../../../src/http/api/index.ts';
import { createHttpApp, type Listening, listen } from '../../../src/http/server.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { createToken } from '../../../src/tokens/index.ts';
import { newEncryptionKey, type TestContext, testContext } from '../../support/context.ts';
import { type TestDatabase, useTestDatabase } from '../../support/db.ts';
import { type DocumentChecker, documentChecker } from '../../support/openapi.ts';
import { type TestRedis, useTestRedis } from '../../support/redis.ts';

/*
 * An API test file's setup: a database, a Redis prefix, the simulator, and the real express app
 * (src/http/server.ts with the API router) listening on a free port of this process. Every answer
 * the client receives is checked against the OpenAPI document.
 */

export interface ApiAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: every answer is checked against the OpenAPI document; tests read it freely
  body: any;
  text: string;
}

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  /** Sent as is (with its own content type via headers). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

export interface ApiHarness {
  db: () => TestDatabase;
  redis: TestRedis;
  sim: () => Simulator;
  ctx: () => TestContext & AppContext;
  baseUrl: () => string;
  env: () => Record<string, string>;
  /** Tokens made at start: one write, one read. */
  tokens: () => { write: string; read: string };
  call(method: string, path: string, options?: CallOptions): Promise<ApiAnswer>;
  checker: DocumentChecker;
}

export function useApiHarness(options: {
  catalog: Parameters<typeof generateCatalog>[0];
  env?: Record<string, string>;
}): ApiHarness {
  const db = useTestDatabase();
  const redis = useTestRedis();
  const checker = documentChecker();
  let sim: Simulator | undefined;
  let ctx: (TestContext & AppContext) | undefined;
  let server: Listening | undefined;
  let queue: ReturnType<typeof lazyQueue> | undefined;
  let env: Record<string, string> = {};
  let tokens: { write: string; read: string } | undefined;

  beforeAll(async () => {
    sim = await startSimulator({ catalog: generateCatalog(options.catalog) });
    env = {
      DATABASE_URL: db().url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      CREDENTIALS_ENCRYPTION_KEY: newEncryptionKey(),
      APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
      APP_STORE_CONNECT_MAX_RETRIES: '0',
      SCHEDULE_MIN_INTERVAL_SECONDS: '1',
      WEBHOOKS_ALLOW_HTTP_LOOPBACK: 'true',
      LOG_LEVEL: 'silent',
      ...options.env,
    };
    const base = testContext(db().db, env, { captureLogs: true });
    queue = lazyQueue(base.config);
    ctx = { ...base, queue: queue.queue, queueEvents: queue.queueEvents, redis: queue.redis };
    server = await listen(createHttpApp({ logger: ctx.logger, api: apiRouter({ ctx }) }), 0, '127.0.0.1');
    tokens = {
      write: (await createToken(ctx, { name: 'platform-backend', scope: 'write' })).token,
      read: (await createToken(ctx, { name: 'platform-reader', scope: 'read' })).token,
    };
  });
  afterAll(async () => {
    await server?.close();
    await queue?.close();
    await sim?.close();
  });

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useApiHarness(): ${what} is ready only inside tests and hooks`);
    return value;
  };

  return {
    db,
    redis,
    checker,
    sim: () => ready(sim, 'the simulator'),
    ctx: () => ready(ctx, 'the context'),
    env: () => env,
    baseUrl: () => `http://127.0.0.1:${ready(server, 'the server').port}`,
    tokens: () => ready(tokens, 'the tokens'),
    async call(method, path, call = {}) {
      const headers: Record<string, string> = { ...call.headers };
      const token = call.token === undefined ? ready(tokens, 'the tokens').write : call.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | Buffer | undefined;
      if (call.raw !== undefined) body = call.raw;
      else if (call.body !== undefined) {
        body = JSON.stringify(call.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(`http://127.0.0.1:${ready(server, 'the server').port}/api/v1${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON: the document check below says so.
      }
      checker.check(method, `/api/v1${path}`, response.status, response.headers.get('content-type'), parsed);
      return { status: response.status, headers: response.headers, body: parsed, text };
    },
  };
}
