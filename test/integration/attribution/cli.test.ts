import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshDetails } from '../../../src/details/refresh.ts';
import { amountsFor, generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { subscriberHistory } from '../../../src/simulator/transactions.ts';
import { syncProject } from '../../../src/sync/index.ts';
import { jsonOf, runCli } from '../../support/cli.ts';
import { createProject, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { ENCRYPTION_KEY, syncEnv } from '../sync/support.ts';

/* `attribute-transactions` (NDJSON in and out, from a file or stdin) and `revenue`, as an operator runs them. */

const getDb = useTestDatabase();
let sim: Simulator;
let productId: string;
const APP = '3100000001';
const dir = mkdtempSync(path.join(tmpdir(), 'attribution-cli-'));
const price = amountsFor(10, 'USA');

const env = () => ({
  DATABASE_URL: getDb().url,
  APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
  CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
});
const cli = (...args: string[]) => runCli(args, env());

/** The CLI with `input` on its stdin. */
function cliWithStdin(
  args: string[],
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env() };
    delete childEnv.VITEST;
    const child = spawn(process.execPath, [path.resolve('bin/catalog-sync.js'), ...args], { env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

const transactions = (idPrefix: string) =>
  subscriberHistory({
    bundleId: `bundle.${APP}`,
    productId,
    storefront: 'USA',
    currency: 'USD',
    start: new Date('2026-03-01T00:00:00Z'),
    periodDays: 30,
    price: price.customerPrice,
    periods: 3,
    idPrefix,
  });

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 31,
      apps: [
        {
          id: APP,
          iaps: 0,
          groups: 1,
          subscriptionsPerGroup: 1,
          grace: { optIn: true, duration: 'THREE_DAYS' },
        },
      ],
      details: { territories: 3, scheduledShare: 0 },
    }),
  });
  const subscription = sim.catalog.apps[0]!.groups[0]!.subscriptions[0]!;
  subscription.details!.prices = [{ startDate: null, tier: 10 }];
  productId = subscription.productId;
  const ctx = testContext(getDb().db, syncEnv(sim));
  await createProject(ctx, sim, 'ops', APP);
  const run = await syncProject(ctx, 'ops', { trigger: 'manual' });
  await refreshDetails(ctx, { projectId: 'ops', runId: run.runId, budget: null });
});

afterAll(async () => {
  await sim?.close();
});

describe('attribute-transactions', () => {
  it('reads NDJSON, writes one result per line, says what is wrong with bad lines, and sums up', async () => {
    const [a, b, c] = transactions('41');
    const file = path.join(dir, 'history.ndjson');
    writeFileSync(
      file,
      [
        JSON.stringify(a),
        JSON.stringify({ transaction: b }),
        '{"broken": ',
        JSON.stringify(a),
        '',
        JSON.stringify(c).slice(0, 40),
      ].join('\n'),
    );
    const result = await cli('attribute-transactions', 'ops', '--file', file);
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.line, l.status, l.error?.code ?? null])).toEqual([
      [1, 'stored', null],
      [2, 'stored', null],
      [3, 'refused', 'invalid'],
      [4, 'duplicate', null],
      [6, 'refused', 'invalid'],
    ]);
    expect(lines[0].attributions[0]).toMatchObject({
      customerPrice: price.customerPrice,
      proceeds: price.proceeds,
    });
    expect(lines[2].error.message).toMatch(/^line 3 is not valid JSON/);
    expect(lines[4].error.message).toBe('line 6 is truncated: the input ended in the middle of a JSON value');
    expect(result.stderr).toMatch(
      /5 lines in .* s: 2 stored, 0 new versions, 1 duplicates, 2 refused \(invalid 2\)/,
    );
  });

  it('reads stdin with `-`', async () => {
    const input = `${transactions('42')
      .map((t) => JSON.stringify(t))
      .join('\n')}\n`;
    const result = await cliWithStdin(['attribute-transactions', 'ops', '--file', '-', '--json'], input);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(3);
    const summary = JSON.parse(result.stderr.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ ok: true, summary: { items: 3, stored: 3 } });
  });

  it('a missing file is a usage error', async () => {
    const result = await cli('attribute-transactions', 'ops', '--file', path.join(dir, 'nope.ndjson'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--file: .*nope\.ndjson cannot be read \(ENOENT\)/);
  });
});

describe('revenue', () => {
  it('sums per product and currency from the stored attributions', async () => {
    const result = await cli(
      'revenue',
      'ops',
      '--from',
      '2026-03-01',
      '--to',
      '2026-04-01',
      '--by',
      'product',
      '--json',
    );
    expect(result.code).toBe(0);
    // March: the first purchases of subscribers 41 and 42 (2026-03-01) and their renewals on 2026-03-31.
    const twice = (amount: string) => (Number(amount) * 4).toFixed(2);
    expect(jsonOf(result)).toMatchObject({
      ok: true,
      rows: [
        {
          key: productId,
          currency: 'USD',
          customerPrice: twice(price.customerPrice),
          proceeds: twice(price.proceeds),
          count: 4,
        },
      ],
    });
  });

  it('refuses a bad grouping with the choices', async () => {
    const result = await cli('revenue', 'ops', '--from', '2026-03-01', '--to', '2026-04-01', '--by', 'week');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/day, month, product or territory/);
  });
});
