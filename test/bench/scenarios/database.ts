import type { Simulator } from '../../../src/simulator/index.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { type NamedShape, products } from '../lib/shapes.ts';
import { median, round } from '../lib/stats.ts';
import {
  changedTables,
  type MeasuredSync,
  openSyncBench,
  projectRowDigests,
  writesByTable,
} from '../lib/sync-env.ts';

/*
 * Scenario 3: what a sync costs Postgres. Every statement drizzle sends is counted through
 * openDatabase's onQuery hook (BEGIN/COMMIT are the driver's, not counted), for a first sync,
 * an unchanged re-sync and a re-sync after 1% of the products changed, at three sizes. The
 * apply phase (advisory lock → commit) is timed apart from the fetch.
 */

const groupsOf = (count: number, each: number) => Array.from({ length: count }, () => each);
const SIZES: NamedShape[] = [
  { name: '100', iaps: 60, groups: groupsOf(2, 20), grace: true },
  { name: '1,000', iaps: 800, groups: groupsOf(2, 100), grace: true },
  { name: '10,000', iaps: 9000, groups: groupsOf(5, 200), grace: true },
];
const KINDS = ['first sync', 'unchanged re-sync', '1% changed re-sync'] as const;
type Kind = (typeof KINDS)[number];

interface ChangePlan {
  added: number;
  updated: number;
  removed: number;
}

/**
 * 1% of the app's products change: renames and state changes (IAPs and subscriptions), new
 * IAPs, removed IAPs. At least one of each, so every size runs the same kinds of statement.
 */
function changeOnePercent(sim: Simulator, appId: string, run: number): ChangePlan {
  const app = sim.catalog.apps.find((a) => a.id === appId);
  if (!app) throw new Error(`no app ${appId}`);
  const total = app.iaps.length + app.groups.reduce((sum, g) => sum + g.subscriptions.length, 0);
  const k = Math.max(3, Math.round(total / 100));
  const added = Math.max(1, Math.floor(k / 5));
  const removed = Math.max(1, Math.floor(k / 5));
  const updated = k - added - removed;
  const iapIds = app.iaps.map((p) => p.id);
  const subscriptionIds = app.groups.flatMap((g) => g.subscriptions.map((s) => s.id));
  // Updates: mostly IAPs, every fourth a subscription; removals: IAPs from the other end.
  for (let i = 0; i < updated; i++) {
    const id =
      i % 4 === 3 && subscriptionIds.length > 0 ? subscriptionIds[i % subscriptionIds.length]! : iapIds[i]!;
    sim.mutate.updateProduct(id, { name: `Renamed ${run}-${i}` });
  }
  for (let i = 0; i < removed; i++) sim.mutate.removeProduct(iapIds[iapIds.length - 1 - i]!);
  // Explicit product ids: the simulator's default may reuse the id of a product removed earlier,
  // which Apple never does (and the sync rightly refuses).
  for (let i = 0; i < added; i++)
    sim.mutate.addProduct(appId, { productId: `${app.bundleId}.bench.${run}.${i}` });
  return { added, updated, removed };
}

const TABLE_ABBREVIATIONS: Record<string, string> = {
  sync_runs: 'runs',
  subscription_groups: 'groups',
  grace_period_settings: 'grace',
  catalog_changes: 'changes',
  revenue_attribution_rules: 'rules',
  app_store_credentials: 'credentials',
};

const readCount = (s: MeasuredSync) =>
  s.statements.length - Object.values(writesByTable(s.statements)).reduce((a, b) => a + b, 0);

export const databaseScenario: Scenario = {
  id: 3,
  key: 'database',
  title: 'Database cost per sync (real Postgres)',
  async run(ctx) {
    const runs = ctx.quick ? 1 : 3;
    const bench = await openSyncBench(ctx, 'database', SIZES);
    const results = new Map<string, MeasuredSync[]>();
    const add = (size: string, kind: Kind, m: MeasuredSync) => {
      const key = `${size}|${kind}`;
      results.set(key, [...(results.get(key) ?? []), m]);
    };
    /** Tables whose rows an unchanged re-sync wrote (any row version changed). */
    const rowsWritten: string[] = [];
    const plans: { size: string; plan: ChangePlan; changes: Record<string, number> }[] = [];
    for (const [i, shape] of SIZES.entries()) {
      for (let run = 0; run < runs; run++) {
        ctx.progress(`${shape.name} products: run ${run + 1}/${runs}`);
        const projectId = await bench.addProject(bench.appIds[i]!);
        add(shape.name, 'first sync', await bench.sync(projectId));
        const digestsBefore = await projectRowDigests(bench.database.db, projectId);
        const unchanged = await bench.sync(projectId);
        if (!unchanged.summary.unchanged)
          throw new Error(`${shape.name}: an unchanged re-sync reported changes`);
        add(shape.name, 'unchanged re-sync', unchanged);
        const written = changedTables(digestsBefore, await projectRowDigests(bench.database.db, projectId));
        // The run row is always written: a digest that misses it could not see any other write either.
        if (!written.includes('sync_runs'))
          throw new Error('the row digest did not see the new sync_runs row');
        rowsWritten.push(...written);
        const plan = changeOnePercent(bench.sim!, bench.appIds[i]!, run);
        const changed = await bench.sync(projectId);
        add(shape.name, '1% changed re-sync', changed);
        plans.push({ size: shape.name, plan, changes: changed.summary.changes });
        const c = changed.summary.changes;
        if (
          c['product.added'] !== plan.added ||
          c['product.updated'] !== plan.updated ||
          c['product.removed'] !== plan.removed
        ) {
          throw new Error(
            `${shape.name}: expected ${JSON.stringify(plan)}, the sync recorded ${JSON.stringify(c)}`,
          );
        }
      }
    }

    const rows: ResultTable['rows'] = [];
    const statementsBy: Record<Kind, number[]> = {
      'first sync': [],
      'unchanged re-sync': [],
      '1% changed re-sync': [],
    };
    for (const shape of SIZES) {
      for (const kind of KINDS) {
        const list = results.get(`${shape.name}|${kind}`)!;
        const last = list[list.length - 1]!;
        const writes = writesByTable(last.statements);
        statementsBy[kind].push(last.statements.length);
        const changes = Object.values(last.summary.changes).reduce((a, b) => a + b, 0);
        rows.push([
          products(shape),
          kind,
          changes,
          last.statements.length,
          readCount(last),
          Object.values(writes).reduce((a, b) => a + b, 0),
          Object.entries(writes)
            .map(([table, n]) => `${TABLE_ABBREVIATIONS[table] ?? table} ${n}`)
            .join(', '),
          round(median(list.map((m) => m.ms)), 0),
          round(median(list.map((m) => m.fetchMs)), 0),
          round(median(list.map((m) => m.applyMs)), 0),
        ]);
      }
    }

    const strayWrites = [...new Set(rowsWritten.filter((table) => table !== 'sync_runs'))];
    const apply10k = median(results.get('10,000|first sync')!.map((m) => m.applyMs));
    const targets: TargetCheck[] = [
      {
        name: 'unchanged re-sync writes only its run',
        target: 'rows written in sync_runs only',
        actual: strayWrites.length === 0 ? 'sync_runs only' : `also ${strayWrites.join(', ')}`,
        met: strayWrites.length === 0,
      },
      ...KINDS.map((kind) => {
        const counts = statementsBy[kind];
        const grows = Math.max(...counts) !== Math.min(...counts);
        return {
          name: `${kind}: statements constant across sizes`,
          target: 'same count at 100, 1,000, 10,000',
          actual: counts.join(', '),
          met: !grows,
        } satisfies TargetCheck;
      }),
      {
        name: '10,000-product first sync: apply phase',
        target: '< 2000 ms',
        actual: `${round(apply10k, 0)} ms`,
        met: apply10k < 2000,
        ...(apply10k >= 2000 ? { note: `over by ${round(apply10k - 2000, 0)} ms` } : {}),
      },
    ];
    return {
      tables: [
        {
          title: `Statements and time per sync (times: median of ${runs} run${runs === 1 ? '' : 's'}; counts: last run)`,
          columns: [
            'products',
            'sync',
            'changes',
            'statements',
            'reads',
            'writes',
            'writes by table',
            'total ms',
            'fetch ms',
            'apply ms',
          ],
          rows,
        },
      ],
      targets,
      notes: [
        'Statements are every SQL statement the sync sends through drizzle (openDatabase onQuery): the run row with ' +
          'the project, its key and its catalog digest, then either the unchanged re-sync’s one statement (digest equal: ' +
          'lock, digest checked again, run ended) or the apply transaction (the fetch time with the advisory lock, one ' +
          'load with the clock, batched writes, the digest, the run row with the request it served). BEGIN/COMMIT are ' +
          'not counted. "1% changed" = at least 3 changes: renames (IAPs and subscriptions), ' +
          'new IAPs and removed IAPs, in the ratio 3:1:1. "writes" counts statements by kind (an UPDATE whose WHERE ' +
          'matches no row counts); the target checks rows actually written, by comparing every row version (xmin) ' +
          'of the project in every table before and after the re-sync.',
        '"fetch" = from the call to the apply transaction (rows, credentials, token, every request; simulator with ' +
          'no added latency); "apply" = from the advisory lock (or the unchanged re-sync’s statement) to the end.',
      ],
      data: {
        runs,
        plans,
        results: Object.fromEntries(
          [...results].map(([key, list]) => [
            key,
            list.map((m) => ({
              ms: round(m.ms),
              fetchMs: round(m.fetchMs),
              applyMs: round(m.applyMs),
              statements: m.statements.length,
              writes: writesByTable(m.statements),
              changes: m.summary.changes,
            })),
          ]),
        ),
      },
    } satisfies ScenarioResult;
  },
};
