import { requestLowerBound } from '../../../src/sync/fetch.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { products, requestShapes, toPlanShape } from '../lib/shapes.ts';
import { round } from '../lib/stats.ts';
import { openSyncBench } from '../lib/sync-env.ts';

/*
 * Scenario 1: App Store Connect requests per sync, counted by the simulator (retries included),
 * against requestLowerBound(shape) computed from the shape the simulator was generated with
 * (not from what the sync believes it saw). First sync and unchanged re-sync of each shape.
 */

const ENDPOINT_ABBREVIATIONS: [RegExp, string][] = [
  [/^GET \/v1\/apps\/\{[^}]+\}$/, 'app'],
  [/inAppPurchasesV2$/, 'iap'],
  [/\/v1\/apps\/\{[^}]+\}\/subscriptionGroups$/, 'groups'],
  [/\/subscriptionGroups\/\{[^}]+\}\/subscriptions$/, 'subs'],
  [/subscriptionGracePeriod/i, 'grace'],
];

function compactEndpoints(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([endpoint, n]) => {
      const short = ENDPOINT_ABBREVIATIONS.find(([pattern]) => pattern.test(endpoint))?.[1] ?? endpoint;
      return `${short} ${n}`;
    })
    .join(', ');
}

export const requestsScenario: Scenario = {
  id: 1,
  key: 'requests',
  title: 'Requests per sync vs the lower bound',
  async run(ctx) {
    const shapes = requestShapes(ctx.quick);
    ctx.progress(`generating ${shapes.length} apps and starting the simulator`);
    const bench = await openSyncBench(ctx, 'requests', shapes);
    const rows: ResultTable['rows'] = [];
    const data = [];
    for (const [i, shape] of shapes.entries()) {
      const bound = requestLowerBound(toPlanShape(shape));
      const projectId = await bench.addProject(bench.appIds[i]!);
      ctx.progress(`${shape.name}: first sync`);
      const first = await bench.sync(projectId);
      const again = await bench.sync(projectId);
      if (!again.summary.unchanged)
        throw new Error(`${shape.name}: the re-sync of an unchanged catalog wrote changes`);
      rows.push([
        shape.name,
        products(shape),
        shape.iaps,
        shape.groups.length,
        shape.groups.length > 0 ? Math.max(...shape.groups) : 0,
        shape.grace ? 'yes' : 'no',
        bound,
        first.simRequests,
        again.simRequests,
        round(first.simRequests / bound, 2),
        compactEndpoints(first.simRequestsByEndpoint),
      ]);
      data.push({
        shape,
        lowerBound: bound,
        syncLowerBound: first.summary.requestLowerBound,
        first: {
          simRequests: first.simRequests,
          clientRequests: first.summary.requests,
          byEndpoint: first.simRequestsByEndpoint,
          byCallSite: first.summary.requestsByCallSite,
          ms: round(first.ms),
        },
        resync: {
          simRequests: again.simRequests,
          clientRequests: again.summary.requests,
          ms: round(again.ms),
        },
      });
    }
    const misses = data.filter(
      (d) => d.first.simRequests !== d.lowerBound || d.resync.simRequests !== d.lowerBound,
    );
    const targets: TargetCheck[] = [
      {
        name: 'requests = lower bound, every shape',
        target: `${data.length} of ${data.length} shapes equal`,
        actual: `${data.length - misses.length} of ${data.length} equal`,
        met: misses.length === 0,
        ...(misses.length > 0
          ? {
              note: misses
                .map(
                  (m) => `${m.shape.name}: ${m.first.simRequests}/${m.resync.simRequests} vs ${m.lowerBound}`,
                )
                .join('; '),
            }
          : {}),
      },
    ];
    return {
      tables: [
        {
          title: 'Requests per sync (counted by the simulator) vs requestLowerBound(shape)',
          columns: [
            'shape',
            'products',
            'IAPs',
            'groups',
            'max subs/group',
            'grace',
            'lower bound',
            'first sync',
            're-sync',
            'ratio',
            'first sync by endpoint',
          ],
          rows,
        },
      ],
      targets,
      notes: [
        'Lower bound (src/sync/plan.ts): 1 app request (includes ≤ 50 IAPs, the groups and the grace settings) ' +
          '+ ⌈IAPs/200⌉ when IAPs > 50; then for one group, max(1, ⌈subs/200⌉) (its subscriptions read directly); ' +
          'for two or more, ⌈groups/200⌉ + ⌈subs/200⌉ for each group above 50 subscriptions.',
      ],
      data,
    } satisfies ScenarioResult;
  },
};
