import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appStoreCredentials, discoveredApps, projects } from '../../../db/schema.ts';
import { loadConfig } from '../../../src/config/env.ts';
import { decryptSecret } from '../../../src/secrets/crypto.ts';
import { runCli } from '../../support/cli.ts';
import { newEncryptionKey } from '../../support/context.ts';
import { useTestDatabase } from '../../support/db.ts';
import { useTestRedis } from '../../support/redis.ts';
import {
  CERTIFICATE_PEM,
  encryptedPem,
  ISSUER_ID,
  KEY_ID,
  p256Pem,
  p384Pem,
  pemBody,
  rsaPkcs8Pem,
} from '../../unit/credentials/fixtures/keys.ts';
import { snapshotTables } from './support.ts';

const getDb = useTestDatabase();
// `credentials set` queues a verification, as the API's saveCredentials does: on this file's own prefix.
const redis = useTestRedis();
const ENCRYPTION_KEY = newEncryptionKey();
let dir: string;

function file(name: string, content: string): string {
  const target = path.join(dir, name);
  writeFileSync(target, content);
  return target;
}

const env = () => ({
  DATABASE_URL: getDb().url,
  REDIS_URL: redis.url,
  REDIS_PREFIX: redis.prefix,
  CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
  APP_STORE_CONNECT_BASE_URL: 'http://127.0.0.1:9',
});

const set = (project: string, keyId: string, issuerId: string, keyFile: string, extra: string[] = []) =>
  runCli(
    [
      'credentials',
      'set',
      project,
      '--key-id',
      keyId,
      '--issuer-id',
      issuerId,
      '--private-key-file',
      keyFile,
      ...extra,
    ],
    env(),
  );

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'catalog-sync-credentials-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('catalog-sync credentials set', () => {
  const GOOD = p256Pem();

  it('stores the key encrypted, status unverified, prints what was stored but never the key', async () => {
    const keyFile = file(`AuthKey_${KEY_ID}.p8`, GOOD);
    const result = await set('proj-a', KEY_ID, ISSUER_ID, keyFile);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(KEY_ID);
    expect(result.stdout).toContain(ISSUER_ID);
    expect(result.stdout).toContain('catalog-sync verify proj-a');
    expect(result.stdout + result.stderr).not.toContain(pemBody(GOOD).slice(0, 24));

    const [row] = await getDb()
      .db.select()
      .from(appStoreCredentials)
      .where(eq(appStoreCredentials.projectId, 'proj-a'));
    expect(row).toMatchObject({
      keyId: KEY_ID,
      issuerId: ISSUER_ID,
      status: 'unverified',
      statusDetail: null,
    });
    expect(row!.privateKeyEncrypted.split('.')).toHaveLength(5);
    expect(row!.privateKeyEncrypted).not.toContain('PRIVATE KEY');
    const pem = await decryptSecret(
      loadConfig({ CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY }),
      row!.privateKeyEncrypted,
    );
    expect(pemBody(pem)).toBe(pemBody(GOOD));
    const [project] = await getDb().db.select().from(projects).where(eq(projects.id, 'proj-a'));
    expect(project?.id).toBe('proj-a');
  });

  it('with --json prints the stored fields, and a second set replaces the key, resets the status and forgets the apps', async () => {
    const db = getDb().db;
    await db
      .update(appStoreCredentials)
      .set({ status: 'valid', statusDetail: null })
      .where(eq(appStoreCredentials.projectId, 'proj-a'));
    await db
      .insert(discoveredApps)
      .values({ projectId: 'proj-a', appStoreId: '1', bundleId: 'com.example.a', name: 'A' });
    const otherKeyId = 'ZZZ999YYY8';
    const result = await set('proj-a', otherKeyId, ISSUER_ID, file('key.p8', p256Pem()), ['--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: true,
      projectId: 'proj-a',
      keyId: otherKeyId,
      issuerId: ISSUER_ID,
      status: 'unverified',
    });
    const [row] = await db
      .select()
      .from(appStoreCredentials)
      .where(eq(appStoreCredentials.projectId, 'proj-a'));
    expect(row).toMatchObject({ keyId: otherKeyId, status: 'unverified' });
    expect(await db.select().from(discoveredApps).where(eq(discoveredApps.projectId, 'proj-a'))).toEqual([]);
  });

  describe('refuses bad input: exits non-zero, names the field, and writes nothing', () => {
    const cases: {
      name: string;
      field: string;
      args: () => [string, string, string, string];
      says: RegExp;
    }[] = [
      {
        name: "the key's name as Key ID",
        field: '--key-id',
        args: () => ['proj-a', 'Sync key', ISSUER_ID, file('k1.p8', GOOD)],
        says: /not the key's name/,
      },
      {
        name: 'a lower-case Key ID',
        field: '--key-id',
        args: () => ['proj-new', 'abc123def4', ISSUER_ID, file('k2.p8', GOOD)],
        says: /upper-case/,
      },
      {
        name: 'an Issuer ID that is not a UUID',
        field: '--issuer-id',
        args: () => ['proj-a', KEY_ID, 'team-42', file('k3.p8', GOOD)],
        says: /UUID/,
      },
      {
        name: 'an empty file',
        field: '--private-key-file',
        args: () => ['proj-a', KEY_ID, ISSUER_ID, file('empty.p8', '')],
        says: /empty/,
      },
      {
        name: 'a certificate',
        field: '--private-key-file',
        args: () => ['proj-new', KEY_ID, ISSUER_ID, file('cert.p8', CERTIFICATE_PEM)],
        says: /certificate/,
      },
      {
        name: 'an RSA key',
        field: '--private-key-file',
        args: () => ['proj-a', KEY_ID, ISSUER_ID, file('rsa.p8', rsaPkcs8Pem())],
        says: /RSA key/,
      },
      {
        name: 'a P-384 key',
        field: '--private-key-file',
        args: () => ['proj-a', KEY_ID, ISSUER_ID, file('p384.p8', p384Pem())],
        says: /secp384r1/,
      },
      {
        name: 'an encrypted key',
        field: '--private-key-file',
        args: () => ['proj-new', KEY_ID, ISSUER_ID, file('enc.p8', encryptedPem())],
        says: /encrypted/,
      },
      {
        name: 'garbage',
        field: '--private-key-file',
        args: () => ['proj-a', KEY_ID, ISSUER_ID, file('junk.p8', 'hello world\n')],
        says: /not a PEM private key/,
      },
      {
        name: 'an In-App Purchase key',
        field: '--private-key-file',
        args: () => ['proj-a', KEY_ID, ISSUER_ID, file('SubscriptionKey_QQQ111WWW2.p8', GOOD)],
        says: /In-App Purchase key.*Users and Access → Integrations → App Store Connect API/,
      },
      {
        name: "another key's AuthKey file",
        field: '--private-key-file',
        args: () => ['proj-new', KEY_ID, ISSUER_ID, file('AuthKey_QQQ111WWW2.p8', GOOD)],
        says: /the \.p8 file does not match the Key ID/,
      },
      {
        name: 'a file that does not exist',
        field: '--private-key-file',
        args: () => ['proj-a', KEY_ID, ISSUER_ID, path.join(dir, 'missing.p8')],
        says: /no such file/,
      },
      {
        // A FIFO would block a plain read forever; it is refused before a byte is read.
        name: 'a FIFO instead of a file',
        field: '--private-key-file',
        args: () => {
          const fifo = path.join(dir, `AuthKey_${KEY_ID}.fifo`);
          if (!existsSync(fifo)) execFileSync('mkfifo', [fifo]);
          return ['proj-a', KEY_ID, ISSUER_ID, fifo];
        },
        says: /named pipe \(FIFO\)/,
      },
      {
        name: 'a project id with spaces',
        field: '<project>',
        args: () => ['my project', KEY_ID, ISSUER_ID, file('k4.p8', GOOD)],
        says: /project id/,
      },
    ];

    // Concurrent: every case only reads, so each before/after pair stays comparable.
    it.concurrent.each(cases)('$name', async ({ field, args, says }) => {
      const before = await snapshotTables(getDb().db);
      const [project, keyId, issuerId, keyFile] = args();
      // One process per case keeps the matrix cheap; every sixth case also checks --json.
      const withJson = cases.findIndex((c) => c.args === args) % 6 === 0;
      const [human, json] = await Promise.all([
        set(project, keyId, issuerId, keyFile),
        withJson ? set(project, keyId, issuerId, keyFile, ['--json']) : undefined,
      ]);
      // Refused input is a usage error: exit 2, as for a missing option.
      expect(human.code).toBe(2);
      expect(human.stderr).toContain(`error: ${field}: `);
      expect(human.stderr).toMatch(says);
      expect(human.stdout).toBe('');

      if (json) {
        expect(json.code).not.toBe(0);
        const body = JSON.parse(json.stdout);
        expect(body).toMatchObject({ ok: false, error: { kind: 'invalid_input' } });
        expect(body.error.message).toContain(`${field}: `);
      }

      for (const output of [human.stdout, human.stderr, json?.stdout ?? '', json?.stderr ?? '']) {
        expect(output).not.toContain(pemBody(GOOD).slice(0, 24));
      }
      expect(await snapshotTables(getDb().db)).toEqual(before);
    });

    it('without CREDENTIALS_ENCRYPTION_KEY, saying how to make one', async () => {
      const before = await snapshotTables(getDb().db);
      const result = await runCli(
        [
          'credentials',
          'set',
          'proj-new',
          '--key-id',
          KEY_ID,
          '--issuer-id',
          ISSUER_ID,
          '--private-key-file',
          file(`AuthKey_${KEY_ID}.p8`, GOOD),
        ],
        { ...env(), CREDENTIALS_ENCRYPTION_KEY: undefined },
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('CREDENTIALS_ENCRYPTION_KEY');
      expect(result.stderr).toContain('openssl rand -base64 32');
      expect(await snapshotTables(getDb().db)).toEqual(before);
    });
  });
});
