import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { appStoreCredentials, projects } from '../../db/schema.ts';
import { isAppStoreError, noAppsMessage } from '../appstore/index.ts';
import type { ServiceContext } from '../context.ts';
import {
  type AppStoreClient,
  keyLoadingFailure,
  lockCredentialStatus,
  openProjectClient,
  statusForFailure,
} from '../credentials/store.ts';
import { PreconditionError } from '../errors.ts';
import { emit } from '../events/emit.ts';
import { buildCredentialsVerified, buildStatusChanged } from '../events/payloads.ts';
import { scrubSecrets } from '../log/logger.ts';
import { type DiscoveredApp, replaceDiscoveredApps, sortApps, toDiscoveredApp } from './apps.ts';

/*
 * "Verify & Fetch Apps": proves the key works for what the worker does (list apps, read an app's
 * IAP catalog), records what it sees in `discovered_apps`, and sets the credential status.
 */

export const verifyStatuses = ['valid', 'invalid', 'forbidden', 'no_apps'] as const;
export type VerifyStatus = (typeof verifyStatuses)[number];

export interface VerifyResult {
  status: VerifyStatus;
  /** What is wrong and what to do; null when the key is valid. */
  detail: string | null;
  /** Every app the key sees (all pages), sorted by name. */
  apps: DiscoveredApp[];
}

// The probe needs only to succeed; its body is not used.
const probeDocumentSchema = z.looseObject({ data: z.array(z.unknown()) });

/**
 * The cheapest request that proves the key may read an app's IAP catalog: the first page (of
 * one) of its in-app purchases. Listing apps alone is allowed for roles that cannot read IAPs.
 */
export async function probeCatalogAccess(client: AppStoreClient, appStoreId: string): Promise<void> {
  await client.getDocument(
    `/v1/apps/${encodeURIComponent(appStoreId)}/inAppPurchasesV2`,
    { limit: 1 },
    probeDocumentSchema,
    'verify.probeCatalog',
  );
}

/** Runs the checks against App Store Connect; failures that say something about the key become outcomes. */
async function check(client: AppStoreClient, preferredAppId: string | null): Promise<VerifyResult> {
  let apps: DiscoveredApp[] = [];
  try {
    apps = sortApps((await client.listApps()).map(toDiscoveredApp));
    if (apps.length === 0) return { status: 'no_apps', detail: noAppsMessage, apps };
    const probe = apps.find((app) => app.appStoreId === preferredAppId) ?? apps[0]!;
    await probeCatalogAccess(client, probe.appStoreId);
    return { status: 'valid', detail: null, apps };
  } catch (error) {
    // The key could not be loaded here (configuration): report that, not a verdict on the key.
    const loading = keyLoadingFailure(error);
    if (loading) throw loading;
    const status = isAppStoreError(error) ? statusForFailure(error) : undefined;
    // Rate limits, outages and the like say nothing about the key: the status is left as it was.
    if (!status || !isAppStoreError(error)) throw error;
    return { status, detail: scrubSecrets(error.message), apps };
  }
}

export async function verifyCredentials(ctx: ServiceContext, projectId: string): Promise<VerifyResult> {
  const { client, credentials, sealed } = await openProjectClient(ctx, projectId);
  const [project] = await ctx.db
    .select({ appStoreId: projects.appStoreId })
    .from(projects)
    .where(eq(projects.id, credentials.projectId));
  let result: VerifyResult;
  try {
    result = await check(client, project?.appStoreId ?? null);
  } finally {
    client.close();
  }
  const now = new Date();
  await ctx.db.transaction(async (tx) => {
    const previous = await lockCredentialStatus(tx, credentials.projectId);
    // Conditional on the sealed key read above: a key saved meanwhile is not marked with this result.
    const updated = await tx
      .update(appStoreCredentials)
      .set({ status: result.status, statusDetail: result.detail, verifiedAt: now, updatedAt: now })
      .where(
        and(
          eq(appStoreCredentials.projectId, credentials.projectId),
          eq(appStoreCredentials.privateKeyEncrypted, sealed),
        ),
      )
      .returning({ projectId: appStoreCredentials.projectId });
    if (updated.length === 0) {
      throw new PreconditionError(
        `The credentials of project ${credentials.projectId} were replaced while they were being verified; ` +
          `run catalog-sync verify ${credentials.projectId} again.`,
      );
    }
    await replaceDiscoveredApps(tx, credentials.projectId, result.apps, now);
    // Same transaction as the status: the events say exactly what was recorded.
    if (previous && previous.status !== result.status) {
      await emit(tx, {
        type: 'credentials.status_changed',
        projectId: credentials.projectId,
        payload: buildStatusChanged({
          keyId: credentials.keyId,
          from: previous.status,
          to: result.status,
          detail: result.detail,
          source: 'verify',
        }),
      });
    }
    await emit(tx, {
      type: 'credentials.verified',
      projectId: credentials.projectId,
      payload: buildCredentialsVerified({
        keyId: credentials.keyId,
        status: result.status,
        detail: result.detail,
        apps: result.apps,
      }),
    });
  });
  const log = result.status === 'valid' ? ctx.logger.info.bind(ctx.logger) : ctx.logger.warn.bind(ctx.logger);
  log(
    {
      projectId: credentials.projectId,
      keyId: credentials.keyId,
      status: result.status,
      apps: result.apps.length,
    },
    'App Store Connect credentials verified: %s',
    result.status,
  );
  return result;
}
