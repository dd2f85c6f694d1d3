import type { Command } from 'commander';
import type { SyncRequest } from '../../app/sync.ts';
import type { SyncSummary } from '../../sync/run.ts';
import { printResult } from '../output.ts';
import { type JsonOption, runCommand, withJson } from '../run.ts';

interface SyncCommandOptions extends JsonOption {
  wait?: boolean;
  inline?: boolean;
}

export function renderSyncSummary(summary: SyncSummary): string {
  const changes = Object.entries(summary.changes);
  const what = summary.superseded
    ? 'nothing applied: a newer fetch of this catalog had already been stored'
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

const ENQUEUED_TEXT: Record<SyncRequest['outcome'], (request: SyncRequest) => string> = {
  added: (r) => `Queued a sync of project ${r.projectId} (job ${r.jobId}).`,
  deduplicated: (r) =>
    `A sync of project ${r.projectId} was already waiting (job ${r.jobId}); nothing was added.`,
  'after-running': (r) =>
    `A sync of project ${r.projectId} is running (job ${r.jobId}); one more will run right after it.`,
};

export function registerSync(program: Command): void {
  withJson(
    program
      .command('sync <project>')
      .description('enqueue a sync (deduplicated per project), or run it here with --inline')
      .option('--wait', 'wait for the queued sync to finish')
      .option('--inline', 'run the sync in this process'),
  ).action((project: string, options: SyncCommandOptions) =>
    runCommand(options, async (cli) => {
      const app = await cli.app();
      if (options.inline) {
        const { runSync } = await import('../../app/sync.ts');
        const summary = await runSync(app, { projectId: project, trigger: 'manual' });
        printResult(options, { ok: true, ...summary }, () => renderSyncSummary(summary));
        return;
      }
      const { requestSync } = await import('../../app/sync.ts');
      if (options.wait && !options.json) {
        process.stderr.write(
          `Queueing a sync of ${project}; waiting for a worker (\`catalog-sync worker\`)…\n`,
        );
      }
      const request = await requestSync(app, { projectId: project, wait: options.wait ?? false });
      const { summary, ...queued } = request;
      printResult(options, { ok: true, ...queued, ...(summary ?? {}) }, () =>
        summary ? renderSyncSummary(summary) : ENQUEUED_TEXT[request.outcome](request),
      );
    }),
  );
}
