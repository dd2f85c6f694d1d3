import type { Command } from 'commander';
import { PreconditionError } from '../../errors.ts';
import { type SyncSummary, syncProject } from '../../sync/index.ts';
import { runCommand, withJson } from '../context.ts';
import { printResult } from '../output.ts';
import { serviceContextOf } from './catalog.ts';

interface SyncCommandOptions {
  json?: boolean;
  wait?: boolean;
  inline?: boolean;
}

export function renderSyncSummary(summary: SyncSummary): string {
  const changes = Object.entries(summary.changes);
  const what = summary.superseded
    ? 'nothing applied: a sync started later had already stored a newer catalog'
    : changes.length === 0
      ? 'no changes'
      : changes.map(([key, n]) => `${n} ${key}`).join(', ');
  const { shape } = summary;
  return [
    `Synced project ${summary.projectId} in ${summary.durationMs} ms (run ${summary.runId}): ${what}.`,
    `  Catalog: ${shape.iaps} in-app purchases, ${shape.groups} subscription groups, ${shape.subscriptions} subscriptions.`,
    `  App Store Connect requests: ${summary.requests} (fewest possible for this catalog: ${summary.requestLowerBound}).`,
  ].join('\n');
}

export function registerSync(program: Command): void {
  withJson(
    program
      .command('sync <project>')
      .description('enqueue (or run inline) a sync')
      .option('--wait', 'wait for the queued sync to finish')
      .option('--inline', 'run the sync in this process'),
  ).action((project: string, options: SyncCommandOptions) =>
    runCommand(options, async (cli) => {
      if (!options.inline) {
        throw new PreconditionError(
          'Queued syncs are not available in this build yet. ' +
            `Run the sync in this process instead: catalog-sync sync ${project} --inline`,
        );
      }
      const summary = await syncProject(await serviceContextOf(cli), project, { trigger: 'manual' });
      printResult(options, { ok: true, ...summary }, () => renderSyncSummary(summary));
    }),
  );
}
