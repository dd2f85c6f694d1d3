import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonOf } from '../../support/cli.ts';
import { serviceEnv, useJobsHarness } from '../jobs/support.ts';

/*
 * `catalog-sync console` on its own: off without a token (exit 1, says what to set), and with
 * one, serving the login page on the given port until SIGTERM.
 */

const harness = useJobsHarness({
  catalog: { seed: 3, apps: [{ id: '2000000003', iaps: 1, groups: 0, subscriptionsPerGroup: 0 }] },
});

describe('catalog-sync console', () => {
  it('refuses to start without a console token, saying what to set', async () => {
    const result = await harness.cli(['console', '--port', '0', '--json']);
    expect(result.code).toBe(1);
    expect(jsonOf(result)).toMatchObject({
      ok: false,
      error: { kind: 'precondition', message: expect.stringContaining('set CONSOLE_TOKEN') },
    });
  });

  it('serves the console on its own port and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [path.resolve('bin/catalog-sync.js'), 'console', '--port', '0', '--json'],
      {
        env: {
          ...process.env,
          ...serviceEnv(harness.services(), {
            LOG_LEVEL: 'warn',
            CONSOLE_TOKEN: 'cli-console-token-0123456789',
          }),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          const found = out.split('\n').find((l) => l.startsWith('{"ok":true'));
          if (found) resolve(found);
        });
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          err += chunk;
        });
        child.once('exit', (code) => reject(new Error(`console exited (${code}) before listening: ${err}`)));
      });
      const { url } = JSON.parse(line) as { url: string };
      const login = await fetch(`${url}/login`);
      expect(login.status).toBe(200);
      expect(await login.text()).toContain('Console token');
      const projects = await fetch(`${url}/projects`, { redirect: 'manual' });
      expect(projects.status).toBe(303);
      expect(projects.headers.get('location')).toBe('/console/login');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
