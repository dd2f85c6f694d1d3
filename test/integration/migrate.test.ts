import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rowsOf } from '../../db/client.ts';
import { migrationsFolder } from '../../db/migrate.ts';
import { runCli } from '../support/cli.ts';
import { databaseUrl } from '../support/global-setup.ts';

/** Migrations in the journal (the branches of one round each add one; the lead merges them). */
const MIGRATIONS = (
  JSON.parse(readFileSync(path.join(migrationsFolder(), 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  }
).entries.length;

const TABLES = [
  'api_idempotency_keys',
  'api_tokens',
  'app_store_credentials',
  'attribution_batch_items',
  'attribution_batches',
  'attribution_price_points',
  'catalog_changes',
  'catalog_digests',
  'console_sessions',
  'detail_metadata',
  'detail_schedule',
  'discovered_apps',
  'event_sequences',
  'events',
  'grace_period_settings',
  'offer_prices',
  'product_availability',
  'product_localizations',
  'product_offers',
  'product_prices',
  'products',
  'projects',
  'revenue_attribution_rules',
  'run_announcements',
  'subscription_groups',
  'sync_runs',
  'territories',
  'transaction_attributions',
  'webhook_deliveries',
  'webhook_delivery_attempts',
  'webhook_endpoints',
];

describe('catalog-sync migrate', () => {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `cst_${inject('runId')}_empty${process.pid}`;
  const url = databaseUrl(adminUrl, name);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    await admin.unsafe(`create database "${name}"`);
  });
  afterAll(async () => {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  });

  async function tables(): Promise<string[]> {
    const client = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const rows =
        await client`select tablename from pg_tables where schemaname = 'public' order by tablename`;
      return rows.map((row) => row.tablename as string);
    } finally {
      await client.end();
    }
  }

  it('creates every table in docs/architecture.md on an empty database, and a second run changes nothing', async () => {
    const first = await runCli(['migrate', '--json'], { DATABASE_URL: url });
    expect(JSON.parse(first.stdout)).toMatchObject({ ok: true, applied: MIGRATIONS });
    expect(await tables()).toEqual(TABLES);

    const second = await runCli(['migrate', '--json'], { DATABASE_URL: url });
    expect(JSON.parse(second.stdout)).toMatchObject({ ok: true, applied: 0 });
    expect(await tables()).toEqual(TABLES);
  });

  it('is safe from two processes at once', async () => {
    const other = `${name}_b`;
    const otherUrl = databaseUrl(adminUrl, other);
    await admin.unsafe(`create database "${other}"`);
    try {
      const results = await Promise.all([
        runCli(['migrate', '--json'], { DATABASE_URL: otherUrl }),
        runCli(['migrate', '--json'], { DATABASE_URL: otherUrl }),
      ]);
      const applied = results.map((r) => JSON.parse(r.stdout).applied as number).sort();
      expect(applied).toEqual([0, MIGRATIONS]);
    } finally {
      await admin.unsafe(`drop database if exists "${other}" with (force)`);
    }
  });

  it('works on the embedded database when DATABASE_URL is unset', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'catalog-sync-embedded-'));
    try {
      const first = await runCli(['migrate', '--json'], { DATABASE_URL: undefined, DATA_DIR: dataDir });
      expect(JSON.parse(first.stdout)).toMatchObject({ ok: true, applied: MIGRATIONS });
      const second = await runCli(['migrate', '--json'], { DATABASE_URL: undefined, DATA_DIR: dataDir });
      expect(JSON.parse(second.stdout)).toMatchObject({ ok: true, applied: 0 });

      const { openDatabase } = await import('../../db/client.ts');
      const embedded = await openDatabase({ dataDir });
      try {
        const rows = rowsOf<{ tablename: string }>(
          await embedded.db.execute(
            sql`select tablename from pg_tables where schemaname = 'public' order by tablename`,
          ),
        );
        expect(rows.map((row) => row.tablename)).toEqual(TABLES);
      } finally {
        await embedded.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
