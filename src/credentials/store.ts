import { eq, sql } from 'drizzle-orm';
import { rowsOf } from '../../db/client.ts';
import { appStoreCredentials, type CredentialStatus, discoveredApps, projects } from '../../db/schema.ts';
import {
  type AppStoreClient,
  type AppStoreClientOptions,
  type AppStoreError,
  createAppStoreClient,
  isAppStoreError,
  tokenCacheKey,
} from '../appstore/index.ts';
import type { ServiceContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { emit } from '../events/emit.ts';
import { buildStatusChanged } from '../events/payloads.ts';
import { scrubSecrets } from '../log/logger.ts';
import { parseProjectId } from '../projects/id.ts';
import { noCredentials, projectNotFound } from '../projects/store.ts';
import { decryptionKeys, decryptSecret, encryptSecret } from '../secrets/crypto.ts';
import { type CredentialsInput, parseCredentialsInput } from './validate.ts';

/*
 * Credentials in Postgres: checked, then sealed, then written in one transaction. The PEM exists
 * in plain text only inside parse → encrypt here, and inside the client's loadPrivateKey when a
 * token is minted; nothing returned from this module holds it.
 */

export type { AppStoreClient };

/** What may be shown about a project's credentials (never the key). */
export interface CredentialsSummary {
  projectId: string;
  keyId: string;
  issuerId: string;
  status: CredentialStatus;
  statusDetail: string | null;
  verifiedAt: Date | null;
  /** Fingerprint of the encryption key that sealed the .p8 (see crypto.ts). */
  encryptionKeyId: string;
  updatedAt: Date;
}

/**
 * Checks the input (throws InvalidInputError naming the field), seals the .p8, and upserts the
 * project and its credentials in one transaction. New credentials start `unverified`, and the
 * apps discovered with the previous key are forgotten (they belonged to that key).
 */
export async function saveCredentials(
  ctx: ServiceContext,
  projectId: string,
  input: CredentialsInput,
): Promise<CredentialsSummary> {
  const id = parseProjectId(projectId);
  const parsed = parseCredentialsInput(input);
  const sealed = await encryptSecret(ctx.config, parsed.privateKeyPem);
  const now = new Date();
  const values = {
    keyId: parsed.keyId,
    issuerId: parsed.issuerId,
    privateKeyEncrypted: sealed.jwe,
    encryptionKeyId: sealed.kid,
    status: 'unverified' as const,
    statusDetail: null,
    verifiedAt: null,
    updatedAt: now,
  };
  await ctx.db.transaction(async (tx) => {
    await tx
      .insert(projects)
      .values({ id })
      .onConflictDoUpdate({ target: projects.id, set: { updatedAt: now } });
    await tx
      .insert(appStoreCredentials)
      .values({ projectId: id, ...values })
      .onConflictDoUpdate({ target: appStoreCredentials.projectId, set: values });
    await tx.delete(discoveredApps).where(eq(discoveredApps.projectId, id));
  });
  ctx.logger.info(
    { projectId: id, keyId: parsed.keyId, encryptionKeyId: sealed.kid },
    'App Store Connect credentials saved (unverified)',
  );
  return {
    projectId: id,
    keyId: parsed.keyId,
    issuerId: parsed.issuerId,
    status: 'unverified',
    statusDetail: null,
    verifiedAt: null,
    encryptionKeyId: sealed.kid,
    updatedAt: now,
  };
}

interface CredentialsRow extends CredentialsSummary {
  privateKeyEncrypted: string;
}

async function loadRow(ctx: ServiceContext, projectId: string): Promise<CredentialsRow> {
  const id = parseProjectId(projectId);
  const rows = await ctx.db
    .select({
      projectId: projects.id,
      keyId: appStoreCredentials.keyId,
      issuerId: appStoreCredentials.issuerId,
      status: appStoreCredentials.status,
      statusDetail: appStoreCredentials.statusDetail,
      verifiedAt: appStoreCredentials.verifiedAt,
      encryptionKeyId: appStoreCredentials.encryptionKeyId,
      updatedAt: appStoreCredentials.updatedAt,
      privateKeyEncrypted: appStoreCredentials.privateKeyEncrypted,
    })
    .from(projects)
    .leftJoin(appStoreCredentials, eq(appStoreCredentials.projectId, projects.id))
    .where(eq(projects.id, id))
    .limit(1);
  const row = rows[0];
  if (!row) throw projectNotFound(id);
  if (
    row.keyId === null ||
    row.issuerId === null ||
    row.status === null ||
    row.encryptionKeyId === null ||
    row.updatedAt === null ||
    row.privateKeyEncrypted === null
  ) {
    throw noCredentials(id);
  }
  return { ...row } as CredentialsRow;
}

/**
 * The project's credentials without the key. Throws NotFoundError for an unknown project and
 * PreconditionError when it has no credentials yet.
 */
export async function loadCredentials(ctx: ServiceContext, projectId: string): Promise<CredentialsSummary> {
  const { privateKeyEncrypted: _sealed, ...summary } = await loadRow(ctx, projectId);
  return summary;
}

export interface ProjectClient {
  client: AppStoreClient;
  credentials: CredentialsSummary;
}

/** Options passed through to the client on top of those from the config (tests, benchmarks). */
export type ClientOverrides = Partial<Omit<AppStoreClientOptions, 'keyId' | 'issuerId' | 'loadPrivateKey'>>;

/**
 * An App Store Connect client for the project's key. The .p8 is decrypted only when the client
 * must mint a token (none of this key is cached: token-cache.ts), and is not kept.
 */
export async function loadClientForProject(
  ctx: ServiceContext,
  projectId: string,
  overrides: ClientOverrides = {},
): Promise<ProjectClient> {
  const { client, credentials } = await openProjectClient(ctx, projectId, overrides);
  return { client, credentials };
}

/**
 * As loadClientForProject, plus the sealed .p8 as read: a writer can make its update conditional
 * on it, so a result obtained with one key is never recorded against a key saved meanwhile.
 */
export async function openProjectClient(
  ctx: ServiceContext,
  projectId: string,
  overrides: ClientOverrides = {},
): Promise<ProjectClient & { sealed: string }> {
  const { privateKeyEncrypted, ...credentials } = await loadRow(ctx, projectId);
  const client = clientForStoredKey(ctx, { ...credentials, sealed: privateKeyEncrypted }, overrides);
  return { client, credentials, sealed: privateKeyEncrypted };
}

/** A stored key as a caller that read it in its own statement holds it (the sync's first statement). */
export interface StoredKey {
  projectId: string;
  keyId: string;
  issuerId: string;
  /** The sealed .p8 (a JWE), decrypted only when a token must be minted. */
  sealed: string;
}

/** The App Store Connect client for a stored key, with the config's settings and `overrides`. */
export function clientForStoredKey(
  ctx: ServiceContext,
  key: StoredKey,
  overrides: ClientOverrides = {},
): AppStoreClient {
  const { appStore } = ctx.config;
  return createAppStoreClient({
    baseUrl: appStore.baseUrl,
    keyId: key.keyId,
    issuerId: key.issuerId,
    loadPrivateKey: () => decryptSecret(ctx.config, key.sealed),
    tokenCacheKey: tokenCacheKey(
      key.keyId,
      key.issuerId,
      key.sealed,
      decryptionKeys(ctx.config)
        .map((k) => k.kid)
        .join(','),
    ),
    logger: ctx.logger.child({ projectId: key.projectId }),
    connectTimeoutMs: appStore.connectTimeoutMs,
    responseTimeoutMs: appStore.responseTimeoutMs,
    maxRetries: appStore.maxRetries,
    retryCapMs: appStore.retryCapMs,
    maxPages: appStore.maxPages,
    concurrency: appStore.concurrency,
    maxResponseBytes: appStore.maxResponseBytes,
    maxJsonDepth: appStore.maxJsonDepth,
    maxErrorDetailChars: appStore.maxErrorDetailChars,
    ...overrides,
  });
}

/**
 * The error behind a failure to load the key (CREDENTIALS_ENCRYPTION_KEY missing or rotated away,
 * a damaged record). The client reports any loadPrivateKey failure as an `auth` error; these are
 * the operator's configuration, not the customer's key, so they must not mark the key invalid.
 */
export function keyLoadingFailure(error: unknown): AppError | undefined {
  if (!(error instanceof AppError)) return undefined;
  if (!isAppStoreError(error)) return KEY_LOADING_KINDS.has(error.kind) ? error : undefined;
  const cause = error.cause;
  return cause instanceof AppError && !isAppStoreError(cause) && KEY_LOADING_KINDS.has(cause.kind)
    ? cause
    : undefined;
}

const KEY_LOADING_KINDS = new Set(['config', 'credentials_unreadable']);

/** The credential status an App Store failure implies, or undefined when it says nothing about the key. */
export function statusForFailure(error: AppStoreError): 'invalid' | 'forbidden' | undefined {
  if (keyLoadingFailure(error)) return undefined;
  if (error.kind === 'auth') return 'invalid';
  if (error.kind === 'forbidden') return 'forbidden';
  return undefined;
}

/**
 * Records what an auth failure (during a sync or a verify) says about the key: 401 → `invalid`,
 * 403 → `forbidden`, with the error's user-facing message as the detail. Other failures (rate
 * limits, outages, schema) say nothing about the key and are ignored. Returns the status set.
 */
export async function recordCredentialFailure(
  ctx: ServiceContext,
  projectId: string,
  error: AppStoreError,
): Promise<'invalid' | 'forbidden' | undefined> {
  const status = statusForFailure(error);
  if (!status) return undefined;
  const id = parseProjectId(projectId);
  const now = new Date();
  const detail = scrubSecrets(error.message);
  await ctx.db.transaction(async (tx) => {
    const previous = await lockCredentialStatus(tx, id);
    if (!previous) return;
    await tx
      .update(appStoreCredentials)
      .set({ status, statusDetail: detail, verifiedAt: now, updatedAt: now })
      .where(eq(appStoreCredentials.projectId, id));
    if (previous.status !== status) {
      await emit(tx, {
        type: 'credentials.status_changed',
        projectId: id,
        payload: buildStatusChanged({
          keyId: previous.keyId,
          from: previous.status,
          to: status,
          detail,
          source: 'sync',
        }),
      });
    }
  });
  ctx.logger.warn(
    { projectId: id, status, kind: error.kind },
    'App Store Connect credentials marked %s',
    status,
  );
  return status;
}

/**
 * A sync that read the catalog proves the key works: a key marked invalid or forbidden earlier
 * (an agreement since accepted, a role since raised) becomes valid again. Only for the key that
 * was used (a key saved meanwhile stays unverified), and a no-op when already valid.
 */
export async function recordCredentialSuccess(
  ctx: ServiceContext,
  projectId: string,
  keyId: string,
  /** The status the caller read with the key before using it, when it did (a sync does). */
  statusWhenRead?: CredentialStatus,
): Promise<void> {
  const id = parseProjectId(projectId);
  // Almost every sync runs with a key already valid: the sync read the status with the key, or
  // one read says so, instead of a transaction that row-locks the credentials only to find nothing
  // to do (BEGIN, SELECT … FOR UPDATE, COMMIT). A status changed after that read is the same race
  // as one changed right after the lock's commit: the outcome was already timing's.
  if (statusWhenRead === 'valid') return;
  const [pending] = rowsOf(
    await ctx.db.execute(sql`select 1 as pending from app_store_credentials
      where project_id = ${id} and key_id = ${keyId} and status <> 'valid'`),
  );
  if (pending === undefined) return;
  const now = new Date();
  const updated = await ctx.db.transaction(async (tx) => {
    const previous = await lockCredentialStatus(tx, id);
    if (!previous || previous.keyId !== keyId || previous.status === 'valid') return [];
    const rows = await tx
      .update(appStoreCredentials)
      .set({ status: 'valid', statusDetail: null, verifiedAt: now, updatedAt: now })
      .where(eq(appStoreCredentials.projectId, id))
      .returning({ projectId: appStoreCredentials.projectId });
    await emit(tx, {
      type: 'credentials.status_changed',
      projectId: id,
      payload: buildStatusChanged({
        keyId,
        from: previous.status,
        to: 'valid',
        detail: null,
        source: 'sync',
      }),
    });
    return rows;
  });
  if (updated.length > 0)
    ctx.logger.info({ projectId }, 'App Store Connect credentials marked valid by a successful sync');
}

type Tx = ServiceContext['db'];

/**
 * The credentials' status and key id, row-locked until the caller's transaction ends, so the
 * `from` of a `credentials.status_changed` event is the status actually replaced.
 */
export async function lockCredentialStatus(
  tx: Tx,
  projectId: string,
): Promise<{ status: CredentialStatus; keyId: string; privateKeyEncrypted: string } | undefined> {
  const [row] = await tx
    .select({
      status: appStoreCredentials.status,
      keyId: appStoreCredentials.keyId,
      privateKeyEncrypted: appStoreCredentials.privateKeyEncrypted,
    })
    .from(appStoreCredentials)
    .where(eq(appStoreCredentials.projectId, projectId))
    .for('update');
  return row;
}
