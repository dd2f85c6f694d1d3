import { enqueueSync } from '../../jobs/producer.ts';
import type { QueueHandle } from '../../jobs/queue.ts';
import {
  clearSchedule,
  formatEvery,
  parseEvery,
  reconcileSchedules,
  setSchedule,
  validateCron,
} from '../../jobs/schedules.ts';
import type { ServiceContext } from '../context.ts';
import { loadCredentials } from '../credentials/index.ts';
import { InvalidInputError, PreconditionError } from '../errors.ts';
import { selectedApp, verifyCredentials } from '../onboarding/index.ts';

/*
 * What the console's buttons do, as a narrow interface. Today's implementation calls the same
 * functions the CLI and the public API call (producer, onboarding, schedules); at merge it is
 * repointed at src/app (requestSync, verifyCredentials, schedule, unschedule). Each returns a
 * sentence for the operator, never a secret.
 */

export interface ActionResult {
  message: string;
}

export type ScheduleForm = { every: string } | { cron: string };

export interface ConsoleActions {
  syncNow(projectId: string): Promise<ActionResult>;
  verify(projectId: string): Promise<ActionResult>;
  setSchedule(projectId: string, schedule: ScheduleForm): Promise<ActionResult>;
  removeSchedule(projectId: string): Promise<ActionResult>;
}

export interface ActionsContext extends ServiceContext {
  queue(): Promise<Pick<QueueHandle, 'queue' | 'redis'>>;
}

const VERIFY_TEXT: Record<string, string> = {
  valid: 'the key is valid',
  invalid: 'the key is invalid',
  forbidden: 'the key lacks access',
  no_apps: 'the key sees no app',
};

export function createConsoleActions(ctx: ActionsContext): ConsoleActions {
  return {
    async syncNow(projectId) {
      // Refuse now what the worker would refuse later, so the operator hears why.
      await loadCredentials(ctx, projectId);
      if (!(await selectedApp(ctx, projectId))) {
        throw new PreconditionError(
          `Project ${projectId} has no app selected; verify its key, then select an app (\`catalog-sync select-app\`).`,
        );
      }
      const { queue } = await ctx.queue();
      const enqueued = await enqueueSync(queue, projectId, 'manual');
      const jobId = String(enqueued.job.id);
      const message =
        enqueued.outcome === 'added'
          ? `Queued a sync of ${projectId} (job ${jobId}).`
          : enqueued.outcome === 'deduplicated'
            ? `A sync of ${projectId} was already waiting (job ${jobId}); nothing was added.`
            : `A sync of ${projectId} is running (job ${jobId}); one more will run right after it.`;
      return { message };
    },

    async verify(projectId) {
      const result = await verifyCredentials(ctx, projectId);
      const apps = `${result.apps.length} app${result.apps.length === 1 ? '' : 's'} seen`;
      return {
        message: `Verified ${projectId}: ${VERIFY_TEXT[result.status] ?? result.status} (${apps})${result.detail ? ` — ${result.detail}` : '.'}`,
      };
    },

    async setSchedule(projectId, form) {
      const spec =
        'every' in form
          ? { every: renameField('every', () => parseEvery(form.every)) }
          : { cron: renameField('cron', () => validateCron(form.cron)) };
      const row = await setSchedule(ctx, projectId, spec);
      await reconcileSchedules(ctx, await ctx.queue(), { projectIds: [projectId] });
      const what = row.scheduleEverySeconds
        ? `every ${formatEvery(row.scheduleEverySeconds)}`
        : `on cron "${row.scheduleCron}" (UTC)`;
      return { message: `${projectId} now syncs ${what}.` };
    },

    async removeSchedule(projectId) {
      const removed = await clearSchedule(ctx, projectId);
      // Reconciled even when Postgres had none: Redis may still hold a stale scheduler.
      await reconcileSchedules(ctx, await ctx.queue(), { projectIds: [projectId] });
      return {
        message: removed ? `${projectId} is no longer synced periodically.` : `${projectId} had no schedule.`,
      };
    },
  };
}

function renameField<T>(field: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof InvalidInputError)
      throw new InvalidInputError(field, error.message.replace(/^[^:]*: /, ''));
    throw error;
  }
}
