import type { CredentialStatus } from '../../db/schema.ts';
import {
  type CredentialsInput,
  loadCredentials,
  saveCredentials as storeCredentials,
} from '../credentials/index.ts';
import { InvalidInputError, PreconditionError } from '../errors.ts';
import {
  type DiscoveredApp,
  listDiscoveredApps,
  type SelectedApp,
  selectedApp,
  selectApp as selectProjectApp,
  type VerifyResult,
  verifyCredentials as verifyProjectCredentials,
} from '../onboarding/index.ts';
import { parseProjectId } from '../projects/id.ts';
import { enqueueSync, enqueueVerify } from '../queue/producer.ts';
import type { AppContext } from './context.ts';
import { type JobRef, jobRef } from './jobs.ts';

export interface SaveCredentialsInput extends CredentialsInput {
  projectId: string;
  /**
   * Queue a verification and, when the project already has an app, a sync (trigger
   * `credentials-saved`). Default true. False stores the key only (the CLI's `--no-enqueue`).
   */
  enqueue?: boolean;
}

export interface SavedCredentials {
  projectId: string;
  keyId: string;
  issuerId: string;
  /** Always `unverified` right after saving; the verification updates it. */
  status: CredentialStatus;
  /** Fingerprint of the encryption key that sealed the .p8 (not a secret). */
  encryptionKeyId: string;
  /** The `verify-credentials` job, or null with `enqueue: false`. */
  verification: JobRef | null;
  /** The `sync-catalog` job when the project already has an app, else null. */
  sync: JobRef | null;
}

/**
 * Checks the key, seals and stores it (`unverified`), creating the project on first use; then
 * queues "Verify & Fetch Apps" and, for a project that already has an app, a sync. Redis is
 * reached before anything is stored: a caller told "saved" also has its verification queued.
 */
export async function saveCredentials(
  ctx: AppContext,
  input: SaveCredentialsInput,
): Promise<SavedCredentials> {
  const projectId = parseProjectId(input?.projectId);
  const enqueue = input.enqueue ?? true;
  const queue = enqueue ? (await ctx.queue()).queue : undefined;
  const saved = await storeCredentials(ctx, projectId, input);
  const verification = queue ? jobRef(await enqueueVerify(queue, projectId)) : null;
  const sync =
    queue && (await selectedApp(ctx, projectId))
      ? jobRef(await enqueueSync(queue, projectId, 'credentials-saved', { db: ctx.db }))
      : null;
  return {
    projectId: saved.projectId,
    keyId: saved.keyId,
    issuerId: saved.issuerId,
    status: saved.status,
    encryptionKeyId: saved.encryptionKeyId,
    verification,
    sync,
  };
}

/** "Verify & Fetch Apps", inline: status, what to do, and every app the key sees. */
export async function verifyCredentials(
  ctx: AppContext,
  input: { projectId: string },
): Promise<VerifyResult & { projectId: string }> {
  const projectId = parseProjectId(input?.projectId);
  return { projectId, ...(await verifyProjectCredentials(ctx, projectId)) };
}

export interface AppsListing {
  projectId: string;
  /** Null when no key was saved. */
  credentialStatus: CredentialStatus | null;
  selectedAppStoreId: string | null;
  apps: DiscoveredApp[];
}

/** The apps seen at the last verification, and which one is selected. */
export async function listApps(ctx: AppContext, input: { projectId: string }): Promise<AppsListing> {
  const projectId = parseProjectId(input?.projectId);
  const apps = await listDiscoveredApps(ctx, projectId);
  const selected = await selectedApp(ctx, projectId);
  const credentialStatus = await loadCredentials(ctx, projectId).then(
    (credentials) => credentials.status,
    (error: unknown) => {
      if (error instanceof PreconditionError) return null;
      throw error;
    },
  );
  return { projectId, credentialStatus, selectedAppStoreId: selected?.appStoreId ?? null, apps };
}

/** Binds the project to one of the apps its key can see. */
export async function selectApp(
  ctx: AppContext,
  input: { projectId: string; appStoreId: string },
): Promise<SelectedApp & { projectId: string }> {
  const projectId = parseProjectId(input?.projectId);
  if (typeof input.appStoreId !== 'string' || input.appStoreId.trim() === '') {
    throw new InvalidInputError(
      'appStoreId',
      `the App Store ID is required; list the apps the key can see with: catalog-sync apps ${projectId}`,
    );
  }
  return { projectId, ...(await selectProjectApp(ctx, projectId, input.appStoreId)) };
}
