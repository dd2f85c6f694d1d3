import { criticalPath, requestLowerBound } from '../../../src/sync/fetch.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { type NamedShape, products, toPlanShape } from '../lib/shapes.ts';
import { median, round } from '../lib/stats.ts';
import { openSyncBench } from '../lib/sync-env.ts';

/*
 * Scenario 2: sync wall time with the simulator adding LATENCY_MS to every request, against
 * the critical path (criticalPath(shape) requests one after another × LATENCY_MS). Each run is
 * a fresh project (first sync: everything inserted) followed by an unchanged re-sync of it.
 * Target for the 1,000-product shapes: median ≤ 1.25 × critical path + 50 ms.
 */

const LATENCY_MS = 100;
const groupsOf = (count: number, each: number) => Array.from({ length: count }, () => each);

function latencyShapes(quick: boolean): NamedShape[] {
  const shapes: NamedShape[] = [
    { name: '100: 60 IAPs + 2 groups × 20', iaps: 60, groups: groupsOf(2, 20), grace: true },
    { name: '1,000: 800 IAPs + 2 groups × 100', iaps: 800, groups: groupsOf(2, 100), grace: true },
    { name: '1,000: 400 IAPs + 120 groups × 5', iaps: 400, groups: groupsOf(120, 5), grace: true },
    { name: '1,000: IAPs only', iaps: 1000, groups: [], grace: false },
    { name: '1,000: 4 groups × 250, no IAPs', iaps: 0, groups: groupsOf(4, 250), grace: true },
  ];
  return quick ? shapes.filter((_, i) => i === 1 || i === 2) : shapes;
}

export const latencyScenario: Scenario = {
  id: 2,
  key: 'latency',
  title: `Sync wall time vs the critical path (simulator latency ${LATENCY_MS} ms per request)`,
  async run(ctx) {
    const shapes = latencyShapes(ctx.quick);
    const runs = ctx.quick ? 2 : 5;
    const bench = await openSyncBench(ctx, 'latency', shapes, { latencyMs: LATENCY_MS, ownProcess: true });
    const rows: ResultTable['rows'] = [];
    const data = [];
    const targets: TargetCheck[] = [];
    for (const [i, shape] of shapes.entries()) {
      const plan = toPlanShape(shape);
      const pathMs = criticalPath(plan) * LATENCY_MS;
      const limitMs = 1.25 * pathMs + 50;
      const first: number[] = [];
      const again: number[] = [];
      const fetchFirst: number[] = [];
      const applyFirst: number[] = [];
      const fetchAgain: number[] = [];
      const applyAgain: number[] = [];
      for (let run = 0; run < runs; run++) {
        ctx.progress(`${shape.name}: run ${run + 1}/${runs}`);
        const projectId = await bench.addProject(bench.appIds[i]!);
        const a = await bench.sync(projectId);
        const b = await bench.sync(projectId);
        first.push(a.ms);
        fetchFirst.push(a.fetchMs);
        applyFirst.push(a.applyMs);
        again.push(b.ms);
        fetchAgain.push(b.fetchMs);
        applyAgain.push(b.applyMs);
      }
      const firstMedian = median(first);
      const againMedian = median(again);
      rows.push([
        shape.name,
        products(shape),
        requestLowerBound(plan),
        criticalPath(plan),
        pathMs,
        round(limitMs, 0),
        `${round(firstMedian, 0)} (${round(firstMedian / pathMs, 2).toFixed(2)}×)`,
        `${round(median(fetchFirst), 0)} + ${round(median(applyFirst), 0)}`,
        `${round(againMedian, 0)} (${round(againMedian / pathMs, 2).toFixed(2)}×)`,
        `${round(median(fetchAgain), 0)} + ${round(median(applyAgain), 0)}`,
      ]);
      data.push({
        shape,
        criticalPath: criticalPath(plan),
        pathMs,
        limitMs,
        first,
        fetchFirst,
        applyFirst,
        again,
        fetchAgain,
        applyAgain,
      });
      if (products(shape) === 1000) {
        const worst = Math.max(firstMedian, againMedian);
        targets.push({
          name: `${shape.name}: wall ≤ 1.25 × path + 50 ms`,
          target: `≤ ${round(limitMs, 0)} ms`,
          actual: `first ${round(firstMedian, 0)} ms, re-sync ${round(againMedian, 0)} ms`,
          met: worst <= limitMs,
          ...(worst > limitMs
            ? { note: `over by ${round(worst - limitMs, 0)} ms (${round(worst / limitMs, 2)}×)` }
            : {}),
        });
      }
    }
    return {
      tables: [
        {
          title: `Sync wall time, median of ${runs} runs (each a fresh project's first sync, then an unchanged re-sync)`,
          columns: [
            'shape',
            'products',
            'requests',
            'path (requests)',
            'path ms',
            'limit ms',
            'first sync ms (÷ path)',
            'fetch + apply ms',
            're-sync ms (÷ path)',
            'fetch + apply ms',
          ],
          rows,
        },
      ],
      targets,
      notes: [
        `Critical path = criticalPath(shape) × ${LATENCY_MS} ms: the app request, then the longer of the IAP pages ` +
          'and (groups pages, then the longest capped group’s subscription pages). Limit = 1.25 × path + 50 ms.',
        '"fetch" runs from the call to the apply transaction (project and run rows, credentials, token, every ' +
          'request, parsing); "apply" from the per-project advisory lock to the commit (load, diff, batched writes, ' +
          'rules, run row). The simulator runs in its own process.',
      ],
      data,
    } satisfies ScenarioResult;
  },
};
