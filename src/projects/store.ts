import { eq, isNotNull, or } from 'drizzle-orm';
import { projects } from '../../db/schema.ts';
import type { ServiceContext } from '../context.ts';
import { NotFoundError, PreconditionError } from '../errors.ts';
import { parseProjectId } from './id.ts';

/*
 * The `projects` table: the one place that says "this project does not exist" and that writes
 * its schedule (Postgres is the schedule's source of truth; src/queue/schedules.ts mirrors it).
 */

export type ProjectRow = typeof projects.$inferSelect;

const CREDENTIALS_HINT = '--key-id <KEY ID> --issuer-id <ISSUER ID> --private-key-file AuthKey_<KEY ID>.p8';

export function projectNotFound(projectId: string): NotFoundError {
  return new NotFoundError(
    `Project ${projectId} does not exist. Create it by saving its App Store Connect API key: ` +
      `catalog-sync credentials set ${projectId} ${CREDENTIALS_HINT}`,
  );
}

export function noCredentials(projectId: string): PreconditionError {
  return new PreconditionError(
    `Project ${projectId} has no App Store Connect API key yet. Save one with: ` +
      `catalog-sync credentials set ${projectId} ${CREDENTIALS_HINT}`,
  );
}

export function noAppSelected(projectId: string): PreconditionError {
  return new PreconditionError(
    `Project ${projectId} has no app selected, so there is no catalog to sync. ` +
      `List the apps its key can see with \`catalog-sync apps ${projectId}\` (after \`catalog-sync verify ${projectId}\`), ` +
      `then bind one with \`catalog-sync select-app ${projectId} <appStoreId>\`.`,
  );
}

/** The project's row, or NotFoundError. Checks the id first. */
export async function requireProject(
  ctx: Pick<ServiceContext, 'db'>,
  projectId: unknown,
): Promise<ProjectRow> {
  const id = parseProjectId(projectId);
  const [project] = await ctx.db.select().from(projects).where(eq(projects.id, id)).limit(1);
  if (!project) throw projectNotFound(id);
  return project;
}

export interface ScheduleRow {
  id: string;
  scheduleEverySeconds: number | null;
  scheduleCron: string | null;
  scheduleUpdatedAt?: Date | null;
}

const scheduleColumns = {
  id: projects.id,
  scheduleEverySeconds: projects.scheduleEverySeconds,
  scheduleCron: projects.scheduleCron,
  scheduleUpdatedAt: projects.scheduleUpdatedAt,
};

/** Schedule rows of some projects, or of every scheduled project (ordered by id). */
export async function loadScheduleRows(
  ctx: Pick<ServiceContext, 'db'>,
  projectIds?: readonly string[],
): Promise<ScheduleRow[]> {
  if (projectIds) {
    const rows: ScheduleRow[] = [];
    for (const projectId of projectIds) {
      rows.push(...(await ctx.db.select(scheduleColumns).from(projects).where(eq(projects.id, projectId))));
    }
    return rows;
  }
  return ctx.db
    .select(scheduleColumns)
    .from(projects)
    .where(or(isNotNull(projects.scheduleEverySeconds), isNotNull(projects.scheduleCron)))
    .orderBy(projects.id);
}

export type ScheduleSpec = { every: number } | { cron: string };

/** Writes a project's schedule (checked by the caller). Mirror it into Redis afterwards. */
export async function writeSchedule(
  ctx: Pick<ServiceContext, 'db'>,
  projectId: string,
  spec: ScheduleSpec | null,
): Promise<{ row: ScheduleRow; had: boolean }> {
  const project = await requireProject(ctx, projectId);
  const had = project.scheduleEverySeconds !== null || project.scheduleCron !== null;
  const now = new Date();
  const [row] = await ctx.db
    .update(projects)
    .set({
      scheduleEverySeconds: spec && 'every' in spec ? spec.every : null,
      scheduleCron: spec && 'cron' in spec ? spec.cron : null,
      scheduleUpdatedAt: now,
      updatedAt: now,
    })
    .where(eq(projects.id, project.id))
    .returning(scheduleColumns);
  if (!row) throw projectNotFound(project.id);
  return { row, had };
}
