import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { type Database, openDatabase, rowsOf } from './client.ts';

/** The checked-in migrations, from the source tree or from the installed package. */
export function migrationsFolder(): string {
  const candidates = [
    new URL('./migrations', import.meta.url),
    new URL('../../db/migrations', import.meta.url),
  ];
  for (const candidate of candidates) {
    const folder = fileURLToPath(candidate);
    if (existsSync(folder)) return folder;
  }
  throw new Error('The db/migrations folder is missing from this installation; reinstall catalog-sync.');
}

// Any fixed 64-bit number; it serialises migrations across processes.
const MIGRATION_LOCK = 7_243_001;

export interface MigrationResult {
  applied: number;
  total: number;
}

async function countApplied(database: Database): Promise<number> {
  const exists = rowsOf<{ present: boolean }>(
    await database.db.execute(sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present`),
  );
  if (!exists[0]?.present) return 0;
  const rows = rowsOf<{ n: number | string }>(
    await database.db.execute(sql`select count(*) as n from drizzle.__drizzle_migrations`),
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Applies pending migrations. Safe to run twice, and from several processes at once:
 * on Postgres a session advisory lock makes them take turns, and each applies only what
 * the others have not.
 */
export async function migrateDatabase(options: {
  databaseUrl?: string | undefined;
  dataDir?: string;
}): Promise<MigrationResult & { location: string }> {
  const folder = migrationsFolder();
  const { readMigrationFiles } = await import('drizzle-orm/migrator');
  const total = readMigrationFiles({ migrationsFolder: folder }).length;
  if (options.databaseUrl) {
    const { default: postgres } = await import('postgres');
    const { drizzle: drizzlePostgres } = await import('drizzle-orm/postgres-js');
    const { migrate: migratePostgres } = await import('drizzle-orm/postgres-js/migrator');
    // One connection, so the lock and the migration share a session.
    const client = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const db = drizzlePostgres(client);
      const database = { db, kind: 'postgres', location: '', close: async () => {} } as unknown as Database;
      await client`select pg_advisory_lock(${MIGRATION_LOCK})`;
      try {
        const before = await countApplied(database);
        await migratePostgres(db, { migrationsFolder: folder });
        const after = await countApplied(database);
        return { applied: after - before, total, location: new URL(options.databaseUrl).host };
      } finally {
        await client`select pg_advisory_unlock(${MIGRATION_LOCK})`;
      }
    } finally {
      await client.end({ timeout: 5 });
    }
  }
  const database = await openDatabase({ dataDir: options.dataDir ?? '.data' });
  try {
    return { ...(await migrateEmbedded(database)), location: database.location };
  } finally {
    await database.close();
  }
}

/**
 * Migrates an embedded database that is already open (it allows one opener per folder, so a
 * process that holds it, like the public API's client, migrates through its own handle).
 */
export async function migrateEmbedded(database: Database): Promise<MigrationResult> {
  const folder = migrationsFolder();
  const { readMigrationFiles } = await import('drizzle-orm/migrator');
  const { migrate: migratePglite } = await import('drizzle-orm/pglite/migrator');
  const total = readMigrationFiles({ migrationsFolder: folder }).length;
  const before = await countApplied(database);
  await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder: folder });
  return { applied: (await countApplied(database)) - before, total };
}
