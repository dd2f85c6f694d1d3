import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { type AppStoreClientOptions, createAppStoreClient } from '../../../src/appstore/client.ts';
import { AppStoreError } from '../../../src/appstore/errors.ts';
import { exceedsJsonDepth } from '../../../src/appstore/parse.ts';
import { appSchema } from '../../../src/appstore/resources.ts';
import { type LocalServer, sendJson, startLocalServer, testKey } from './support/local-server.ts';

/*
 * Bounds on what App Store Connect may send: a body is counted after decompression
 * and the request is stopped past the limit; JSON depth is bounded; Apple's error detail is cut.
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
    ...extra,
  });
  clients.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<AppStoreError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppStoreError);
  return error as AppStoreError;
}

describe('response size bound', () => {
  it('stops a gzip bomb after the limit, counted after decompression, without retrying', async () => {
    // 64 MiB of zeros compresses to ~64 KiB.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(bomb);
    });
    const error = await failure(client(server.baseUrl, { maxResponseBytes: 1024 * 1024 }).listApps());
    expect(error.kind).toBe('limit_exceeded');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('1 MiB');
    expect(error.message).toContain('APP_STORE_CONNECT_MAX_RESPONSE_BYTES');
    expect(server.seen).toHaveLength(1);
  });

  it('stops a plain oversize page the same way', async () => {
    const big = JSON.stringify({ data: [], pad: 'x'.repeat(3 * 1024 * 1024) });
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(big);
    });
    const error = await failure(client(server.baseUrl, { maxResponseBytes: 1024 * 1024 }).listApps());
    expect(error.kind).toBe('limit_exceeded');
    expect(server.seen).toHaveLength(1);
  });

  it('accepts a compressed body whose decompressed size is within the limit', async () => {
    const body = gzipSync(JSON.stringify({ data: [], links: {} }));
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(body);
    });
    await expect(client(server.baseUrl, { maxResponseBytes: 1024 }).listApps()).resolves.toEqual([]);
  });
});

describe('JSON depth bound', () => {
  it('exceedsJsonDepth counts nested arrays and objects, iteratively', () => {
    expect(exceedsJsonDepth({ a: [1, { b: 2 }] }, 3)).toBe(false);
    expect(exceedsJsonDepth({ a: [1, { b: 2 }] }, 2)).toBe(true);
    expect(exceedsJsonDepth('text', 0)).toBe(false);
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(exceedsJsonDepth(deep, 64)).toBe(true);
  });

  it('refuses a document nested deeper than the limit, naming the variable', async () => {
    const body = `{"data":[],"x":${'['.repeat(100)}${']'.repeat(100)}}`;
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    const error = await failure(client(server.baseUrl).listApps());
    expect(error.kind).toBe('limit_exceeded');
    expect(error.message).toContain('APP_STORE_CONNECT_MAX_JSON_DEPTH');
  });
});

describe('error detail bound', () => {
  it("keeps Apple's code and title whole and cuts a 20 MB detail", async () => {
    const server = await serve((_req, res) =>
      sendJson(res, 400, {
        errors: [
          {
            status: '400',
            code: 'PARAMETER_ERROR.INVALID',
            title: 'A parameter has an invalid value',
            detail: 'd'.repeat(20_000_000),
          },
        ],
      }),
    );
    const error = await failure(client(server.baseUrl).getDocument('/v1/apps/1', undefined, appSchema));
    expect(error.kind).toBe('invalid_request');
    expect(error.message.length).toBeLessThan(1_500);
    expect(error.message).toContain('PARAMETER_ERROR.INVALID');
    expect(error.apple?.title).toBe('A parameter has an invalid value');
    expect(error.apple?.detail?.length).toBeLessThan(600);
    expect(error.stack?.length ?? 0).toBeLessThan(5_000);
  });
});
