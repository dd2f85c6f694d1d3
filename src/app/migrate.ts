import type { Database } from '../../db/client.ts';
import { type MigrationResult, migrateDatabase, migrateEmbedded } from '../../db/migrate.ts';
import type { Config } from '../config/env.ts';
import { asAppError } from '../database/errors.ts';
import { AppError } from '../errors.ts';

/**
 * Applies pending migrations (safe twice and concurrently). A Postgres URL is migrated on a
 * session of its own, under the advisory lock; the embedded database through the handle already
 * open when there is one (it allows one opener), else by opening it.
 */
export async function migrate(
  config: Pick<Config, 'databaseUrl' | 'dataDir'>,
  open?: Database,
): Promise<MigrationResult & { location: string }> {
  try {
    if (!config.databaseUrl && open?.kind === 'postgres') {
      throw new AppError(
        'unsupported',
        'Migrating a Postgres database needs its URL (databaseUrl / DATABASE_URL); or run `catalog-sync migrate`.',
      );
    }
    if (!config.databaseUrl && open?.kind === 'embedded') {
      return { ...(await migrateEmbedded(open)), location: open.location };
    }
    return await migrateDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  } catch (error) {
    throw asAppError(error, { doing: 'the migration' });
  }
}
