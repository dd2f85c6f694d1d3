import { describe, expect, it } from 'vitest';
import { workerPoolSize } from '../../../jobs/pool.ts';
import { ConfigError, decodeEncryptionKey, loadConfig } from '../../../src/config/env.ts';
import { runCli } from '../../support/cli.ts';

const KEY = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('applies defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'catalog-sync' });
    expect(config.appStore.baseUrl).toBe('https://api.appstoreconnect.apple.com');
    expect(config.worker.concurrency).toBe(10);
    expect(config.log.level).toBe('info');
  });

  it('parses every variable it is given', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u:p@db:5432/app',
      REDIS_URL: 'rediss://cache:6380',
      APP_STORE_CONNECT_BASE_URL: 'http://127.0.0.1:4010/',
      CREDENTIALS_ENCRYPTION_KEY: KEY,
      WORKER_CONCURRENCY: '25',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'json',
    });
    expect(config.databaseUrl).toBe('postgres://u:p@db:5432/app');
    expect(config.redis.url).toBe('rediss://cache:6380');
    expect(config.appStore.baseUrl).toBe('http://127.0.0.1:4010');
    expect(config.credentials.encryptionKey).toBe(KEY);
    expect(config.worker.concurrency).toBe(25);
    expect(config.log).toEqual({ level: 'debug', format: 'json' });
  });

  it('reads worker processes and Redis Cluster nodes, and wants a hash tag on a cluster', () => {
    expect(loadConfig({}).worker.processes).toBeUndefined();
    expect(loadConfig({ WORKER_PROCESSES: '4' }).worker.processes).toBe(4);
    expect(() => loadConfig({ WORKER_PROCESSES: '0' })).toThrow(/WORKER_PROCESSES: must be at least 1/);
    const cluster = loadConfig({
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001',
      REDIS_PREFIX: '{catalog-sync}',
    });
    expect(cluster.redis.clusterNodes).toEqual(['10.0.0.1:7000', '10.0.0.2:7001']);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000' })).toThrow(
      /REDIS_PREFIX: must hold a hash tag/,
    );
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://x', REDIS_PREFIX: '{a}' })).toThrow(
      /REDIS_CLUSTER_NODES: must be a comma-separated list of host:port/,
    );
  });

  it('lists every bad variable in one message and never echoes a value', () => {
    const secret = 'not-a-key-but-secret-looking-value';
    let error: unknown;
    try {
      loadConfig({
        REDIS_URL: 'notaurl',
        DATABASE_URL: 'mysql://x',
        WORKER_CONCURRENCY: '0',
        LOG_LEVEL: 'loud',
        CREDENTIALS_ENCRYPTION_KEY: secret,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of [
      'REDIS_URL',
      'DATABASE_URL',
      'WORKER_CONCURRENCY',
      'LOG_LEVEL',
      'CREDENTIALS_ENCRYPTION_KEY',
    ]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain(secret);
    expect(message).not.toContain('notaurl');
  });

  it('sizes the worker pool from its concurrency, capped, unless DATABASE_POOL_MAX says', () => {
    expect(workerPoolSize(loadConfig({}))).toBe(10 + 4 + 4);
    expect(workerPoolSize(loadConfig({ WORKER_CONCURRENCY: '50' }))).toBe(16 + 4 + 4);
    expect(workerPoolSize(loadConfig({ WORKER_CONCURRENCY: '50', DATABASE_POOL_MAX: '60' }))).toBe(60);
    for (const bad of ['1', '1001', '-5', '1e2']) {
      expect(() => loadConfig({ DATABASE_POOL_MAX: bad })).toThrow(/DATABASE_POOL_MAX: must be/);
    }
  });

  it('accepts 32-byte keys as base64 or hex and nothing else', () => {
    expect(decodeEncryptionKey(KEY)).toHaveLength(32);
    expect(decodeEncryptionKey('ab'.repeat(32))).toHaveLength(32);
    expect(decodeEncryptionKey(Buffer.alloc(16).toString('base64'))).toBeUndefined();
    expect(decodeEncryptionKey('hunter2')).toBeUndefined();
  });

  it('exits the CLI non-zero with a message naming the variable', async () => {
    const result = await runCli(['migrate'], { REDIS_URL: 'notaurl' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('REDIS_URL: must be a redis:// or rediss:// URL');
  });
});
