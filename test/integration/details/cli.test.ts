import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshDetails } from '../../../src/details/refresh.ts';
import {
  generateCatalog,
  type Simulator,
  startSimulator,
  TERRITORIES,
} from '../../../src/simulator/index.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { jsonOf, runCli } from '../../support/cli.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { ENCRYPTION_KEY, syncEnv } from '../sync/support.ts';

/* `prices`, `offers`, `attribute`, `health` and the health line of `status`, as an operator runs them. */

const getDb = useTestDatabase();
let sim: Simulator;
let productId: string;
const APP = '3000000001';

const cli = (...args: string[]) =>
  runCli(args, {
    DATABASE_URL: getDb().url,
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
          iaps: 2,
          groups: 1,
          subscriptionsPerGroup: 2,
          grace: { optIn: true, duration: 'THREE_DAYS' },
        },
      ],
      details: { unpricedShare: 1 },
    }),
  });
  const ctx = testContext(getDb().db, syncEnv(sim));
  await createProject(ctx, sim, 'ops', APP);
  const run = await syncProject(ctx, 'ops', { trigger: 'manual' });
  await refreshDetails(ctx, { projectId: 'ops', runId: run.runId, budget: null });
  productId = sim.catalog.apps[0]!.groups[0]!.subscriptions[0]!.productId;
});
afterAll(async () => {
  await sim?.close();
});

describe('the details commands', () => {
  it('prices --at lists the price in force in every territory, readable and JSON', async () => {
    const json = await cli(
      'prices',
      'ops',
      '--product',
      productId,
      '--at',
      new Date().toISOString(),
      '--json',
    );
    expect(json.code).toBe(0);
    const prices = jsonOf(json).prices as Array<{ territory: string; currency: string }>;
    // unpricedShare 1: every subscription is available in two territories without a price.
    expect(prices).toHaveLength(TERRITORIES.length - 2);
    const readable = await cli('prices', 'ops', '--product', productId, '--territory', 'JPN');
    expect(readable.code).toBe(0);
    expect(readable.stdout).toContain('JPY');
  });

  it('offers lists every kind', async () => {
    const json = await cli('offers', 'ops', '--json');
    expect(json.code).toBe(0);
    const kinds = new Set((jsonOf(json).offers as Array<{ kind: string }>).map((o) => o.kind));
    expect(kinds).toEqual(new Set(['introductory', 'promotional', 'offer_code', 'win_back']));
  });

  it('attribute answers with price, proceeds, offer and grace rule', async () => {
    const at = new Date().toISOString();
    const json = await cli(
      'attribute',
      'ops',
      '--product',
      productId,
      '--territory',
      'usa',
      '--at',
      at,
      '--json',
    );
    expect(json.code).toBe(0);
    expect(jsonOf(json)).toMatchObject({
      ok: true,
      territory: 'USA',
      environment: 'production',
      renewal: 'paid_to_paid',
      price: { currency: 'USD' },
      rule: { graceDays: 3, recoveredRevenueDatedTo: 'original_due_date' },
    });
    const readable = await cli('attribute', 'ops', '--product', productId, '--territory', 'DEU', '--at', at);
    expect(readable.stdout).toMatch(/Price: +[\d.]+ EUR/);
    expect(readable.stdout).toContain('Grace:    3 grace days');
  });

  it('says what is wrong with bad input, and exits 2 on a usage error', async () => {
    const badTerritory = await cli(
      'attribute',
      'ops',
      '--product',
      productId,
      '--territory',
      'US',
      '--at',
      '2026-01-01',
    );
    expect(badTerritory.code).toBe(2);
    expect(badTerritory.stderr).toContain('territory: must be a territory code of three letters');
    const unknown = await cli(
      'attribute',
      'ops',
      '--product',
      'nope',
      '--territory',
      'USA',
      '--at',
      '2026-01-01',
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no product "nope"');
    const usage = await cli('attribute', 'ops', '--territory', 'USA', '--at', '2026-01-01');
    expect(usage.code).toBe(2);
  });

  it('health and status report subscriptions available where they are not priced', async () => {
    const health = await cli('health', 'ops', '--json');
    expect(health.code).toBe(0);
    const issues = jsonOf(health).issues as Array<{ kind: string }>;
    expect(issues.filter((i) => i.kind === 'unpriced_territories')).toHaveLength(2);
    const status = await cli('status', 'ops');
    expect(status.stdout).toContain('Health:      unpriced_territories 2');
    const statusJson = jsonOf(await cli('status', 'ops', '--json'));
    expect(statusJson.catalogHealth).toMatchObject({ staleProducts: 0, counts: { unpriced_territories: 2 } });
  });
});
