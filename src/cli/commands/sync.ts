import type { Command } from 'commander';
import type { DetailsRefreshResult } from '../../app/refresh-details.ts';
import type { SyncRequest } from '../../app/sync.ts';
import { InvalidInputError } from '../../errors.ts';
import type { SyncSummary } from '../../sync/run.ts';
import { printResult } from '../output.ts';
import { type JsonOption, runCommand, withJson } from '../run.ts';

interface SyncCommandOptions extends JsonOption {
  wait?: boolean;
  inline?: boolean;
  /** commander's `--no-details`: false when given. */
  details: boolean;
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

/** What `sync --inline` did about the details, in one line. */
export function renderDetailsLine(details: DetailsRefreshResult | undefined): string {
  if (!details) return '  Details: not refreshed (--no-details).';
  if (details.error !== null) return `  Details: not refreshed: ${details.error}.`;
  const stale =
    details.stale === null ? '' : `; ${details.stale} stale (older than DETAILS_MAX_AGE or never read)`;
  const waiting =
    details.deferred > 0
      ? `; ${details.deferred} left for a later run: ` +
        (details.stoppedBy === 'rate_limited'
          ? 'App Store Connect answered 429'
          : `the key's details budget is spent` +
            (details.retryInMs === null ? '' : ` for ${Math.ceil(details.retryInMs / 1000)} s more`))
      : '';
  const failed = details.failed > 0 ? `; ${details.failed} failed (retried next run)` : '';
  return (
    `  Details: refreshed ${details.refreshed} of ${details.due} due products in ${details.requests} requests` +
    `${waiting}${failed}${stale}.`
  );
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
      .option('--inline', 'run the sync in this process')
      .option(
        '--no-details',
        "with --inline: skip the detail refresh (by default the due details are read within the key's budget, as the worker does)",
      ),
  ).action((project: string, options: SyncCommandOptions) =>
    runCommand(options, async (cli) => {
      if (!options.details && !options.inline) {
        // A queued sync's details are the worker's to read, inside the key's budget.
        throw new InvalidInputError(
          'details',
          'goes with --inline (a queued sync is refreshed by the worker)',
        );
      }
      const app = await cli.app();
      if (options.inline) {
        const { runSync } = await import('../../app/sync.ts');
        // The worker's order: the structure, then the due details inside the key's shared budget.
        const summary = await runSync(app, {
          projectId: project,
          trigger: 'manual',
          details: options.details,
        });
        printResult(options, { ok: true, ...summary }, () =>
          [renderSyncSummary(summary), renderDetailsLine(summary.details)].join('\n'),
        );
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
