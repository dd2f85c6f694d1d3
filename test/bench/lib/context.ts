import { randomBytes } from 'node:crypto';
import { type Database, openDatabase } from '../../../db/client.ts';
import { type Config, loadConfig } from '../../../src/config/env.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { createLogger } from '../../../src/log/logger.ts';
import type { Cleanup } from './cleanup.ts';

/** One encryption key per benchmark run (never printed). */
const encryptionKey = randomBytes(32).toString('base64');

/**
 * The environment of every process a scenario runs (its own, the worker's, the simulator's):
 * silent logs, no metrics server, the run's encryption key, plus the scenario's overrides.
 */
export function benchEnv(overrides: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string | undefined> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    LOG_FORMAT: 'json',
    METRICS_PORT: '0',
    CREDENTIALS_ENCRYPTION_KEY: encryptionKey,
    // The structure sync is what scenarios 1–5 measure; the details scenario measures details.
    DETAILS_BUDGET_SHARE: '0',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export function benchConfig(overrides: Record<string, string | undefined>): Config {
  return loadConfig(benchEnv(overrides));
}

/** A Postgres connection pool whose closing is on the cleanup stack. */
export async function openBenchDatabase(
  cleanup: Cleanup,
  url: string,
  options: { onQuery?: (query: string) => void; max?: number } = {},
): Promise<Database> {
  const database = await openDatabase({ databaseUrl: url, ...options });
  cleanup.defer('close database pool', () => database.close());
  return database;
}

export function serviceContext(database: Database, config: Config): ServiceContext {
  return { db: database.db, config, logger: createLogger({ level: 'silent' }) };
}
