import type { Command } from 'commander';
import { catalogHealth } from '../../app/details.ts';
import type { ServiceContext } from '../../context.ts';
import {
  listChanges,
  listProducts,
  type ProjectStatus,
  parseSince,
  projectStatus,
  rulesInForce,
} from '../../sync/index.ts';
import { type CliContext, runCommand, withJson } from '../context.ts';
import { printResult, renderTable } from '../output.ts';

/** The domain's context from the CLI's (opens the database on first use). */
export async function serviceContextOf(cli: CliContext): Promise<ServiceContext> {
  const database = await cli.database();
  return { db: database.db, config: cli.config, logger: cli.logger };
}

interface JsonOption {
  json?: boolean;
}

const yesNo = (value: boolean | null | undefined) =>
  value === null || value === undefined ? '' : value ? 'yes' : 'no';

function formatCounts(counts: Record<string, number> | null | undefined): string {
  const entries = Object.entries(counts ?? {});
  return entries.length === 0 ? 'no changes' : entries.map(([key, n]) => `${key} ${n}`).join(', ');
}

function renderStatus(status: ProjectStatus): string {
  const { project, credentials, catalog, runs } = status;
  const app = project.appStoreId
    ? `${project.appStoreId} (${project.bundleId ?? '?'}${project.appName ? `, ${project.appName}` : ''})`
    : 'none selected (run `catalog-sync apps` then `catalog-sync select-app`)';
  const schedule = project.scheduleEverySeconds
    ? `every ${project.scheduleEverySeconds}s`
    : (project.scheduleCron ?? 'none');
  const key = credentials
    ? `key ${credentials.keyId}, status ${credentials.status}${credentials.statusDetail ? ` — ${credentials.statusDetail}` : ''}` +
      (credentials.verifiedAt ? ` (checked ${credentials.verifiedAt.toISOString()})` : '')
    : 'none saved (run `catalog-sync credentials set`)';
  const grace = catalog.graceOptIn === null ? 'no settings' : catalog.graceOptIn ? 'on' : 'off';
  const lines = [
    `Project ${project.id}`,
    `  App:         ${app}`,
    `  Credentials: ${key}`,
    `  Schedule:    ${schedule}`,
    `  Catalog:     ${catalog.products} products (${catalog.removedProducts} removed), ${catalog.groups} groups, grace ${grace}`,
  ];
  if (runs.length === 0) return `${lines.join('\n')}\n  No sync has run yet.`;
  const table = renderTable(
    ['started', 'trigger', 'status', 'ms', 'requests', 'changes / error'],
    runs.map((run) => [
      run.startedAt,
      run.trigger,
      run.status,
      run.durationMs,
      run.requestsMade,
      run.status === 'failed' ? `${run.errorKind}: ${run.errorMessage}` : formatCounts(run.counts),
    ]),
  );
  return `${lines.join('\n')}\nLast runs:\n${table}`;
}

export function registerCatalogQueries(program: Command): void {
  withJson(program.command('status <project>').description('credential status, last runs')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const ctx = await serviceContextOf(cli);
        const status = await projectStatus(ctx, project);
        // Issue 12: catalog health and details staleness (the lead merges the status shape).
        const health = await catalogHealth(ctx, { projectId: project });
        const catalogHealthField = {
          counts: health.counts,
          staleProducts: health.staleProducts,
          oldestDetailsReadAt: health.oldestDetailsReadAt,
          issues: health.issues,
        };
        printResult(options, { ok: true, ...status, catalogHealth: catalogHealthField }, () => {
          const issues = Object.entries(health.counts)
            .filter(([, n]) => n > 0)
            .map(([kind, n]) => `${kind} ${n}`);
          const line =
            `  Health:      ${issues.length === 0 ? 'no issues' : issues.join(', ')}` +
            ` (details: ${health.staleProducts} stale, oldest read ${health.oldestDetailsReadAt ?? 'never'}; ` +
            `\`catalog-sync health ${project}\` lists them)`;
          const rendered = renderStatus(status);
          const at = rendered.indexOf('\n', rendered.indexOf('  Catalog:'));
          return at < 0 ? `${rendered}\n${line}` : `${rendered.slice(0, at)}\n${line}${rendered.slice(at)}`;
        });
      }),
  );

  withJson(program.command('products <project>').description('stored products')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const rows = await listProducts(await serviceContextOf(cli), project, { includeRemoved: true });
        printResult(options, { ok: true, projectId: project, products: rows }, () =>
          rows.length === 0
            ? `No products stored for ${project} yet (run \`catalog-sync sync ${project} --inline\`).`
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
                rows.map((row) => [
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
      .option('--since <time>', 'ISO date-time or duration like 24h'),
  ).action((project: string, options: JsonOption & { since?: string }) =>
    runCommand(options, async (cli) => {
      const since = options.since === undefined ? undefined : parseSince(options.since);
      const rows = await listChanges(await serviceContextOf(cli), project, { since });
      printResult(options, { ok: true, projectId: project, since: since ?? null, changes: rows }, () =>
        rows.length === 0
          ? `No changes${since ? ` since ${since.toISOString()}` : ''} for ${project}.`
          : renderTable(
              ['detected', 'entity', 'apple id', 'name', 'action', 'changed fields'],
              rows.map((row) => {
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
            ),
      );
    }),
  );

  withJson(program.command('rules <project>').description('revenue-attribution rules in force')).action(
    (project: string, options: JsonOption) =>
      runCommand(options, async (cli) => {
        const rows = await rulesInForce(await serviceContextOf(cli), project);
        printResult(options, { ok: true, projectId: project, rules: rows }, () =>
          rows.length === 0
            ? `No rules for ${project} yet: they are derived by the first sync.`
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
                rows.map((row) => [
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
