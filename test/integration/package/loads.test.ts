import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projects } from '../../../db/schema.ts';
import { runCli } from '../../support/cli.ts';
import { useTestDatabase } from '../../support/db.ts';
import { useTestRedis } from '../../support/redis.ts';

/*
 * What each entry point loads, so that a static import in the wrong place fails here
 * rather than in a benchmark: `--help` and usage errors load no database, queue or HTTP code; a
 * command reading Postgres loads neither BullMQ nor the embedded database nor the simulator; the
 * embedded database loads only without DATABASE_URL; importing the public API or its queue
 * contract loads nothing that connects.
 */

const run = promisify(execFile);
const RECORDER = path.resolve(import.meta.dirname, '../../support/record-loads.mjs');
const DATABASE = ['drizzle-orm', 'postgres', '@electric-sql/pglite'];
const QUEUE = ['ioredis', 'bullmq'];
const HTTP = ['got', 'express', 'node:http', 'node:https'];

const getDb = useTestDatabase();
const redis = useTestRedis();
let work: string;
let recorded = 0;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'cs-loads-'));
  await getDb().db.insert(projects).values({ id: 'loads', scheduleEverySeconds: 21_600 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Packages (by name), Node's modules (`node:…`) and our folders (`src/simulator`) a list of URLs spans. */
function unitsOf(urls: string[]): Set<string> {
  const units = new Set<string>();
  for (const url of urls) {
    if (url.startsWith('node:')) units.add(url);
    const inPackage = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (inPackage) units.add(inPackage[1]!);
    else if (url.includes('/src/')) units.add(`src/${url.split('/src/')[1]!.split('/')[0]}`);
  }
  return units;
}

function recorderEnv(): { env: Record<string, string>; read: () => Set<string> } {
  const file = path.join(work, `loads-${recorded++}`);
  const options = [process.env.NODE_OPTIONS, `--import=${RECORDER}`].filter(Boolean).join(' ');
  return {
    env: { NODE_OPTIONS: options, RECORD_LOADS_TO: file },
    read: () => unitsOf(readFileSync(file, 'utf8').split('\n')),
  };
}

/** Runs the CLI; returns what it loaded. */
async function cliLoads(args: string[], env: Record<string, string | undefined>, exitCode: number) {
  const recorder = recorderEnv();
  const result = await runCli(args, { ...env, ...recorder.env });
  expect(result.code, result.stderr).toBe(exitCode);
  return recorder.read();
}

const onPostgres = () => ({
  DATABASE_URL: getDb().url,
  REDIS_URL: redis.url,
  REDIS_PREFIX: redis.prefix,
});

describe('what a command loads', () => {
  it('--help and a usage error: no database, queue or HTTP code', async () => {
    for (const [args, code] of [
      [['--help'], 0],
      [['no-such-command'], 2],
      [['schedule'], 2],
    ] as const) {
      const loaded = await cliLoads([...args], {}, code);
      expect(loaded).toContain('commander');
      for (const unit of [...DATABASE, ...QUEUE, ...HTTP])
        expect(loaded, `${args}: ${unit}`).not.toContain(unit);
    }
  });

  it('schedules and status on Postgres: no BullMQ, no embedded database, no simulator', async () => {
    for (const args of [
      ['schedules', '--json'],
      ['status', 'loads', '--json'],
    ]) {
      const loaded = await cliLoads(args, onPostgres(), 0);
      expect(loaded).toContain('postgres');
      for (const unit of ['bullmq', 'cron-parser', '@electric-sql/pglite', 'src/simulator', ...HTTP]) {
        expect(loaded, `${args[0]}: ${unit}`).not.toContain(unit);
      }
    }
  });

  it('the embedded database loads only without DATABASE_URL', async () => {
    const loaded = await cliLoads(
      ['status', 'loads', '--json'],
      { DATABASE_URL: undefined, DATA_DIR: path.join(work, 'embedded') },
      // The fresh embedded database has no tables yet.
      1,
    );
    expect(loaded).toContain('@electric-sql/pglite');
    expect(loaded).not.toContain('postgres');
  });
});

describe('what importing the package loads', () => {
  it.each([
    ['the public API', 'src/index.ts'],
    ['the queue contract', 'src/queue/contract.ts'],
  ])('%s: nothing that connects or logs', async (_name, entry) => {
    const recorder = recorderEnv();
    const url = pathToFileURL(path.resolve(entry)).href;
    await run(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(url)})`], {
      env: { ...process.env, ...recorder.env },
    });
    const loaded = recorder.read();
    expect(loaded).toContain('zod');
    for (const unit of [...DATABASE, ...QUEUE, ...HTTP, 'pino']) expect(loaded, unit).not.toContain(unit);
  });
});
