import { afterEach, describe, expect, it } from 'vitest';
import { type AppStoreClientOptions, createAppStoreClient } from '../../../src/appstore/client.ts';
import { AppStoreError } from '../../../src/appstore/errors.ts';
import { appSchema } from '../../../src/appstore/resources.ts';
import {
  app,
  captureLogger,
  type LocalServer,
  sendJson,
  startLocalServer,
  testKey,
} from './support/local-server.ts';

/*
 * Client behaviour the simulator cannot be asked for: hostile next links, repeated cursors,
 * unreadable bodies. A local node:http server plays App Store Connect.
 */

const servers: LocalServer[] = [];
const clients: { close(): void }[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(handler: Parameters<typeof startLocalServer>[0]) {
  const server = await startLocalServer(handler);
  servers.push(server);
  return server;
}

function client(baseUrl: string, extra: Partial<AppStoreClientOptions> = {}) {
  const created = createAppStoreClient({
    baseUrl,
    keyId: 'ABCDE12345',
    issuerId: '57246542-96fe-1a63-e053-0824d011072a',
    loadPrivateKey: async () => testKey,
    backoffBaseMs: 1,
    retryCapMs: 20,
    maxRetries: 2,
    logger: captureLogger('silent').logger,
    ...extra,
  });
  clients.push(created);
  return created;
}

describe('pagination against hostile next links', () => {
  it('refuses a next link to another host and never sends it the token', async () => {
    const other = await serve((_req, res) => sendJson(res, 200, { data: [], links: { self: 'x' } }));
    const api = await serve((req, res) =>
      sendJson(res, 200, {
        data: [app('1')],
        links: { self: req.url, next: `${other.baseUrl}/v1/apps?cursor=Mg` },
      }),
    );
    const error = await client(api.baseUrl)
      .listApps()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppStoreError);
    expect((error as AppStoreError).kind).toBe('invalid_request');
    expect((error as AppStoreError).message).toMatch(/refused next link to another host/i);
    expect(other.seen).toHaveLength(0);
    expect(api.seen).toHaveLength(1);
  });

  it('refuses a repeated cursor instead of looping', async () => {
    const api = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const cursor = url.searchParams.get('cursor');
      // Page 1 → cursor A → cursor B → cursor A again.
      const next = cursor === null ? 'A' : cursor === 'A' ? 'B' : 'A';
      sendJson(res, 200, {
        data: [app(cursor ?? '0')],
        links: { self: req.url, next: `/v1/apps?cursor=${next}` },
      });
    });
    const error = await client(api.baseUrl)
      .listApps()
      .catch((e: unknown) => e);
    expect((error as AppStoreError).kind).toBe('invalid_request');
    expect((error as AppStoreError).message).toContain('repeated cursor');
    expect(api.seen.map((s) => new URL(s.url, 'http://x').searchParams.get('cursor'))).toEqual([
      null,
      'A',
      'B',
    ]);
  });

  it('stops past the page ceiling', async () => {
    let n = 0;
    const api = await serve((req, res) =>
      sendJson(res, 200, {
        data: [app(String(n))],
        links: { self: req.url, next: `/v1/apps?cursor=${++n}` },
      }),
    );
    const error = await client(api.baseUrl, { maxPages: 3 })
      .listApps()
      .catch((e: unknown) => e);
    expect((error as AppStoreError).message).toContain('after 3 pages');
    expect(api.seen).toHaveLength(3);
  });

  it('sends limit=200 and the sparse fieldset on the first page, then follows next as given', async () => {
    const api = await serve((req, res) => {
      const cursor = new URL(req.url ?? '/', 'http://x').searchParams.get('cursor');
      sendJson(res, 200, {
        data: [app(cursor ?? '1')],
        links: cursor ? { self: req.url } : { self: req.url, next: '/v1/apps?cursor=2&limit=200' },
      });
    });
    const apps = await client(api.baseUrl).listApps();
    expect(apps.map((a) => a.id)).toEqual(['1', '2']);
    const first = new URL(api.seen[0]!.url, 'http://x');
    expect(first.pathname).toBe('/v1/apps');
    expect(first.searchParams.get('limit')).toBe('200');
    expect(first.searchParams.get('fields[apps]')).toBe('name,bundleId,sku,primaryLocale');
    expect(api.seen[1]!.url).toBe('/v1/apps?cursor=2&limit=200');
  });
});

describe('unreadable responses', () => {
  it('retries a malformed 200 body, then succeeds', async () => {
    const api = await serve((req, res) => {
      if (api.seen.length === 1) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"data": [');
        return;
      }
      sendJson(res, 200, { data: [app('1')], links: { self: req.url } });
    });
    const c = client(api.baseUrl);
    expect((await c.listApps()).map((a) => a.id)).toEqual(['1']);
    expect(c.stats().byStatus).toEqual({ '200': 2 });
  });

  it('retries a connection reset mid-body, then gives up as transient', async () => {
    const api = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"data": [');
      res.socket?.destroy();
    });
    const c = client(api.baseUrl);
    const error = await c.listApps().catch((e: unknown) => e);
    expect((error as AppStoreError).kind).toBe('transient');
    expect((error as AppStoreError).retryable).toBe(true);
    expect((error as AppStoreError).message).toContain('after 3 attempts');
    expect(api.seen).toHaveLength(3);
  });

  it('retries a response that times out', async () => {
    const api = await serve((req, res) => {
      if (api.seen.length === 1) return; // never answers
      sendJson(res, 200, { data: [app('1')], links: { self: req.url } });
    });
    const c = client(api.baseUrl, { responseTimeoutMs: 100 });
    expect(await c.listApps()).toHaveLength(1);
    expect(c.stats().byStatus).toEqual({ network: 1, '200': 1 });
  });

  it('maps a 5xx with an HTML body to transient without Apple details', async () => {
    const api = await serve((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad gateway</html>');
    });
    const error = await client(api.baseUrl, { maxRetries: 0 })
      .listApps()
      .catch((e: unknown) => e);
    expect((error as AppStoreError).kind).toBe('transient');
    expect((error as AppStoreError).status).toBe(502);
    expect((error as AppStoreError).apple).toBeUndefined();
  });
});

describe('transport behaviour', () => {
  it('never has more requests in flight than the concurrency cap', async () => {
    let inFlight = 0;
    let peak = 0;
    const api = await serve((req, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight--;
        sendJson(res, 200, { data: app('1'), links: { self: req.url } });
      }, 15);
    });
    const c = client(api.baseUrl, { concurrency: 2 });
    const { singleDocumentSchema } = await import('../../../src/appstore/resources.ts');
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        c.getDocument(`/v1/apps/${i}`, undefined, singleDocumentSchema(appSchema)),
      ),
    );
    expect(peak).toBe(2);
    expect(c.stats().byCallSite).toEqual({ 'GET /v1/apps/{id}': 8 });
  });

  it('exposes X-Rate-Limit through stats and onResponse, counting per call site and status', async () => {
    const api = await serve((req, res) => {
      if (api.seen.length === 1) {
        sendJson(res, 503, { errors: [{ status: '503', code: 'UNAVAILABLE', title: 'x' }] });
        return;
      }
      sendJson(
        res,
        200,
        { data: [app('1')], links: { self: req.url } },
        {
          'x-rate-limit': 'user-hour-lim:3600;user-hour-rem:3598;, user-minute-lim:150;user-minute-rem:149;',
        },
      );
    });
    const events: unknown[] = [];
    const c = client(api.baseUrl, { onResponse: (event) => events.push(event) });
    await c.paginate('/v1/apps', undefined, appSchema, 'discover');
    expect(c.stats()).toEqual({
      requests: 2,
      byCallSite: { discover: 2 },
      byStatus: { '503': 1, '200': 1 },
      rateLimit: {
        'user-hour-lim': 3600,
        'user-hour-rem': 3598,
        'user-minute-lim': 150,
        'user-minute-rem': 149,
      },
    });
    expect(events).toMatchObject([
      {
        callSite: 'discover',
        method: 'GET',
        path: '/v1/apps',
        status: 503,
        attempt: 1,
        rateLimit: undefined,
      },
      {
        callSite: 'discover',
        path: '/v1/apps',
        status: 200,
        attempt: 2,
        rateLimit: { 'user-hour-rem': 3598 },
      },
    ]);
    expect(JSON.stringify(events)).not.toMatch(/Bearer|eyJ/);
  });

  it('refuses to send the token to another origin through getDocument', async () => {
    const other = await serve((_req, res) => sendJson(res, 200, {}));
    const api = await serve((_req, res) => sendJson(res, 200, {}));
    const { singleDocumentSchema } = await import('../../../src/appstore/resources.ts');
    await expect(
      client(api.baseUrl).getDocument(
        `${other.baseUrl}/v1/apps/1`,
        undefined,
        singleDocumentSchema(appSchema),
      ),
    ).rejects.toMatchObject({ kind: 'invalid_request' });
    expect(other.seen).toHaveLength(0);
  });

  it('sends a bearer token and keeps secrets out of every log line and error', async () => {
    const { logger, lines } = captureLogger('debug');
    const api = await serve((_req, res) => {
      if (api.seen.length <= 2) {
        sendJson(res, 401, {
          errors: [
            {
              status: '401',
              code: 'NOT_AUTHORIZED',
              title: 'Authentication credentials are missing or invalid.',
            },
          ],
        });
        return;
      }
      sendJson(res, 500, {});
    });
    const error = await client(api.baseUrl, { logger })
      .listApps()
      .catch((e: unknown) => e);
    expect((error as AppStoreError).kind).toBe('auth');
    const tokens = api.seen.map((s) => s.authorization?.replace(/^Bearer /, '') ?? '');
    expect(tokens.every((t) => t.split('.').length === 3)).toBe(true);
    const everything = [lines.join('\n'), (error as Error).message, JSON.stringify(error)].join('\n');
    for (const token of tokens) expect(everything).not.toContain(token);
    expect(everything).not.toContain('PRIVATE KEY');
  });
});

describe('tokens over HTTP', () => {
  const claimsOf = (authorization: string | undefined) =>
    JSON.parse(
      Buffer.from((authorization ?? '').replace(/^Bearer /, '').split('.')[1] ?? '', 'base64url').toString(),
    );

  it('reuses one token across requests and mints a new one before expiry (injected clock)', async () => {
    const clock = { now: Date.parse('2026-03-01T12:00:00Z') };
    let loads = 0;
    const api = await serve((req, res) => sendJson(res, 200, { data: [app('1')], links: { self: req.url } }));
    const c = client(api.baseUrl, {
      now: () => clock.now,
      loadPrivateKey: async () => {
        loads++;
        return testKey;
      },
    });
    expect(loads).toBe(0);
    await c.listApps();
    clock.now += 5 * 60_000;
    await c.listApps();
    clock.now += 8 * 60_000 + 30_000; // 1.5 min before the first token's expiry
    await c.listApps();
    const [first, second, third] = api.seen.map((s) => s.authorization);
    expect(second).toBe(first);
    expect(third).not.toBe(first);
    const t0 = Date.parse('2026-03-01T12:00:00Z') / 1000;
    expect(claimsOf(first)).toEqual({
      iss: '57246542-96fe-1a63-e053-0824d011072a',
      iat: t0 - 60,
      exp: t0 + 900,
      aud: 'appstoreconnect-v1',
    });
    expect(claimsOf(third).iat).toBe(t0 + 13.5 * 60 - 60);
    // The imported key is kept (non-extractable); the PEM is not loaded again.
    expect(loads).toBe(1);
  });

  it('retries a 401 once with a freshly minted token', async () => {
    const api = await serve((req, res) => {
      if (api.seen.length === 1) {
        sendJson(res, 401, { errors: [{ status: '401', code: 'NOT_AUTHORIZED', title: 'x', detail: 'y' }] });
        return;
      }
      sendJson(res, 200, { data: [app('1')], links: { self: req.url } });
    });
    const c = client(api.baseUrl, { maxRetries: 0 });
    expect(await c.listApps()).toHaveLength(1);
    expect(api.seen[1]!.authorization).not.toBe(api.seen[0]!.authorization);
    expect(c.stats().byStatus).toEqual({ '401': 1, '200': 1 });
  });
});
