import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../../src/queue/contract.ts';
import { useTestDatabase } from '../../support/db.ts';
import { useTestRedis } from '../../support/redis.ts';

/*
 * The package as another Node project gets it: `npm pack` (which builds dist/ through
 * `prepare`), install the tarball into a scratch project, then import 'catalog-sync' and
 * 'catalog-sync/queue' from plain JavaScript, call the API against real Postgres and Redis,
 * and type-check a TypeScript consumer against the shipped declarations.
 */

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
// npm and the scripts it runs must find this Node (24), not the machine's default.
const ENV = {
  ...process.env,
  PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
};

const getDb = useTestDatabase();
const redis = useTestRedis();
let work: string;
let scratch: string;
const timings: Record<string, number> = {};

async function timed<T>(name: string, body: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await body();
  } finally {
    timings[name] = Date.now() - started;
  }
}

async function npm(args: string[], cwd: string) {
  try {
    return await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd,
      env: ENV,
      timeout: 180_000,
      maxBuffer: 32 * 1024 * 1024,
    });
  } catch (error) {
    // npm's own message hides the build's output (tsc prints its errors on stdout).
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: error });
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'catalog-sync-pack-'));
  scratch = path.join(work, 'scratch');
  await timed('pack (build included)', () => npm(['pack', '--pack-destination', work], ROOT));
  const tarball = readdirSync(work).find((file) => file.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack left no tarball in ${work}`);
  mkdirSync(scratch);
  writeFileSync(
    path.join(scratch, 'package.json'),
    JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
  );
  await timed('install', async () => {
    try {
      // The npm cache holds every dependency: no network needed.
      await npm(['install', '--offline', path.join(work, tarball)], scratch);
    } catch {
      await npm(['install', '--prefer-offline', path.join(work, tarball)], scratch);
    }
  });
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (Object.keys(timings).length > 0)
    process.stdout.write(`pack test timings (ms): ${JSON.stringify(timings)}\n`);
});

describe('the published package', () => {
  it('ships compiled JavaScript and declarations for both entry points, and no sources', () => {
    const installed = path.join(scratch, 'node_modules', 'catalog-sync');
    for (const file of [
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/queue/contract.js',
      'dist/src/queue/contract.d.ts',
      'dist/src/cli/main.js',
      'bin/catalog-sync.js',
      'db/migrations/meta/_journal.json',
    ]) {
      expect(existsSync(path.join(installed, file)), file).toBe(true);
    }
    expect(existsSync(path.join(installed, 'src'))).toBe(false);
    expect(existsSync(path.join(installed, 'test'))).toBe(false);
  });

  it('works from plain JavaScript: imports, saves credentials, reads the status back', async () => {
    const script = path.join(scratch, 'use-package.mjs');
    copyFileSync(path.join(import.meta.dirname, 'fixtures', 'use-package.mjs'), script);
    const projectId = `pack-${randomBytes(3).toString('hex')}`;
    const { stdout } = await timed('script', () =>
      run(process.execPath, [script], {
        cwd: scratch,
        timeout: 60_000,
        env: {
          ...ENV,
          LOG_LEVEL: 'silent',
          PROJECT_ID: projectId,
          DATABASE_URL: getDb().url,
          REDIS_URL: redis.url,
          REDIS_PREFIX: redis.prefix,
          CREDENTIALS_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        },
      }),
    );
    const result = JSON.parse(stdout);
    expect(result.exported.api).toEqual(
      expect.arrayContaining([
        'createCatalogSync',
        'AppError',
        'InvalidInputError',
        'AppStoreError',
        'QUEUE_NAME',
        'SYNC_JOB',
        'VERIFY_JOB',
        'syncCatalogPayloadSchema',
        'verifyCredentialsPayloadSchema',
      ]),
    );
    expect(result.exported.queue).toEqual(
      expect.arrayContaining(['QUEUE_NAME', 'SYNC_JOB', 'VERIFY_JOB', 'syncCatalogPayloadSchema']),
    );
    expect(result.exported).toMatchObject({
      sameQueueName: true,
      jobNames: ['sync-catalog', 'verify-credentials'],
      validPayload: true,
      invalidPayload: false,
      errorClasses: true,
    });
    expect(result.invalid).toEqual({ name: 'InvalidInputError', field: 'keyId', isInvalidInput: true });
    expect(result.saved).toMatchObject({
      projectId,
      keyId: 'PACK123456',
      status: 'unverified',
      verification: { outcome: 'added' },
      sync: null,
    });
    expect(result.status).toMatchObject({
      projectId,
      credentials: { keyId: 'PACK123456', status: 'unverified' },
      app: null,
      lastRuns: [],
    });
    expect(result.leaked).toBe(false);

    // The verification it queued is on the documented queue, with the documented payload.
    const queue = new Queue(QUEUE_NAME, { connection: { url: redis.url }, prefix: redis.prefix });
    try {
      const jobs = await queue.getJobs(['waiting']);
      expect(jobs.map((job) => [job.name, job.data])).toEqual([['verify-credentials', { projectId }]]);
    } finally {
      await queue.close();
    }
  });

  it('gives TypeScript consumers working types (a wrong call fails to compile)', async () => {
    writeFileSync(
      path.join(scratch, 'consumer.ts'),
      `import { createCatalogSync, InvalidInputError, QUEUE_NAME, type ProjectStatus, type SyncCatalogPayload } from 'catalog-sync';
import { SYNC_JOB, syncCatalogPayloadSchema, type VerifyCredentialsPayload } from 'catalog-sync/queue';

const client = createCatalogSync({ redisUrl: 'redis://127.0.0.1:6379' });
export const status: Promise<ProjectStatus> = client.getStatus('p');
export const name: 'catalog-sync' = QUEUE_NAME;
export const job: 'sync-catalog' = SYNC_JOB;
export const payload: SyncCatalogPayload = syncCatalogPayloadSchema.parse({ projectId: 'p', trigger: 'manual' });
export const verify: VerifyCredentialsPayload = { projectId: 'p' };
export const field: string = new InvalidInputError('keyId', 'bad').field;
export async function flow(): Promise<string> {
  const saved = await client.saveCredentials('p', { keyId: 'K', issuerId: 'I', privateKey: 'P' });
  const request = await client.requestSync('p', { trigger: 'manual' });
  return saved.verification.jobId + request.jobId;
}
// @ts-expect-error the trigger is one of the documented values
export const bad: SyncCatalogPayload = { projectId: 'p', trigger: 'sometimes' };
// @ts-expect-error saveCredentials needs the Issuer ID and the key
void client.saveCredentials('p', { keyId: 'K' });
// @ts-expect-error there is no such method
void client.deleteEverything();
`,
    );
    writeFileSync(
      path.join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2024',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    // --listFiles shows that the declarations behind the entry points resolved (an unresolved
    // import inside a .d.ts would silently become `any` under skipLibCheck).
    const result = await timed('tsc', () =>
      run(process.execPath, [tsc, '-p', scratch, '--listFiles'], { cwd: scratch, timeout: 120_000 }).then(
        ({ stdout }) => ({ ok: true, output: stdout }),
        (error: { stdout?: string; stderr?: string }) => ({
          ok: false,
          output: `${error.stdout}${error.stderr}`,
        }),
      ),
    );
    expect(result.output).not.toMatch(/error TS/);
    expect(result.ok).toBe(true);
    const installed = 'node_modules/catalog-sync/dist/';
    for (const file of ['src/index.d.ts', 'src/queue/contract.d.ts', 'db/schema.d.ts', 'src/sync/run.d.ts']) {
      expect(result.output).toContain(`${installed}${file}`);
    }
  });
});
