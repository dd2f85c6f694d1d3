import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../../db/client.ts';
import { loadConfig } from '../../../src/config/env.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { createLogger } from '../../../src/log/logger.ts';

const CLI = path.resolve('bin/catalog-sync.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process; never throws on a non-zero exit. */
export function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  delete childEnv['VITEST'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: childEnv, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export const newEncryptionKey = () => randomBytes(32).toString('base64');

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

/** A ServiceContext on the test database whose log lines (all levels) are collected. */
export function testContext(
  db: Db,
  env: Record<string, string | undefined>,
): { ctx: ServiceContext; logs: () => string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: 'trace', destination });
  return { ctx: { db, config: loadConfig(env), logger }, logs: () => lines.join('') };
}
