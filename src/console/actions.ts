import type { AppContext } from '../app/context.ts';
import { type AppsListing, listApps, selectApp, verifyCredentials } from '../app/credentials.ts';
import { schedule, unschedule } from '../app/schedules.ts';
import { requestSync } from '../app/sync.ts';

/*
 * What the console's buttons do: the same application functions the CLI, the public API and the
 * worker call (src/app), so a button behaves exactly as `catalog-sync sync|verify|schedule|
 * unschedule` does. Each returns a sentence for the operator, never a secret.
 */

export interface ActionResult {
  message: string;
  /** 'error' when the action ran but found something wrong (a key refused): the flash is red. */
  kind?: 'ok' | 'error';
}

export type ScheduleForm = { every: string } | { cron: string };

export interface ConsoleActions {
  syncNow(projectId: string): Promise<ActionResult>;
  verify(projectId: string): Promise<ActionResult>;
  setSchedule(projectId: string, schedule: ScheduleForm): Promise<ActionResult>;
  removeSchedule(projectId: string): Promise<ActionResult>;
  /** The apps the key saw at its last check (the app picker's choices). */
  apps(projectId: string): Promise<AppsListing>;
  selectApp(projectId: string, appStoreId: string): Promise<ActionResult>;
}

const VERIFY_TEXT: Record<string, string> = {
  valid: 'the key is valid',
  invalid: 'the key is invalid',
  forbidden: 'the key lacks access',
  no_apps: 'the key sees no app',
};

export function createConsoleActions(ctx: AppContext): ConsoleActions {
  return {
    async syncNow(projectId) {
      const request = await requestSync(ctx, { projectId, trigger: 'manual' });
      const message =
        request.outcome === 'added'
          ? `Queued a sync of ${request.projectId} (job ${request.jobId}).`
          : request.outcome === 'deduplicated'
            ? `A sync of ${request.projectId} was already waiting (job ${request.jobId}); nothing was added.`
            : `A sync of ${request.projectId} is running (job ${request.jobId}); one more will run right after it.`;
      return { message };
    },

    async verify(projectId) {
      const result = await verifyCredentials(ctx, { projectId });
      const apps = `${result.apps.length} app${result.apps.length === 1 ? '' : 's'} seen`;
      // Apple's detail and what to do are on the page once; the flash only says how the check went.
      return {
        message: `Checked the key of ${result.projectId}: ${VERIFY_TEXT[result.status] ?? result.status} (${apps}).`,
        kind: result.status === 'valid' ? 'ok' : 'error',
      };
    },

    apps(projectId) {
      return listApps(ctx, { projectId });
    },

    async selectApp(projectId, appStoreId) {
      const selected = await selectApp(ctx, { projectId, appStoreId });
      return {
        message: `${selected.projectId} now syncs ${selected.bundleId} (${selected.name}, ${selected.appStoreId}).`,
      };
    },

    async setSchedule(projectId, form) {
      const info = await schedule(ctx, { projectId, ...form });
      const what = info.every ? `every ${info.every}` : `on cron "${info.cron}" (UTC)`;
      return { message: `${info.projectId} now syncs ${what}.` };
    },

    async removeSchedule(projectId) {
      const { removed } = await unschedule(ctx, { projectId });
      return {
        message: removed ? `${projectId} is no longer synced periodically.` : `${projectId} had no schedule.`,
      };
    },
  };
}
