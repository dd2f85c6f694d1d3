import type { Command } from 'commander';
import { eq } from 'drizzle-orm';
import { projects } from '../../../db/schema.ts';
import { syncDeduplicationId } from '../../../jobs/contract.ts';
import { type Enqueued, enqueueSync, waitForEnqueued } from '../../../jobs/producer.ts';
import { openQueue, openQueueEvents } from '../../../jobs/queue.ts';
import type { ServiceContext } from '../../context.ts';
import { NotFoundError } from '../../errors.ts';
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
        await queuedSync(await serviceContextOf(cli), project, options);
        return;
      }
      const summary = await syncProject(await serviceContextOf(cli), project, { trigger: 'manual' });
      printResult(options, { ok: true, ...summary }, () => renderSyncSummary(summary));
    }),
  );
}

const ENQUEUED_TEXT: Record<Enqueued<unknown>['outcome'], (project: string, jobId: string) => string> = {
  added: (project, jobId) => `Queued a sync of project ${project} (job ${jobId}).`,
  deduplicated: (project, jobId) =>
    `A sync of project ${project} was already waiting (job ${jobId}); nothing was added.`,
  'after-running': (project, jobId) =>
    `A sync of project ${project} is running (job ${jobId}); one more will run right after it.`,
};

/** `sync <project>` without --inline: enqueue (deduplicated per project), and with --wait, wait for the result. */
async function queuedSync(ctx: ServiceContext, project: string, options: SyncCommandOptions): Promise<void> {
  const [row] = await ctx.db.select({ id: projects.id }).from(projects).where(eq(projects.id, project));
  if (!row) {
    throw new NotFoundError(
      `Project ${project} does not exist. Save its credentials first: catalog-sync credentials set ${project} …`,
    );
  }
  const handle = await openQueue(ctx.config, 'client');
  const events = options.wait ? openQueueEvents(ctx.config) : undefined;
  try {
    await events?.waitUntilReady();
    const enqueued = await enqueueSync(handle.queue, project, 'manual', { db: ctx.db });
    const jobId = String(enqueued.job.id);
    const queued = { projectId: project, jobId, outcome: enqueued.outcome };
    if (!events) {
      printResult(options, { ok: true, ...queued }, () => ENQUEUED_TEXT[enqueued.outcome](project, jobId));
      return;
    }
    if (!options.json) {
      process.stderr.write(
        `${ENQUEUED_TEXT[enqueued.outcome](project, jobId)} Waiting for a worker (\`catalog-sync worker\`)…\n`,
      );
    }
    const done = await waitForEnqueued<unknown, SyncSummary>(
      handle.queue,
      events,
      enqueued,
      syncDeduplicationId(project),
    );
    printResult(options, { ok: true, ...queued, jobId: done.jobId, ...done.result }, () =>
      renderSyncSummary(done.result),
    );
  } finally {
    await events?.close().catch(() => {});
    await handle.close();
  }
}
