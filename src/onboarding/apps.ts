import { and, asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import { discoveredApps, projects } from '../../db/schema.ts';
import type { ServiceContext } from '../context.ts';
import { InvalidInputError } from '../errors.ts';
import { requireProject } from '../projects/store.ts';

/** An app the project's key can see, as stored in `discovered_apps`. */
export const discoveredAppSchema = z.object({
  appStoreId: z.string(),
  bundleId: z.string(),
  name: z.string(),
  sku: z.string().nullable(),
  primaryLocale: z.string().nullable(),
});
export type DiscoveredApp = z.infer<typeof discoveredAppSchema>;

export const selectedAppSchema = z.object({ appStoreId: z.string(), bundleId: z.string(), name: z.string() });
export type SelectedApp = z.infer<typeof selectedAppSchema>;

/** The part of Apple's `apps` resource this module reads; the client's schema keeps the rest. */
interface AppResource {
  id: string;
  attributes?: Record<string, unknown> | null | undefined;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** Apple's app resource → a discovered app (pure). Apps without a bundle ID or name keep their ID. */
export function toDiscoveredApp(app: AppResource): DiscoveredApp {
  const attributes = app.attributes ?? {};
  return {
    appStoreId: app.id,
    bundleId: text(attributes['bundleId']) ?? '',
    name: text(attributes['name']) ?? text(attributes['bundleId']) ?? app.id,
    sku: text(attributes['sku']),
    primaryLocale: text(attributes['primaryLocale']),
  };
}

/** Sorted by name then App Store ID, so lists and tables are stable. */
export function sortApps(apps: DiscoveredApp[]): DiscoveredApp[] {
  return [...apps].sort((a, b) =>
    a.name === b.name ? a.appStoreId.localeCompare(b.appStoreId) : a.name.localeCompare(b.name),
  );
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Replaces the project's discovered apps with `apps` (call inside a transaction). */
export async function replaceDiscoveredApps(
  tx: Tx | Db,
  projectId: string,
  apps: DiscoveredApp[],
  at: Date,
): Promise<void> {
  await tx.delete(discoveredApps).where(eq(discoveredApps.projectId, projectId));
  // Apple never lists an app twice, but a duplicate must not abort the whole verify.
  const unique = [...new Map(apps.map((app) => [app.appStoreId, app])).values()];
  for (let i = 0; i < unique.length; i += 500) {
    const chunk = unique.slice(i, i + 500);
    await tx.insert(discoveredApps).values(chunk.map((app) => ({ projectId, ...app, discoveredAt: at })));
  }
}

const appColumns = {
  appStoreId: discoveredApps.appStoreId,
  bundleId: discoveredApps.bundleId,
  name: discoveredApps.name,
  sku: discoveredApps.sku,
  primaryLocale: discoveredApps.primaryLocale,
};

/** The apps the project's key could see at its last verify (empty before the first). */
export async function listDiscoveredApps(ctx: ServiceContext, projectId: string): Promise<DiscoveredApp[]> {
  const project = await requireProject(ctx, projectId);
  const rows = await ctx.db
    .select(appColumns)
    .from(discoveredApps)
    .where(eq(discoveredApps.projectId, project.id))
    .orderBy(asc(discoveredApps.name), asc(discoveredApps.appStoreId));
  return sortApps(rows);
}

/** The app the project is bound to, or null. */
export async function selectedApp(ctx: ServiceContext, projectId: string): Promise<SelectedApp | null> {
  const project = await requireProject(ctx, projectId);
  if (!project.appStoreId) return null;
  return { appStoreId: project.appStoreId, bundleId: project.bundleId ?? '', name: project.appName ?? '' };
}

/**
 * Binds the project to one of the apps its key can see (filling App Store ID, bundle ID and name).
 * An App Store ID that is not among the discovered apps is refused: the key cannot see it.
 */
export async function selectApp(
  ctx: ServiceContext,
  projectId: string,
  appStoreId: string,
): Promise<SelectedApp> {
  const project = await requireProject(ctx, projectId);
  const wanted = typeof appStoreId === 'string' ? appStoreId.trim() : '';
  if (wanted === '') {
    throw new InvalidInputError(
      'appStoreId',
      `the App Store ID is required; list the apps the key can see with: catalog-sync apps ${project.id}`,
    );
  }
  return ctx.db.transaction(async (tx) => {
    const [app] = await tx
      .select(appColumns)
      .from(discoveredApps)
      .where(and(eq(discoveredApps.projectId, project.id), eq(discoveredApps.appStoreId, wanted)))
      .limit(1);
    if (!app) {
      const [any] = await tx
        .select({ appStoreId: discoveredApps.appStoreId })
        .from(discoveredApps)
        .where(eq(discoveredApps.projectId, project.id))
        .limit(1);
      throw new InvalidInputError(
        'appStoreId',
        any
          ? `the API key of project ${project.id} cannot see an app with App Store ID ${wanted}. ` +
              `List the apps it can see with: catalog-sync apps ${project.id} (if the app was created or the key ` +
              `was given access since, run catalog-sync verify ${project.id} first).`
          : `no apps are known for project ${project.id} yet, so App Store ID ${wanted} cannot be checked. ` +
              `Run catalog-sync verify ${project.id} first, then pick one of the apps it lists.`,
      );
    }
    await tx
      .update(projects)
      .set({ appStoreId: app.appStoreId, bundleId: app.bundleId, appName: app.name, updatedAt: new Date() })
      .where(eq(projects.id, project.id));
    ctx.logger.info(
      { projectId: project.id, appStoreId: app.appStoreId, bundleId: app.bundleId },
      'app selected',
    );
    return { appStoreId: app.appStoreId, bundleId: app.bundleId, name: app.name };
  });
}
