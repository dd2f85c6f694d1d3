import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTestRedis } from '../../support/redis.ts';

/*
 * `npm run demo` as a newcomer runs it on a fresh clone: Redis up, no DATABASE_URL (so the
 * embedded database), no encryption key. It must finish, print the tables, and leave nothing
 * behind (its temporary folder and its Redis keys).
 */

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const redis = useTestRedis();

function demoEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
    ...extra,
  };
  for (const name of [
    'DATABASE_URL',
    'DATA_DIR',
    'CREDENTIALS_ENCRYPTION_KEY',
    'REDIS_PREFIX',
    'LOG_LEVEL',
  ]) {
    delete env[name];
  }
  return env;
}

describe('npm run demo', () => {
  it('shows the whole job on the embedded database, exits 0 and leaves nothing behind', async () => {
    const started = Date.now();
    const { stdout } = await run('npm', ['run', 'demo', '--silent'], {
      cwd: ROOT,
      env: demoEnv({ REDIS_URL: redis.url }),
      timeout: 90_000,
    });
    const elapsed = Date.now() - started;

    expect(stdout).toContain('using a throwaway key');
    expect(stdout).toMatch(/embedded database at .*pglite/);
    expect(stdout).toMatch(/credentials valid; the key sees 2 apps/);
    // The catalog after the first sync.
    expect(stdout).toMatch(
      /│ com\.example\.sunrise\.premium\.weekly\s+│ auto-renewable │ Premium Weekly\s+│ WAITING_FOR_REVIEW/,
    );
    // The change table: one row per kind of edit made in the simulator.
    expect(stdout).toContain('What changed');
    expect(stdout).toMatch(/│ product\s+│ com\.example\.sunrise\.coins500\s+│ added\s+│/);
    expect(stdout).toMatch(/│ product\s+│ com\.example\.sunrise\.retreatpass\s+│ removed\s+│/);
    expect(stdout).toMatch(/referenceName: Premium Monthly → Premium Monthly \(Intro Offer\)/);
    expect(stdout).toMatch(/state: WAITING_FOR_REVIEW → APPROVED/);
    expect(stdout).toMatch(/│ grace period\s+│ 7450000001\s+│ updated\s+│ .*sandboxOptIn: false → true/);
    expect(stdout).toMatch(/duration: SIXTEEN_DAYS → TWENTY_EIGHT_DAYS/);
    // The rules in force, before (16 days, paid renewals in production only) and after (28 everywhere).
    expect(stdout).toContain('Revenue-attribution rules in force now');
    // The money: the prices in force and the scheduled increase, a renewal recovered in grace
    // dated to its due date, and the revenue summed from the stored attributions.
    expect(stdout).toMatch(/│ USA\s+│ USD\s+│ 6\.99\s+│ 4\.89\s+│ 5\.94\s+│ initial\s+│/);
    expect(stdout).toMatch(
      /│ USA\s+│ USD\s+│ 8\.99\s+│ 6\.29\s+│ 7\.64\s+│ \d{4}-\d{2}-\d{2}\s+│ scheduled\s+│/,
    );
    expect(stdout).toMatch(
      /│ 700004\s+│ renewal\s+│ 6\.99 USD\s+│ 4\.89\s+│ first_year .*\(due date: recovered in grace\)/,
    );
    expect(stdout).toContain('4 stored (transaction_attributions)');
    const after = stdout.slice(stdout.indexOf('Revenue-attribution rules in force now'));
    expect(
      after.match(/│ (production|sandbox)\s+│ (paid|offer) → paid\s+│ 28\s+│ original due date/g),
    ).toHaveLength(4);
    expect(stdout).toMatch(/│ production\s+│ paid → paid\s+│ 16\s+│ original due date/);
    // The platform's webhook receiver verified the events of both syncs.
    expect(stdout).toMatch(/webhook receiver got \d+ events, each signature verified/);
    expect(stdout.match(/← catalog\.changed\s+evt_[0-9a-f]{32}/g)).toHaveLength(2);
    expect(stdout).toMatch(/✓ Cleaned up \(\d+ steps/);
    expect(stdout).toMatch(/Done in \d+\.\d s/);
    expect(stdout).not.toContain('PRIVATE KEY');

    // Nothing left: the temporary folder (key and database) and the run's Redis keys are gone.
    const p8 = /written to (\S+AuthKey_\w+\.p8)/.exec(stdout)?.[1];
    expect(p8).toBeDefined();
    expect(existsSync(path.dirname(path.dirname(p8!)))).toBe(false);
    const prefix = /prefix (catalog-sync-demo-[0-9a-f]+)/.exec(stdout)?.[1];
    expect(prefix).toBeDefined();
    expect(await redis.client.keys(`${prefix}:*`)).toEqual([]);
    process.stdout.write(`demo took ${elapsed} ms\n`);
  }, 120_000);

  it('says how to start Redis, and exits non-zero, when Redis does not answer', async () => {
    const failed = await run('npm', ['run', 'demo', '--silent'], {
      cwd: ROOT,
      env: demoEnv({ REDIS_URL: 'redis://127.0.0.1:1' }),
      timeout: 30_000,
    }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).not.toBe(0);
    expect(failed?.code).toBeDefined();
    expect(failed?.stderr).toContain('Redis at redis://127.0.0.1:1 does not answer');
    expect(failed?.stderr).toContain('redis-server --daemonize yes');
    expect(failed?.stderr).toContain('docker run -d -p 6379:6379 redis:7');
  });
});
