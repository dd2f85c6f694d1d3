import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../../db/client.ts';

/** Every row of every table in the public schema, all columns as text, in a stable order. */
export async function snapshotTables(db: Db): Promise<Record<string, string[]>> {
  const tables = rowsOf<{ tablename: string }>(
    await db.execute(sql`select tablename from pg_tables where schemaname = 'public' order by tablename`),
  ).map((row) => row.tablename);
  const snapshot: Record<string, string[]> = {};
  for (const table of tables) {
    const rows = rowsOf<{ row: string }>(
      await db.execute(sql.raw(`select to_jsonb(t)::text as row from "${table}" t order by 1`)),
    );
    snapshot[table] = rows.map((r) => r.row);
  }
  return snapshot;
}
