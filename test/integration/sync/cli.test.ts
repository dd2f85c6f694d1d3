import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { jsonOf, runCli } from '../../support/cli.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { useTestRedis } from '../../support/redis.ts';
import { ENCRYPTION_KEY, syncEnv } from './support.ts';

/* `sync --inline`, `status`, `products`, `changes`, `rules` as an operator runs them. */

const getDb = useTestDatabase();
// `sync --inline` reads the due details after the structure, inside the key's budget in Redis.
const redis = useTestRedis();
let sim: Simulator;
const APP = '3000000001';

const cli = (...args: string[]) =>
  runCli(args, {
    DATABASE_URL: getDb().url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
    CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
  });

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 3,
      apps: [
        {
          id: APP,
          iaps: 60,
          groups: 1,
          subscriptionsPerGroup: 3,
          grace: { optIn: true, duration: 'THREE_DAYS' },
        },
      ],
    }),
  });
  await createProject(testContext(getDb().db, syncEnv(sim)), sim, 'ops', APP);
});
afterAll(async () => {
  await sim?.close();
});

describe('the catalog commands', () => {
  it('sync --inline prints a summary (JSON and readable), then the queries show what it stored', async () => {
    const first = await cli('sync', 'ops', '--inline', '--json');
    expect(first.code).toBe(0);
    expect(jsonOf(first)).toMatchObject({
      ok: true,
      status: 'succeeded',
      changes: { 'product.added': 63, 'subscription_group.added': 1, 'grace_period.added': 1 },
      requests: 3,
      requestLowerBound: 3,
      unchanged: false,
    });

    const again = await cli('sync', 'ops', '--inline');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Synced project ops in \d+ ms \(run [0-9a-f-]+\): no changes\./);
    expect(again.stdout).toContain('60 in-app purchases, 1 subscription groups, 3 subscriptions');
    expect(again.stdout).toContain('App Store Connect requests: 3 (fewest possible for this catalog: 3)');

    const [productsTable, recent, rules, status, statusJson] = await Promise.all([
      cli('products', 'ops'),
      cli('changes', 'ops', '--since', '1h', '--json'),
      cli('rules', 'ops'),
      cli('status', 'ops'),
      cli('status', 'ops', '--json'),
    ]);
    const stored = sim.catalog.apps[0]!;
    for (const iap of stored.iaps.slice(0, 5)) expect(productsTable.stdout).toContain(iap.productId);
    expect(productsTable.stdout).toContain('auto_renewable_subscription');

    const changes = jsonOf(recent).changes as { entity: string; action: string }[];
    expect(changes).toHaveLength(65);
    expect(new Set(changes.map((c) => c.action))).toEqual(new Set(['added']));

    expect(rules.stdout).toContain('paid_to_paid');
    expect(rules.stdout).toContain('original_due_date');

    expect(status.stdout).toContain('Project ops');
    expect(status.stdout).toContain('63 products (0 removed), 1 groups, grace on');
    expect(status.stdout).toContain('succeeded');
    const statusValue = jsonOf(statusJson);
    expect(statusValue).toMatchObject({
      ok: true,
      projectId: 'ops',
      app: { appStoreId: APP },
      // The key was never verified, but two successful syncs prove it works.
      credentials: { status: 'valid' },
      catalog: { products: 63, groups: 1, graceOptIn: true },
    });
    expect(statusValue.lastRuns).toHaveLength(2);
    expect(statusJson.stdout).not.toMatch(/BEGIN|privateKey|eyJ/);
  });

  it('a bad or out-of-range --since exits 2 (usage) and an unknown project 1, each with advice', async () => {
    const [bad, far, unknown] = await Promise.all([
      cli('changes', 'ops', '--since', 'yesterday-ish'),
      cli('changes', 'ops', '--since', '100000000d', '--json'),
      cli('status', 'nobody', '--json'),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error: --since: ');
    expect(bad.stderr).toContain('24h');
    // Refused before it reaches Postgres: no SQL in the message, the field as data.
    expect(far.code).toBe(2);
    expect(jsonOf(far)).toMatchObject({ ok: false, error: { kind: 'invalid_input', field: 'since' } });
    expect(far.stdout).not.toMatch(/select|timestamp/i);
    expect(unknown.code).toBe(1);
    expect(jsonOf(unknown)).toMatchObject({ ok: false, error: { kind: 'not_found' } });
  });
});
