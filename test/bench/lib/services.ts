import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { migrateDatabase } from '../../../db/migrate.ts';
import { answers, databaseUrl } from '../../support/services.ts';
import type { Cleanup } from './cleanup.ts';

/** Where the benchmarks find Postgres and Redis (the same order as the integration tests). */
export interface BenchServices {
  /** A URL with the right to create databases; each scenario gets its own scratch database. */
  adminDatabaseUrl: string;
  redisUrl: string;
  /** Unique per run: scratch database names and Redis prefixes start with it. */
  runId: string;
}

export async function findBenchServices(): Promise<BenchServices> {
  const adminDatabaseUrl =
    process.env.TEST_DATABASE_URL ||
    process.env.DATABASE_URL ||
    'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.TEST_REDIS_URL || process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const missing: string[] = [];
  if (!(await answers(adminDatabaseUrl, 5432))) missing.push(`Postgres at ${new URL(adminDatabaseUrl).host}`);
  if (!(await answers(redisUrl, 6379))) missing.push(`Redis at ${new URL(redisUrl).host}`);
  if (missing.length > 0) {
    throw new Error(
      `The benchmarks need ${missing.join(' and ')}, which did not answer. Start them, or point ` +
        'TEST_DATABASE_URL (a role that may create databases) and TEST_REDIS_URL at running servers.',
    );
  }
  return { adminDatabaseUrl, redisUrl, runId: randomBytes(3).toString('hex') };
}

/** A migrated scratch database, dropped (with force) by the cleanup stack. */
export async function createScratchDatabase(
  services: BenchServices,
  cleanup: Cleanup,
  label: string,
): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `csbench_${services.runId}_${label}`;
  const admin = postgres(services.adminDatabaseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const drop = cleanup.defer(`drop database ${name}`, async () => {
    const dropper = postgres(services.adminDatabaseUrl, { max: 1, onnotice: () => {} });
    try {
      await dropper.unsafe(`drop database if exists "${name}" with (force)`);
    } finally {
      await dropper.end();
    }
  });
  const url = databaseUrl(services.adminDatabaseUrl, name);
  await migrateDatabase({ databaseUrl: url });
  return { url, name, drop };
}

export async function serverVersions(
  services: BenchServices,
): Promise<{ postgres?: string; redis?: string }> {
  const out: { postgres?: string; redis?: string } = {};
  const admin = postgres(services.adminDatabaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin<{ server_version: string }[]>`show server_version`;
    if (row) out.postgres = row.server_version.split(' ')[0]!;
  } catch {
    // Reported as unknown.
  } finally {
    await admin.end();
  }
  const redis = new Redis(services.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    const info = await redis.info('server');
    const match = /redis_version:(\S+)/.exec(info);
    if (match?.[1]) out.redis = match[1];
  } catch {
    // Reported as unknown.
  } finally {
    redis.disconnect();
  }
  return out;
}
