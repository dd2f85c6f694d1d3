import type { Command } from 'commander';
import type { ProjectStatus } from '../../app/status.ts';
import { InvalidInputError } from '../../errors.ts';
import { printResult, renderTable } from '../output.ts';
import { type JsonOption, runCommand, withJson } from '../run.ts';
import { describeSchedule } from './schedule.ts';

const yesNo = (value: boolean | null | undefined) =>
  value === null || value === undefined ? '' : value ? 'yes' : 'no';

function formatCounts(counts: Record<string, number> | null | undefined): string {
  const entries = Object.entries(counts ?? {});
  return entries.length === 0 ? 'no changes' : entries.map(([key, n]) => `${key} ${n}`).join(', ');
}

function healthLine({ catalogHealth: health, projectId }: ProjectStatus): string {
  const issues = Object.entries(health.counts)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`);
  return (
    `${issues.length === 0 ? 'no issues' : issues.join(', ')}` +
    ` (details: ${health.staleProducts} stale, oldest read ${health.oldestDetailsReadAt ?? 'never'}; ` +
    `\`catalog-sync health ${projectId}\` lists them)`
  );
}

export function renderStatus(status: ProjectStatus): string {
  const { app, credentials, catalog, lastRuns: runs, schedule } = status;
  const appText = app
    ? `${app.appStoreId} (${app.bundleId || '?'}${app.name ? `, ${app.name}` : ''})`
    : 'none selected (run `catalog-sync apps` then `catalog-sync select-app`)';
  const key = credentials
    ? `key ${credentials.keyId}, status ${credentials.status}${credentials.statusDetail ? ` — ${credentials.statusDetail}` : ''}` +
      (credentials.verifiedAt ? ` (checked ${credentials.verifiedAt.toISOString()})` : '')
    : 'none saved (run `catalog-sync credentials set`)';
  const grace = catalog.graceOptIn === null ? 'no settings' : catalog.graceOptIn ? 'on' : 'off';
  const lines = [
    `Project ${status.projectId}`,
    `  App:         ${appText}`,
    `  Credentials: ${key}`,
    `  Schedule:    ${schedule ? describeSchedule(schedule) : 'none'}`,
    `  Catalog:     ${catalog.products} products (${catalog.removedProducts} removed), ${catalog.groups} groups, grace ${grace}`,
    `  Health:      ${healthLine(status)}`,
  ];
  if (runs.length === 0) return `${lines.join('\n')}\n  No sync has run yet.`;
  const table = renderTable(
    ['started', 'trigger', 'status', 'ms', 'requests', 'changes / error'],
    runs.map((run) => [
      run.startedAt,
      run.trigger,
      run.status,
      run.durationMs,
      run.requests,
      run.error ? `${run.error.kind}: ${run.error.message}` : formatCounts(run.changes),
    ]),
  );
  return `${lines.join('\n')}\nLast runs:\n${table}`;
}

export function registerCatalogQueries(program: Command): void {
  withJson(program.command('status <project>').description('credential status, last runs')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const { getStatus } = await import('../../app/status.ts');
        const status = await getStatus(await cli.app(), { projectId: project });
        printResult(options, { ok: true, ...status }, () => renderStatus(status));
      }),
  );

  withJson(program.command('products <project>').description('stored products')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const { listProducts } = await import('../../app/catalog.ts');
        const { projectId, products } = await listProducts(await cli.app(), { projectId: project });
        printResult(options, { ok: true, projectId, products }, () =>
          products.length === 0
            ? `No products stored for ${projectId} yet (run \`catalog-sync sync ${projectId} --inline\`).`
            : renderTable(
                [
                  'product id',
                  'kind',
                  'reference name',
                  'state',
                  'group',
                  'level',
                  'period',
                  'apple id',
                  'removed',
                ],
                products.map((row) => [
                  row.productId,
                  row.kind,
                  row.referenceName,
                  row.state,
                  row.groupAppleId,
                  row.groupLevel,
                  row.subscriptionPeriod,
                  row.appleId,
                  row.removedAt,
                ]),
              ),
        );
      }),
  );

  withJson(
    program
      .command('changes <project>')
      .description('change log')
      .option('--since <time>', 'ISO date-time, or a duration back from now such as 24h, 7d or 2w')
      .option('--run <id>', "one sync run's rows (its id, or a catalog.changed event's changesCursor)"),
  ).action((project: string, options: JsonOption & { since?: string; run?: string }) =>
    runCommand(options, async (cli) => {
      if (options.run !== undefined) {
        if (options.since !== undefined) {
          throw new InvalidInputError('runId', 'give either --run or --since, not both.');
        }
        const { listRunChanges } = await import('../../app/events.ts');
        const result = await listRunChanges(await cli.app(), { projectId: project, runId: options.run });
        printResult(options, { ok: true, ...result }, () =>
          result.changes.length === 0
            ? `No changes in run ${result.runId} of ${result.projectId}.`
            : changesTable(result.changes),
        );
        return;
      }
      const { listChanges } = await import('../../app/catalog.ts');
      const { projectId, since, changes } = await listChanges(await cli.app(), {
        projectId: project,
        since: options.since,
      });
      printResult(options, { ok: true, projectId, since, changes }, () =>
        changes.length === 0
          ? `No changes${since ? ` since ${since.toISOString()}` : ''} for ${projectId}.`
          : changesTable(changes),
      );
    }),
  );

  withJson(program.command('rules <project>').description('revenue-attribution rules in force')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const { listRules } = await import('../../app/catalog.ts');
        const { projectId, rules } = await listRules(await cli.app(), { projectId: project });
        printResult(options, { ok: true, projectId, rules }, () =>
          rules.length === 0
            ? `No rules for ${projectId} yet: they are derived by the first sync.`
            : renderTable(
                [
                  'environment',
                  'renewal kind',
                  'grace days',
                  'recovered revenue dated to',
                  'access in grace',
                  'unrecovered churn at',
                  'since',
                ],
                rules.map((row) => [
                  row.environment,
                  row.renewalKind,
                  row.graceDays,
                  row.recoveredRevenueDatedTo,
                  yesNo(row.accessDuringGrace),
                  row.unrecoveredChurnAt,
                  row.effectiveFrom,
                ]),
              ),
        );
      }),
  );
}

function changesTable(
  changes: readonly {
    detectedAt: Date | string;
    entity: string;
    entityId: string;
    action: string;
    changedFields: string[];
    before: unknown;
    after: unknown;
  }[],
): string {
  return renderTable(
    ['detected', 'entity', 'apple id', 'name', 'action', 'changed fields'],
    changes.map((row) => {
      const model = (row.after ?? row.before ?? {}) as Record<string, unknown>;
      const name = model.productId ?? model.referenceName ?? model.duration ?? '';
      return [
        row.detectedAt,
        row.entity,
        row.entityId,
        String(name),
        row.action,
        row.changedFields.join(', '),
      ];
    }),
  );
}
