import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../../db/client.ts';
import { projects } from '../../../db/schema.ts';
import { loadConfig } from '../../../src/config/env.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { saveCredentials } from '../../../src/credentials/index.ts';
import { createLogger } from '../../../src/log/logger.ts';
import type { Simulator } from '../../../src/simulator/index.ts';

/* Shared by the sync integration tests: a context against the simulator, projects bound to apps. */

export const ENCRYPTION_KEY = randomBytes(32).toString('base64');

export function testContext(db: Db, sim: Simulator, env: Record<string, string> = {}): ServiceContext {
  return {
    db,
    config: loadConfig({
      APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
      CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
      // A persistent fault must fail fast: one retry, millisecond backoff.
      APP_STORE_CONNECT_MAX_RETRIES: '1',
      APP_STORE_CONNECT_RETRY_CAP_MS: '20',
      LOG_LEVEL: 'silent',
      ...env,
    }),
    logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  };
}

/** A project with a simulator key saved through the credentials module and the app bound directly. */
export async function createProject(
  ctx: ServiceContext,
  sim: Simulator,
  projectId: string,
  appId: string | null,
  keyOptions: Parameters<Simulator['createKey']>[0] = {},
): Promise<{ keyId: string }> {
  const key = await sim.createKey(keyOptions);
  await saveCredentials(ctx, projectId, {
    keyId: key.keyId,
    issuerId: key.issuerId,
    privateKey: key.privateKeyPem,
  });
  if (appId !== null) {
    await ctx.db
      .update(projects)
      .set({ appStoreId: appId, bundleId: `bundle.${appId}`, appName: `App ${appId}` })
      .where(sql`${projects.id} = ${projectId}`);
  }
  return { keyId: key.keyId };
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

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (bin/catalog-sync.js) in a child process; never throws on a non-zero exit. */
export function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.resolve('bin/catalog-sync.js'), ...args],
      { env: childEnv, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
