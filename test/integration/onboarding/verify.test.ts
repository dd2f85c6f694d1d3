import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appStoreCredentials, discoveredApps, projects } from '../../../db/schema.ts';
import { AppStoreError, noAppsMessage } from '../../../src/appstore/index.ts';
import type { ServiceContext } from '../../../src/context.ts';
import {
  keyLoadingFailure,
  loadClientForProject,
  loadCredentials,
  recordCredentialFailure,
  saveCredentials,
} from '../../../src/credentials/index.ts';
import { AppError, InvalidInputError, NotFoundError, PreconditionError } from '../../../src/errors.ts';
import { listDiscoveredApps, selectApp, verifyCredentials } from '../../../src/onboarding/index.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { newEncryptionKey, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { p256Pem } from '../../unit/credentials/fixtures/keys.ts';

const getDb = useTestDatabase();
const APP_COUNT = 205; // more than one page of 200
const ENCRYPTION_KEY = newEncryptionKey();
let sim: Simulator;
let ctx: ServiceContext;

const envFor = (extra: Record<string, string | undefined> = {}) => ({
  DATABASE_URL: getDb().url,
  APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
  CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
  APP_STORE_CONNECT_MAX_RETRIES: '1',
  APP_STORE_CONNECT_RETRY_CAP_MS: '20',
  ...extra,
});
// Logging at trace level (kept in memory), so every log call on these paths runs too.
const contextFor = (extra: Record<string, string | undefined> = {}) =>
  testContext(getDb().db, envFor(extra), { captureLogs: true });

beforeAll(async () => {
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 7,
      apps: Array.from({ length: APP_COUNT }, () => ({
        iaps: 1,
        groups: 0,
        subscriptionsPerGroup: 0,
        grace: null,
      })),
    }),
  });
  ctx = contextFor();
});
afterAll(async () => {
  await sim?.close();
});

type KeyOptions = Parameters<Simulator['createKey']>[0];

/** A project whose saved credentials are a fresh simulator key (optionally tampered with). */
async function project(
  id: string,
  keyOptions: KeyOptions = {},
  tamper: { pem?: string; issuerId?: string } = {},
): Promise<{ keyId: string }> {
  const key = await sim.createKey(keyOptions);
  await saveCredentials(ctx, id, {
    keyId: key.keyId,
    issuerId: tamper.issuerId ?? key.issuerId,
    privateKey: tamper.pem ?? key.privateKeyPem,
  });
  return { keyId: key.keyId };
}

async function credentialsRow(projectId: string) {
  const [row] = await getDb()
    .db.select()
    .from(appStoreCredentials)
    .where(eq(appStoreCredentials.projectId, projectId));
  return row!;
}

async function storedApps(projectId: string) {
  return getDb().db.select().from(discoveredApps).where(eq(discoveredApps.projectId, projectId));
}

describe('verifyCredentials (Verify & Fetch Apps)', () => {
  it('valid: lists every app across pages into discovered_apps and proves catalog access', async () => {
    const { keyId } = await project('valid');
    const started = new Date();
    const result = await verifyCredentials(ctx, 'valid');
    expect(result.status).toBe('valid');
    expect(result.detail).toBeNull();
    expect(result.apps).toHaveLength(APP_COUNT);

    const counts = sim.requestCounts({ keyId });
    expect(counts['GET /v1/apps']).toBe(2);
    expect(counts['GET /v1/apps/{id}/inAppPurchasesV2']).toBe(1);
    const probe = sim.requests.find((r) => r.keyId === keyId && r.endpoint.endsWith('inAppPurchasesV2'));
    expect(probe?.query).toMatchObject({ limit: '1' });

    const rows = await storedApps('valid');
    expect(rows).toHaveLength(APP_COUNT);
    const byId = new Map(rows.map((row) => [row.appStoreId, row]));
    for (const app of sim.catalog.apps) {
      expect(byId.get(app.id)).toMatchObject({
        bundleId: app.bundleId,
        name: app.name,
        sku: app.sku,
        primaryLocale: app.primaryLocale,
      });
    }
    const row = await credentialsRow('valid');
    expect(row.status).toBe('valid');
    expect(row.statusDetail).toBeNull();
    expect(row.verifiedAt!.getTime()).toBeGreaterThanOrEqual(started.getTime() - 1000);
    expect(await listDiscoveredApps(ctx, 'valid')).toEqual(result.apps);
  });

  it('invalid: a .p8 that is not the key of the Key ID (401)', async () => {
    await project('wrong-key', {}, { pem: p256Pem() });
    const result = await verifyCredentials(ctx, 'wrong-key');
    expect(result).toMatchObject({ status: 'invalid', apps: [] });
    expect(result.detail).toContain('Failed to verify credentials');
    expect(result.detail).toContain('not the key\u2019s name');
    const row = await credentialsRow('wrong-key');
    expect(row.status).toBe('invalid');
    expect(row.statusDetail).toBe(result.detail);
    expect(row.verifiedAt).not.toBeNull();
    expect(await storedApps('wrong-key')).toEqual([]);
  });

  it('invalid: the wrong Issuer ID (401)', async () => {
    await project('wrong-issuer', {}, { issuerId: '00000000-1111-2222-3333-444444444444' });
    const result = await verifyCredentials(ctx, 'wrong-issuer');
    expect(result.status).toBe('invalid');
    expect(result.detail).toContain('Issuer ID');
    expect((await credentialsRow('wrong-issuer')).status).toBe('invalid');
  });

  it('forbidden (role): a Finance key lists apps but may not read the IAP catalog', async () => {
    await project('finance', { role: 'FINANCE' });
    const result = await verifyCredentials(ctx, 'finance');
    expect(result.status).toBe('forbidden');
    expect(result.detail).toContain('Admin or App Manager');
    expect(result.detail).not.toContain('agreement');
    // The apps it can see are still recorded, so the operator can see what the key reaches.
    expect(result.apps).toHaveLength(APP_COUNT);
    const row = await credentialsRow('finance');
    expect(row).toMatchObject({ status: 'forbidden', statusDetail: result.detail });
  });

  it('forbidden (agreements): every call fails until the Account Holder accepts them', async () => {
    await project('agreements', { agreementsMissing: true });
    const result = await verifyCredentials(ctx, 'agreements');
    expect(result).toMatchObject({ status: 'forbidden', apps: [] });
    expect(result.detail).toContain('agreement');
    expect(result.detail).toContain('Account Holder');
    expect(await credentialsRow('agreements')).toMatchObject({
      status: 'forbidden',
      statusDetail: result.detail,
    });
  });

  it('no_apps: an App Manager key without access to any app', async () => {
    await project('no-apps', { role: 'APP_MANAGER', appIds: [] });
    const result = await verifyCredentials(ctx, 'no-apps');
    expect(result).toEqual({ status: 'no_apps', detail: noAppsMessage, apps: [] });
    expect(await credentialsRow('no-apps')).toMatchObject({ status: 'no_apps', statusDetail: noAppsMessage });
  });

  it('an App Manager key sees only its apps; a second verify replaces the set', async () => {
    const [a, b, c] = sim.catalog.apps;
    const { keyId } = await project('manager', { role: 'APP_MANAGER', appIds: [a!.id, b!.id] });
    const first = await verifyCredentials(ctx, 'manager');
    expect(first.status).toBe('valid');
    expect(first.apps.map((app) => app.appStoreId).sort()).toEqual([a!.id, b!.id].sort());

    sim.keys.update(keyId, { appIds: [c!.id] });
    const second = await verifyCredentials(ctx, 'manager');
    expect(second.apps.map((app) => app.appStoreId)).toEqual([c!.id]);
    expect((await storedApps('manager')).map((row) => row.appStoreId)).toEqual([c!.id]);
  });

  it('probes the selected app when the project has one', async () => {
    const { keyId } = await project('probe-selected');
    const target = sim.catalog.apps[100]!;
    await getDb().db.update(projects).set({ appStoreId: target.id }).where(eq(projects.id, 'probe-selected'));
    expect((await verifyCredentials(ctx, 'probe-selected')).status).toBe('valid');
    const probe = sim.requests.find((r) => r.keyId === keyId && r.endpoint.endsWith('inAppPurchasesV2'));
    expect(probe?.path).toBe(`/v1/apps/${target.id}/inAppPurchasesV2`);
  });

  it('an outage says nothing about the key: verify throws and the status is left as it was', async () => {
    await project('outage');
    const fault = sim.faults.add({ path: '/v1/apps', status: 503, times: 'always' });
    try {
      const error = await verifyCredentials(ctx, 'outage').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppStoreError);
      expect((error as AppStoreError).kind).toBe('transient');
    } finally {
      sim.faults.remove(fault);
    }
    expect(await credentialsRow('outage')).toMatchObject({ status: 'unverified', verifiedAt: null });
  });

  it('works after a rotation of the encryption key (old key in CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS)', async () => {
    await project('rotated');
    const rotated = contextFor({
      CREDENTIALS_ENCRYPTION_KEY: newEncryptionKey(),
      CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS: ENCRYPTION_KEY,
    });
    expect((await verifyCredentials(rotated, 'rotated')).status).toBe('valid');
    const lost = contextFor({ CREDENTIALS_ENCRYPTION_KEY: newEncryptionKey() });
    const error = await verifyCredentials(lost, 'rotated').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).kind).toBe('config');
    expect((error as Error).message).toContain('CREDENTIALS_ENCRYPTION_PREVIOUS_KEYS');
    // A configuration problem is not a verdict on the customer's key.
    expect((await credentialsRow('rotated')).status).toBe('valid');
    const wrapped = new AppStoreError('auth', 'Failed to verify credentials: could not load', {
      cause: error,
    });
    expect(await recordCredentialFailure(ctx, 'rotated', wrapped)).toBeUndefined();
    expect((await credentialsRow('rotated')).status).toBe('valid');
  });

  it('refuses unknown projects and projects without credentials, saying what to do', async () => {
    const unknown = await verifyCredentials(ctx, 'nobody').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect((unknown as Error).message).toContain('catalog-sync credentials set nobody');
    await getDb().db.insert(projects).values({ id: 'bare' });
    const bare = await verifyCredentials(ctx, 'bare').catch((e: unknown) => e);
    expect(bare).toBeInstanceOf(PreconditionError);
    expect((bare as Error).message).toContain('catalog-sync credentials set bare');
  });
});

describe('loadClientForProject', () => {
  it('decrypts the .p8 only when a token is minted', async () => {
    await project('lazy');
    // Without any encryption key the client is still built: nothing was decrypted yet.
    const noKey = contextFor({ CREDENTIALS_ENCRYPTION_KEY: undefined });
    const { client, credentials } = await loadClientForProject(noKey, 'lazy');
    expect(credentials).toMatchObject({ projectId: 'lazy', status: 'unverified' });
    expect(credentials).not.toHaveProperty('privateKeyEncrypted');
    // The first request needs a token, so it needs the key.
    const error = await client.listApps().catch((e: unknown) => e);
    expect(keyLoadingFailure(error)?.message).toContain('CREDENTIALS_ENCRYPTION_KEY is not set');
    client.close();
    const ok = await loadClientForProject(ctx, 'lazy');
    expect(await ok.client.listApps()).toHaveLength(APP_COUNT);
    ok.client.close();
  });
});

describe('recordCredentialFailure', () => {
  it('marks auth failures invalid and forbidden ones forbidden, and ignores the rest', async () => {
    await project('failures');
    const auth = new AppStoreError('auth', 'Failed to verify credentials: test', { status: 401 });
    expect(await recordCredentialFailure(ctx, 'failures', auth)).toBe('invalid');
    expect(await loadCredentials(ctx, 'failures')).toMatchObject({
      status: 'invalid',
      statusDetail: auth.message,
    });
    const forbidden = new AppStoreError('forbidden', 'role too low', {
      status: 403,
      forbiddenReason: 'role',
    });
    expect(await recordCredentialFailure(ctx, 'failures', forbidden)).toBe('forbidden');
    const transient = new AppStoreError('transient', 'try later', { status: 503 });
    expect(await recordCredentialFailure(ctx, 'failures', transient)).toBeUndefined();
    expect(await loadCredentials(ctx, 'failures')).toMatchObject({
      status: 'forbidden',
      statusDetail: 'role too low',
    });
  });
});

describe('selectApp', () => {
  it('binds the project to a discovered app, filling App Store ID, bundle ID and name', async () => {
    await project('select');
    await verifyCredentials(ctx, 'select');
    const target = sim.catalog.apps[3]!;
    const selected = await selectApp(ctx, 'select', ` ${target.id} `);
    expect(selected).toEqual({ appStoreId: target.id, bundleId: target.bundleId, name: target.name });
    const [row] = await getDb().db.select().from(projects).where(eq(projects.id, 'select'));
    expect(row).toMatchObject({ appStoreId: target.id, bundleId: target.bundleId, appName: target.name });
  });

  it('refuses an App Store ID the key cannot see, and says how to list the apps', async () => {
    const { keyId: _ } = await project('select-limited', {
      role: 'APP_MANAGER',
      appIds: [sim.catalog.apps[0]!.id],
    });
    const before = await selectApp(ctx, 'select-limited', sim.catalog.apps[0]!.id).catch((e: unknown) => e);
    expect(before).toBeInstanceOf(InvalidInputError);
    expect((before as Error).message).toContain('catalog-sync verify select-limited');

    await verifyCredentials(ctx, 'select-limited');
    const unseen = sim.catalog.apps[1]!.id;
    const error = await selectApp(ctx, 'select-limited', unseen).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe('appStoreId');
    expect((error as Error).message).toContain(unseen);
    expect((error as Error).message).toContain('catalog-sync apps select-limited');
    const [row] = await getDb().db.select().from(projects).where(eq(projects.id, 'select-limited'));
    expect(row).toMatchObject({ appStoreId: null, bundleId: null, appName: null });

    const unknown = await selectApp(ctx, 'nobody', unseen).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
  });
});
