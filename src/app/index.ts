/*
 * The application layer: one function per operation, `(ctx, input) → plain data`. The public API
 * (src/index.ts), the CLI (src/cli), the worker's processors (jobs/) and the console call these
 * and only translate. Input is checked here (InvalidInputError names the API's field).
 */

export {
  type Background,
  type BackgroundObserver,
  type BackgroundOptions,
  closeSharedAgents,
  type DeliveryOutcome,
  type DetailAgeDistribution,
  healthIssueKinds,
  type RequeueResult,
  requeuePendingSyncs,
  startBackground,
  workerGaugeSources,
} from './background.ts';
export {
  type ChangeRow,
  listChanges,
  listProducts,
  listRules,
  type ProductRow,
  type RuleRow,
} from './catalog.ts';
export { type AppContext, type DataContext, lazy, lazyQueue } from './context.ts';
export {
  type AppsListing,
  listApps,
  type SaveCredentialsInput,
  type SavedCredentials,
  saveCredentials,
  selectApp,
  verifyCredentials,
} from './credentials.ts';
export {
  classifyFailure,
  type DetailsJobSummary,
  databaseRetryDelay,
  type FailureAction,
  isJobName,
  JOBS,
  type JobContext,
  type JobDefinition,
  type JobObserver,
  type JobOutcome,
  type JobOutcomeLabel,
  type JobRun,
  jobContext,
  parseJobPayload,
  RATE_LIMIT_DEFAULT_DELAY_MS,
  RATE_LIMIT_MAX_DEFERRALS,
  RATE_LIMIT_MAX_DELAY_MS,
  runJob,
} from './job-table.ts';
export type { JobRef } from './jobs.ts';
export { migrate } from './migrate.ts';
export {
  listSchedules,
  parseScheduleInput,
  type ScheduleInfo,
  type ScheduleInput,
  type ScheduleListing,
  schedule,
  unschedule,
} from './schedules.ts';
export { getStatus, type ProjectStatus, type SyncRunInfo } from './status.ts';
export { type RequestSyncInput, type RunSyncInput, requestSync, runSync, type SyncRequest } from './sync.ts';
