import type { CredentialStatus } from '../../db/schema.ts';
import { InvalidInputError } from '../errors.ts';
import type { SelectedApp } from '../onboarding/index.ts';
import { parseProjectId } from '../projects/id.ts';
import { projectStatus } from '../sync/queries.ts';
import { formatDuration } from '../time/duration.ts';
import type { AppContext } from './context.ts';
import { type CatalogHealth, catalogHealth } from './details.ts';

/** One sync attempt as `status` shows it. */
export interface SyncRunInfo {
  runId: string;
  trigger: string;
  status: string;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  requests: number;
  changes: Record<string, number> | null;
  error: { kind: string | null; message: string | null } | null;
}

/** The one status shape: the API returns it, the CLI renders it (and prints it with --json). */
export interface ProjectStatus {
  projectId: string;
  /** Never the key itself; null when none was saved. */
  credentials: {
    keyId: string;
    issuerId: string;
    status: CredentialStatus;
    statusDetail: string | null;
    verifiedAt: Date | null;
  } | null;
  app: SelectedApp | null;
  schedule: { every: string | null; everySeconds: number | null; cron: string | null } | null;
  catalog: { products: number; removedProducts: number; groups: number; graceOptIn: boolean | null };
  /** Newest first. */
  lastRuns: SyncRunInfo[];
  /** What would hurt revenue or review, and how stale the catalog details are (src/details/health.ts). */
  catalogHealth: Omit<CatalogHealth, 'projectId'>;
}

/** Credential status, selected app, schedule, catalog size and the last runs. */
export async function getStatus(
  ctx: AppContext,
  input: { projectId: string; runs?: number },
): Promise<ProjectStatus> {
  const projectId = parseProjectId(input?.projectId);
  const runs = input.runs ?? 5;
  if (!Number.isInteger(runs) || runs < 0 || runs > 100) {
    throw new InvalidInputError('runs', 'must be a whole number from 0 to 100');
  }
  const [status, { projectId: _id, ...health }] = await Promise.all([
    projectStatus(ctx, projectId, { runs }),
    catalogHealth(ctx, { projectId }),
  ]);
  const { project, credentials } = status;
  const everySeconds = project.scheduleEverySeconds;
  return {
    projectId: project.id,
    credentials: credentials
      ? {
          keyId: credentials.keyId,
          issuerId: credentials.issuerId,
          status: credentials.status as CredentialStatus,
          statusDetail: credentials.statusDetail,
          verifiedAt: credentials.verifiedAt,
        }
      : null,
    app: project.appStoreId
      ? { appStoreId: project.appStoreId, bundleId: project.bundleId ?? '', name: project.appName ?? '' }
      : null,
    schedule:
      everySeconds || project.scheduleCron
        ? {
            every: everySeconds ? formatDuration(everySeconds) : null,
            everySeconds,
            cron: project.scheduleCron,
          }
        : null,
    catalog: status.catalog,
    lastRuns: status.runs.map((run) => ({
      runId: run.id,
      trigger: run.trigger,
      status: run.status,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      durationMs: run.durationMs,
      requests: run.requestsMade,
      changes: run.counts ?? null,
      error: run.errorKind || run.errorMessage ? { kind: run.errorKind, message: run.errorMessage } : null,
    })),
    catalogHealth: health,
  };
}
