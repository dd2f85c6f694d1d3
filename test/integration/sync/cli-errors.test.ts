import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { useTestDatabase } from '../../support/db.ts';

/* The CLI says what is wrong and what to do instead of printing raw SQL. */

const getDb = useTestDatabase();

describe('database trouble at the CLI', () => {
  it('an unreachable Postgres: where, and what to check, never the password', async () => {
    const result = await runCli(['status', 'p1'], {
      DATABASE_URL: 'postgres://app:s3cret-pw@127.0.0.1:1/catalog',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Cannot reach Postgres at 127.0.0.1:1');
    expect(result.stderr).toContain('DATABASE_URL');
    expect(result.stderr).not.toContain('s3cret-pw');
  });

  it('a fresh DATA_DIR before migrate: run catalog-sync migrate; the folder is 0700', async () => {
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'cs-fresh-')), 'data');
    const result = await runCli(['status', 'p1'], { DATABASE_URL: undefined, DATA_DIR: dataDir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('catalog-sync migrate');
    expect(result.stderr).not.toMatch(/select|Failed query/i);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dataDir, 'pglite')).mode & 0o777).toBe(0o700);
  });

  it('changes --since out of range is a usage problem on --since', async () => {
    const result = await runCli(['changes', 'p1', '--since', '100000000d'], { DATABASE_URL: getDb().url });
    // Refused input is a usage error (exit 2), named by its flag, before any SQL runs.
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--since: .*before the year 1/);
    expect(result.stderr).not.toMatch(/select|Failed query/i);
  });
});
