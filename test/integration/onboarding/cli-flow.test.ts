import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectApp, verifyCredentials } from '../../../src/onboarding/index.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { type CliResult, jsonOf, runCli } from '../../support/cli.ts';
import { newEncryptionKey, testContext } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { useTestRedis } from '../../support/redis.ts';
import { p256Pem, p384Pem, pemBody } from '../../unit/credentials/fixtures/keys.ts';
import { snapshotTables } from './support.ts';

/*
 * The onboarding commands end to end (child processes, real Postgres, the simulator over HTTP),
 * then a sweep of everything they left behind for secrets.
 */

const getDb = useTestDatabase();
// `credentials set` queues a verification, as the API's saveCredentials does: on this file's own prefix.
const redis = useTestRedis();
const ENCRYPTION_KEY = newEncryptionKey();
let sim: Simulator;
let dir: string;
const outputs: CliResult[] = [];
const pems: string[] = [];

const env = () => ({
  DATABASE_URL: getDb().url,
  REDIS_URL: redis.url,
  REDIS_PREFIX: redis.prefix,
  APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
  CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
  // Every log line the commands can write, so the sweep sees them too.
  LOG_LEVEL: 'trace',
  LOG_FORMAT: 'json',
});

async function cli(...args: string[]): Promise<CliResult> {
  const result = await runCli(args, env());
  outputs.push(result);
  return result;
}

async function key(options: Parameters<Simulator['createKey']>[0] = {}) {
  const created = await sim.createKey({ ...options, dir });
  pems.push(created.privateKeyPem);
  return { ...created, p8Path: created.p8Path! };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'catalog-sync-onboarding-'));
  sim = await startSimulator({
    catalog: generateCatalog({
      seed: 11,
      apps: Array.from({ length: 3 }, () => ({ iaps: 2, groups: 1, subscriptionsPerGroup: 2 })),
    }),
  });
});
afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('onboarding through the CLI', () => {
  it('set → verify → apps → select-app, with a refusal for an app the key cannot see', async () => {
    const admin = await key();
    expect(path.basename(admin.p8Path)).toBe(`AuthKey_${admin.keyId}.p8`);
    const set = await cli(
      'credentials',
      'set',
      'shop',
      '--key-id',
      admin.keyId,
      '--issuer-id',
      admin.issuerId,
      '--private-key-file',
      admin.p8Path,
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('catalog-sync verify shop');

    const verify = await cli('verify', 'shop');
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toContain('credentials valid');
    for (const app of sim.catalog.apps) {
      expect(verify.stdout).toContain(app.id);
      expect(verify.stdout).toContain(app.bundleId);
    }

    const apps = await cli('apps', 'shop', '--json');
    expect(apps.code, apps.stderr).toBe(0);
    const listed = jsonOf(apps);
    expect(listed).toMatchObject({
      ok: true,
      projectId: 'shop',
      credentialStatus: 'valid',
      selectedAppStoreId: null,
    });
    expect((listed['apps'] as { appStoreId: string }[]).map((a) => a.appStoreId).sort()).toEqual(
      sim.catalog.apps.map((a) => a.id).sort(),
    );

    const target = sim.catalog.apps[1]!;
    const select = await cli('select-app', 'shop', target.id, '--json');
    expect(select.code, select.stderr).toBe(0);
    expect(jsonOf(select)).toEqual({
      ok: true,
      projectId: 'shop',
      appStoreId: target.id,
      bundleId: target.bundleId,
      name: target.name,
    });

    const before = await snapshotTables(getDb().db);
    const unseen = await cli('select-app', 'shop', '1234567890');
    expect(unseen.code).not.toBe(0);
    expect(unseen.stderr).toContain('error: <appStoreId>: ');
    expect(unseen.stderr).toContain('catalog-sync apps shop');
    expect(await snapshotTables(getDb().db)).toEqual(before);
  });

  it('verify exits non-zero for keys that cannot be used, with the status and its detail', async () => {
    const finance = await key({ role: 'FINANCE' });
    await cli(
      'credentials',
      'set',
      'finance',
      '--key-id',
      finance.keyId,
      '--issuer-id',
      finance.issuerId,
      '--private-key-file',
      finance.p8Path,
    );
    const forbidden = await cli('verify', 'finance', '--json');
    expect(forbidden.code).toBe(1);
    expect(jsonOf(forbidden)).toMatchObject({ ok: false, projectId: 'finance', status: 'forbidden' });

    // A key the simulator knows, with another key's .p8 (renamed so the file name matches).
    const real = await key();
    const impostor = path.join(dir, 'impostor', `AuthKey_${real.keyId}.p8`);
    const otherPem = p256Pem();
    pems.push(otherPem);
    mkdirSync(path.dirname(impostor));
    writeFileSync(impostor, otherPem);
    const saved = await cli(
      'credentials',
      'set',
      'impostor',
      '--key-id',
      real.keyId,
      '--issuer-id',
      real.issuerId,
      '--private-key-file',
      impostor,
    );
    expect(saved.code, saved.stderr).toBe(0);
    const invalid = await cli('verify', 'impostor');
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toContain('credentials invalid');
    expect(invalid.stdout).toContain('Failed to verify credentials');

    const missing = await cli('verify', 'nobody');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('catalog-sync credentials set nobody');

    const badKey = p384Pem();
    pems.push(badKey);
    const badFile = path.join(dir, 'p384.p8');
    writeFileSync(badFile, badKey);
    const refused = await cli(
      'credentials',
      'set',
      'shop',
      '--key-id',
      real.keyId,
      '--issuer-id',
      real.issuerId,
      '--private-key-file',
      badFile,
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--private-key-file');
  });
});

describe('secrets', () => {
  it('no table, command output or log line holds a .p8 body, a bearer token or the encryption key', async () => {
    // In-process runs too, with a logger that keeps every line at trace level.
    const ctx = testContext(
      getDb().db,
      {
        DATABASE_URL: getDb().url,
        APP_STORE_CONNECT_BASE_URL: sim.baseUrl,
        CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
      },
      { captureLogs: true },
    );
    expect((await verifyCredentials(ctx, 'shop')).status).toBe('valid');
    expect((await verifyCredentials(ctx, 'impostor')).status).toBe('invalid');
    await selectApp(ctx, 'shop', sim.catalog.apps[0]!.id);
    expect(ctx.logs()).toContain('credentials verified');

    const tables = await snapshotTables(getDb().db);
    const tableText = JSON.stringify(tables);
    const haystacks: [string, string][] = [
      ['tables', tableText],
      ['in-process logs', ctx.logs()],
      ...outputs.flatMap((o, i): [string, string][] => [
        [`command ${i} stdout`, o.stdout],
        [`command ${i} stderr`, o.stderr],
      ]),
    ];
    expect(tables['app_store_credentials']).toHaveLength(3);
    expect(outputs.some((o) => /"level":(10|20|30)/.test(o.stdout + o.stderr))).toBe(true);

    const keyFiles = pems.map((pem) => pemBody(pem));
    for (const [where, text] of haystacks) {
      expect(text, where).not.toContain('PRIVATE KEY');
      expect(text, where).not.toContain(ENCRYPTION_KEY);
      for (const body of keyFiles) {
        for (let i = 0; i + 16 <= body.length; i += 16) {
          expect(text.includes(body.slice(i, i + 16)), `${where} holds part of a .p8`).toBe(false);
        }
      }
      // Anything JOSE-shaped must be a sealed .p8 (JWE, dir + A256GCM), never a bearer token (JWS).
      for (const match of text.matchAll(/eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)*/g)) {
        const parts = match[0].split('.');
        expect(parts, `${where} holds a JWS-shaped string`).toHaveLength(5);
        expect(decodeProtectedHeader(match[0])).toMatchObject({ alg: 'dir', enc: 'A256GCM' });
        expect(where).toBe('tables');
      }
    }
  });
});
