import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { migrateDatabase } from '../../../db/migrate.ts';
import { freePort, until } from '../jobs/support.ts';

/*
 * Dependencies a reliability test may kill: a Postgres cluster and a Redis server of the test's
 * own, on free ports, removed afterwards. The shared ones are never touched.
 */

const run = promisify(execFile);

export interface OwnPostgres {
  url: string;
  port: number;
  /** Kills the server at once (`-m immediate`: connections drop as in a crash). */
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

/** A Postgres 15 cluster of the test's own (pg_createcluster, trust auth), migrated. */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const port = await freePort();
  const name = `cs-outage-${randomBytes(3).toString('hex')}`;
  await run('pg_createcluster', ['15', name, '-p', String(port), '--', '--auth=trust']);
  const ctl = (...args: string[]) => run('pg_ctlcluster', ['15', name, ...args]);
  await ctl('start');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await migrateDatabase({ databaseUrl: url });
  return {
    url,
    port,
    stop: async () => {
      await ctl('stop', '-m', 'immediate');
    },
    start: async () => {
      await ctl('start');
    },
    remove: async () => {
      await run('pg_dropcluster', ['--stop', '15', name]).catch(() => undefined);
    },
  };
}

export interface OwnRedis {
  url: string;
  port: number;
  /** SIGKILL: no persistence, so it comes back empty. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing is answered (a frozen host, a partition). */
  freeze(): void;
}

/** A redis-server of the test's own, without persistence (`--save '' --appendonly no`). */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    await until(
      async () => {
        const probe = new Redis(port, '127.0.0.1', {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on('error', () => {});
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          probe.disconnect();
        }
      },
      'the test Redis to answer',
      10_000,
      50,
    );
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: async () => {
      const current = child;
      if (!current || current.exitCode !== null) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.kill('SIGKILL');
      await exited;
    },
    start,
    freeze: () => {
      child?.kill('SIGSTOP');
    },
  };
}

/** A quick GET on the worker's health server. */
export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
}
