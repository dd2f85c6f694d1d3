import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../../db/client.ts';
import type { Simulator } from '../../../src/simulator/index.ts';
import { newEncryptionKey } from '../../support/context.ts';

/* Shared by the sync integration tests: the settings of their contexts, and reading back what a sync stored. */

export const ENCRYPTION_KEY = newEncryptionKey();

/** The settings of the sync tests' in-process contexts: `testContext(db, syncEnv(sim))`. */
export function syncEnv(sim: Simulator, env: Record<string, string> = {}): Record<string, string> {
  return {
    APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
    CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    // A persistent fault must fail fast: one retry, millisecond backoff.
    APP_STORE_CONNECT_MAX_RETRIES: '1',
    APP_STORE_CONNECT_RETRY_CAP_MS: '20',
    LOG_LEVEL: 'silent',
    ...env,
  };
}

const CATALOG_TABLES = [
  'products',
  'subscription_groups',
  'grace_period_settings',
  'catalog_changes',
  'revenue_attribution_rules',
] as const;

/** Every catalog row of a project, as text, to compare before and after. */
export async function snapshotCatalog(db: Db, projectId: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of CATALOG_TABLES) {
    const rows = rowsOf<{ row: string }>(
      await db.execute(
        sql`select t::text as row from ${sql.identifier(table)} t where t.project_id = ${projectId} order by 1`,
      ),
    );
    out[table] = rows.map((r) => r.row);
  }
  return out;
}

export async function countRows(db: Db, projectId: string): Promise<Record<string, number>> {
  const snapshot = await snapshotCatalog(db, projectId);
  const runs = rowsOf<{ n: number }>(
    await db.execute(sql`select count(*)::int as n from sync_runs where project_id = ${projectId}`),
  );
  return {
    ...Object.fromEntries(Object.entries(snapshot).map(([table, rows]) => [table, rows.length])),
    sync_runs: runs[0]!.n,
  };
}

export async function changeRows(db: Db, runId: string) {
  return rowsOf<{
    entity: string;
    entity_id: string;
    action: string;
    changed_fields: string[];
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
  }>(
    await db.execute(
      sql`select entity, entity_id, action, changed_fields, before, after from catalog_changes where run_id = ${runId}::uuid order by id`,
    ),
  );
}

/** Sessions of this test's database waiting for an advisory lock (a sync queued for its project's). */
export async function lockWaiters(db: Db): Promise<number> {
  const [row] = rowsOf<{ n: number }>(
    await db.execute(sql`
      select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
       where d.datname = current_database() and l.locktype = 'advisory' and not l.granted`),
  );
  return row?.n ?? 0;
}
