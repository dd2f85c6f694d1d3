import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startHealthServer } from '../../../jobs/health.ts';
import { createWorkerMetrics } from '../../../jobs/metrics.ts';
import { parseJobPayload } from '../../../src/app/job-table.ts';
import { ConfigError, loadConfig } from '../../../src/config/env.ts';
import { readPrivateKeyFile } from '../../../src/credentials/key-file.ts';
import {
  asAppError,
  classifyDatabaseCode,
  databaseAddress,
  databaseError,
  isDatabaseUnavailable,
} from '../../../src/database/errors.ts';
import { AppError, boundText, InvalidInputError } from '../../../src/errors.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { checkMinimumInterval, shortestCronGapSeconds } from '../../../src/queue/schedules.ts';
import { normaliseCatalog } from '../../../src/sync/normalise.ts';
import { storableJson, storableText } from '../../../src/sync/storable.ts';

/* The outage work's pure parts: bounded text, strict env integers, schedule minimum, SQLSTATE verdicts. */

describe('boundText', () => {
  it('keeps short text and cuts long text, saying how much', () => {
    expect(boundText('short', 10)).toBe('short');
    const cut = boundText('x'.repeat(20_000_000), 100);
    expect(cut.length).toBeLessThan(140);
    expect(cut).toContain('19999900 more characters cut');
  });

  it('never splits a surrogate pair', () => {
    const cut = boundText(`${'a'.repeat(9)}😀tail`, 10);
    expect(cut.startsWith('a'.repeat(9))).toBe(true);
    expect(cut.isWellFormed()).toBe(true);
  });
});

describe('environment integers', () => {
  const problem = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    return undefined;
  };

  it('accepts digits within range, and empty as the default', () => {
    const config = loadConfig({ WORKER_CONCURRENCY: '25', SYNC_ATTEMPTS: '' });
    expect(config.worker.concurrency).toBe(25);
    expect(config.worker.syncAttempts).toBe(5);
  });

  it.each(['1e3', '0x10', '-1', '1.5', ' 7', '+3', '12abc'])('refuses %j', (value) => {
    expect(problem({ WORKER_CONCURRENCY: value })).toMatch(
      /WORKER_CONCURRENCY: must be a whole number in decimal digits/,
    );
    expect(problem({ SYNC_ATTEMPTS: value })).toMatch(/SYNC_ATTEMPTS/);
  });

  it('refuses values out of range', () => {
    expect(problem({ WORKER_CONCURRENCY: '1001' })).toMatch(/at most 1000/);
    expect(problem({ SYNC_ATTEMPTS: '0' })).toMatch(/at least 1/);
  });

  it('has the new bounds with their defaults', () => {
    const config = loadConfig({});
    expect(config.appStore.maxResponseBytes).toBe(32 * 1024 * 1024);
    expect(config.appStore.maxJsonDepth).toBe(64);
    expect(config.limits).toEqual({
      productAttributesBytes: 65_536,
      errorTextChars: 2_000,
      scheduleMinIntervalSeconds: 300,
    });
    expect(config.metrics).toMatchObject({ host: '127.0.0.1', token: undefined, keyIdLabels: false });
    expect(config.worker).toMatchObject({ lockDurationMs: 15_000, stalledIntervalMs: 5_000 });
    expect(loadConfig({ METRICS_KEY_ID_LABELS: 'true' }).metrics.keyIdLabels).toBe(true);
    expect(problem({ METRICS_TOKEN: 'short' })).toMatch(/METRICS_TOKEN: must be at least 16/);
  });
});

describe('schedule minimum interval', () => {
  it('measures the shortest gap of a cron expression, bursts included', () => {
    expect(shortestCronGapSeconds('* * * * *')).toBe(60);
    expect(shortestCronGapSeconds('*/10 * * * * *')).toBe(10);
    expect(shortestCronGapSeconds('0 */6 * * *')).toBe(6 * 3600);
    // Once an hour, except five runs a minute apart at 9:00.
    expect(shortestCronGapSeconds('0-4 9 * * *')).toBe(60);
    expect(shortestCronGapSeconds('@hourly')).toBe(3600);
  });

  it('refuses --every and cron under the minimum, naming the variable', () => {
    expect(() => checkMinimumInterval({ every: 1 }, 300)).toThrow(/SCHEDULE_MIN_INTERVAL_SECONDS=300/);
    expect(() => checkMinimumInterval({ every: 299 }, 300)).toThrow(InvalidInputError);
    expect(() => checkMinimumInterval({ every: 300 }, 300)).not.toThrow();
    expect(() => checkMinimumInterval({ cron: '* * * * *' }, 300)).toThrow(/every 1m.*minimum is 5m/);
    expect(() => checkMinimumInterval({ cron: '0-4 9 * * *' }, 300)).toThrow(/^cron: /);
    expect(() => checkMinimumInterval({ cron: '*/5 * * * *' }, 300)).not.toThrow();
    expect(() => checkMinimumInterval({ cron: '0 */6 * * *' }, 300)).not.toThrow();
  });
});

describe('database errors, classified once by SQLSTATE (src/database/errors.ts)', () => {
  const pgError = (code: string, message = 'reason') => Object.assign(new Error(message), { code });
  const drizzle = (cause: unknown) =>
    Object.assign(new Error('Failed query: insert into products … params: {"huge":"catalog"}'), {
      name: 'DrizzleQueryError',
      query: 'insert into products …',
      cause,
    });
  const kindOf = (code: string) => classifyDatabaseCode(code);

  it('classes by SQLSTATE, through drizzle, never quoting the statement', () => {
    const nul = databaseError(drizzle(pgError('22P05', 'unsupported Unicode escape sequence')))!;
    expect(nul).toMatchObject({ kind: 'database_bad_data', retryable: false });
    expect(nul.message).toContain('unsupported Unicode escape sequence');
    expect(nul.message).not.toContain('Failed query');
    expect(kindOf('22021')).toEqual({ kind: 'database_bad_data', retryable: false });
    expect(kindOf('23502')).toEqual({ kind: 'database_bad_data', retryable: false });
    expect(kindOf('23505')).toEqual({ kind: 'database_conflict', retryable: true });
    expect(kindOf('42P01')).toEqual({ kind: 'database_not_migrated', retryable: false });
    expect(databaseError(pgError('42P01'))!.message).toContain('catalog-sync migrate');
    expect(kindOf('40001')).toEqual({ kind: 'database_conflict', retryable: true });
    expect(kindOf('40P01')).toEqual({ kind: 'database_conflict', retryable: true });
    expect(kindOf('57P01')).toEqual({ kind: 'database_unavailable', retryable: true });
    expect(kindOf('08006')).toEqual({ kind: 'database_unavailable', retryable: true });
    expect(kindOf('XX000')).toEqual({ kind: 'database', retryable: true });
  });

  it('says where Postgres could not be reached, without the password', () => {
    const refused = Object.assign(new AggregateError([pgError('ECONNREFUSED')], 'connect'), {
      code: undefined,
    });
    const error = databaseError(refused, 'this command', {
      databaseUrl: 'postgres://app:hunter2@db.internal:6543/app',
    })!;
    expect(error).toMatchObject({ kind: 'database_unavailable', retryable: true });
    expect(error.message).toContain('Cannot reach Postgres at db.internal:6543');
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).not.toContain('hunter2');
    expect(databaseAddress('postgres://u:p@localhost/x')).toBe('localhost:5432');
  });

  it('leaves AppErrors and unrelated errors alone', () => {
    const app = new AppError('internal', 'y');
    expect(databaseError(app)).toBeUndefined();
    expect(asAppError(app)).toBe(app);
    expect(databaseError(Object.assign(new Error('no'), { code: 'ENOENT' }))).toBeUndefined();
    const mapped = asAppError(drizzle(pgError('22P05')));
    expect(mapped).toBeInstanceOf(AppError);
    expect(mapped).toMatchObject({ kind: 'database_bad_data', retryable: false });
    expect(isDatabaseUnavailable(asAppError(pgError('57P01')))).toBe(true);
    expect(isDatabaseUnavailable(pgError('ECONNREFUSED'))).toBe(true);
    expect(isDatabaseUnavailable(mapped)).toBe(false);
  });
});

describe('poison text', () => {
  it('removes NUL and replaces lone surrogates, in values and keys, reporting where', () => {
    expect(storableText('Gold\u0000Coins')).toBe('GoldCoins');
    expect(storableText('a\ud800b')).toBe('a\ufffdb');
    expect(storableText('fine 😀')).toBe('fine 😀');
    const { value, changed } = storableJson({ name: 'x\u0000', raw: { 'k\u0000ey': ['\udc00'] } });
    expect(value).toEqual({ name: 'x', raw: { key: ['\ufffd'] } });
    expect(changed).toEqual(['name', 'raw.key (key)', 'raw.key[0]']);
  });

  it('normaliseCatalog cleans and warns, and bounds the attributes per product', () => {
    const iap = (id: string, name: string, extra: Record<string, unknown> = {}) => ({
      type: 'inAppPurchases',
      id,
      attributes: { name, productId: `p${id}`, inAppPurchaseType: 'CONSUMABLE', state: 'APPROVED', ...extra },
    });
    const { catalog, warnings } = normaliseCatalog({
      iaps: [iap('1', 'Gold\u0000'), iap('2', 'ok')],
      groups: [],
      grace: null,
    });
    expect(catalog.products[0]!.referenceName).toBe('Gold');
    expect(warnings).toEqual([expect.stringMatching(/^in-app purchase 1: .*referenceName, raw\.name/)]);
    expect(() =>
      normaliseCatalog(
        { iaps: [iap('3', 'big', { blob: 'x'.repeat(5_000) })], groups: [], grace: null },
        { maxAttributesBytes: 4_096 },
      ),
    ).toThrow(/in-app purchase 3.*SYNC_MAX_PRODUCT_ATTRIBUTES_BYTES/);
  });
});

describe('job payloads', () => {
  it('quotes a bounded part of a 1 MB unknown key', () => {
    let message = '';
    try {
      parseJobPayload('sync-catalog', { projectId: 'p', trigger: 'manual', ['k'.repeat(1_000_000)]: 1 });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('Invalid sync-catalog payload');
    expect(message.length).toBeLessThan(1_000);
  });
});

describe('readPrivateKeyFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyfile-'));
  const servers: net.Server[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });

  it('reads a regular .p8', async () => {
    const file = path.join(dir, 'AuthKey.p8');
    writeFileSync(file, '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n');
    await expect(readPrivateKeyFile(file)).resolves.toContain('BEGIN PRIVATE KEY');
  });

  it('refuses a FIFO, a device, a socket, a folder and an oversize file without hanging', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const socket = path.join(dir, 'sock');
    const server = net.createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    const big = path.join(dir, 'big.p8');
    writeFileSync(big, Buffer.alloc(1024 * 1024, 0x41));
    const refusal = (file: string) =>
      readPrivateKeyFile(file).then(
        () => '',
        (error: InvalidInputError) => error,
      );
    const fifoError = await refusal(fifo);
    expect(fifoError).toBeInstanceOf(InvalidInputError);
    expect((fifoError as InvalidInputError).field).toBe('privateKeyFile');
    expect(String(fifoError)).toMatch(/named pipe/);
    expect(String(await refusal('/dev/zero'))).toMatch(/a device/);
    expect(String(await refusal(socket))).toMatch(/socket/);
    expect(String(await refusal(dir))).toMatch(/folder/);
    expect(String(await refusal(big))).toMatch(/far too large/);
    expect(String(await refusal(path.join(dir, 'missing')))).toMatch(/no such file/);
  });
});

describe('health server', () => {
  it('/readyz names the failed dependency, not its error text; the token guards /readyz and /metrics', async () => {
    const logger = createLogger({ level: 'silent', format: 'json' });
    const server = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      registry: createWorkerMetrics().registry,
      logger,
      token: 'a-long-enough-token',
      checks: {
        redis: async () => 'PONG',
        postgres: async () => {
          throw new Error('password authentication failed for user "app" at 10.0.0.5');
        },
      },
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(401);
      expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer nope' } })).status).toBe(
        401,
      );
      const auth = { headers: { authorization: 'Bearer a-long-enough-token' } };
      const ready = await fetch(`${base}/readyz`, auth);
      expect(ready.status).toBe(503);
      const text = await ready.text();
      expect(JSON.parse(text)).toEqual({
        status: 'not ready',
        failed: ['postgres'],
        checks: { redis: { ok: true }, postgres: { ok: false } },
      });
      expect(text).not.toContain('password');
      expect((await fetch(`${base}/metrics`, auth)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('asAppError takes the name of the work in an object', () => {
  it('so a URL passed positionally is a type error, and the message never quotes the URL', () => {
    const unavailable = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    // @ts-expect-error the context is an object: a URL cannot stand where the work's name goes
    asAppError(unavailable, 'postgres://u:hunter2@h/db');
    const mapped = asAppError(unavailable, {
      doing: 'this sync',
      databaseUrl: 'postgres://u:hunter2@db:5433/x',
    });
    expect(mapped).toBeInstanceOf(AppError);
    expect((mapped as AppError).message).toContain('at db:5433');
    expect((mapped as AppError).message).toContain('for this sync');
    expect((mapped as AppError).message).not.toContain('hunter2');
  });
});
