import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger as DrizzleLogger } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema.ts';
import { redactUrl } from './url.ts';

export { schema };

/** Either driver's drizzle instance: postgres-js for real Postgres, PGlite for the embedded default. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: 'postgres' | 'embedded';
  /** Where it lives, safe to print (the URL without its password, or the data folder). */
  location: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Postgres URL; when absent the embedded database under `dataDir` is used. */
  databaseUrl?: string | undefined;
  dataDir?: string;
  /** Pool size for postgres-js. */
  max?: number;
  /** Called with every SQL statement drizzle sends (benchmarks count them). */
  onQuery?: (query: string) => void;
  /** How long opening the embedded database may take before we give up with advice. */
  embeddedOpenTimeoutMs?: number;
  /**
   * Embedded only: install SIGINT/SIGTERM handlers that close it and exit (default true). A process
   * with a graceful shutdown of its own (the worker) passes false and closes it on every exit path.
   */
  exitOnSignal?: boolean;
}

function drizzleLogger(onQuery?: (query: string) => void): DrizzleLogger | undefined {
  return onQuery ? { logQuery: (query) => onQuery(query) } : undefined;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);
  return openEmbedded(options);
}

/** Each driver is imported by its own open: the embedded database loads no Postgres driver, and back. */
async function openPostgres(url: string, options: OpenOptions): Promise<Database> {
  const [{ default: postgres }, { drizzle: drizzlePostgres }] = await Promise.all([
    import('postgres'),
    import('drizzle-orm/postgres-js'),
  ]);
  const client = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // Keep timestamps as Date objects and bigints as numbers where drizzle expects them.
    connection: { application_name: 'catalog-sync' },
  });
  const logger = drizzleLogger(options.onQuery);
  const db = drizzlePostgres(client, { schema, ...(logger ? { logger } : {}) }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    location: redactUrl(url),
    close: () => client.end({ timeout: 5 }),
  };
}

const openEmbeddedInstances = new Set<PGlite>();
let exitHooksInstalled = false;

/**
 * PGlite must be closed on every exit path: a process that exits without close() leaves the
 * data folder in a state where the next open hangs (docs/architecture.md, "Lessons built in").
 */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.allSettled([...openEmbeddedInstances].map((instance) => instance.close())).finally(() =>
        process.exit(signal === 'SIGINT' ? 130 : 143),
      );
    });
  }
}

async function openEmbedded(options: OpenOptions): Promise<Database> {
  const dataDir = path.resolve(options.dataDir ?? '.data', 'pglite');
  // Owner only: the embedded database holds every project's catalog and sealed keys.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle: drizzlePglite } = await import('drizzle-orm/pglite');
  const timeoutMs = options.embeddedOpenTimeoutMs ?? 30_000;
  const client = new PGlite(dataDir);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `The embedded database in ${dataDir} did not open within ${timeoutMs / 1000}s. ` +
              'Another catalog-sync process may be using it, or an earlier one was killed without closing it. ' +
              'Stop other catalog-sync processes, or delete the folder to start afresh, or set DATABASE_URL to a Postgres server.',
          ),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([client.waitReady, timeout]);
  } finally {
    clearTimeout(timer);
  }
  openEmbeddedInstances.add(client);
  if (options.exitOnSignal !== false) installExitHooks();
  const logger = drizzleLogger(options.onQuery);
  const db = drizzlePglite(client, { schema, ...(logger ? { logger } : {}) }) as unknown as Db;
  return {
    db,
    kind: 'embedded',
    location: dataDir,
    close: async () => {
      openEmbeddedInstances.delete(client);
      if (!client.closed) await client.close();
    },
  };
}

/** Rows of a raw `db.execute(sql…)` result, whichever driver produced it. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown }).rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}
