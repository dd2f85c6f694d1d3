import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, QueueEvents } from 'bullmq';
import { eq, sql } from 'drizzle-orm';
import { afterAll } from 'vitest';
import { type Db, rowsOf } from '../../../db/client.ts';
import { projects } from '../../../db/schema.ts';
import { QUEUE_NAME } from '../../../jobs/contract.ts';
import { loadConfig } from '../../../src/config/env.ts';
import type { ServiceContext } from '../../../src/context.ts';
import { saveCredentials } from '../../../src/credentials/index.ts';
import { createLogger } from '../../../src/log/logger.ts';
import type { Simulator } from '../../../src/simulator/index.ts';

/* Shared by the queue/worker integration tests: real worker processes, plain BullMQ clients. */

export const ENCRYPTION_KEY = randomBytes(32).toString('base64');

export interface Services {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  simulatorUrl: string;
}

/** The environment of a worker process (and of the CLI) for one test file. */
export function serviceEnv(services: Services, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    REDIS_PREFIX: services.prefix,
    CREDENTIALS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    APP_STORE_CONNECT_BASE_URL: services.simulatorUrl,
    METRICS_PORT: '0',
    // A persistent fault reaches the processor quickly.
    APP_STORE_CONNECT_MAX_RETRIES: '0',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    ...extra,
  };
}

export function testContext(db: Db, services: Services, env: Record<string, string> = {}): ServiceContext {
  return {
    db,
    config: loadConfig({ ...serviceEnv(services), LOG_LEVEL: 'silent', ...env }),
    logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  };
}

/** A project with a simulator key and (unless null) an app bound to it. */
export async function createProject(
  ctx: ServiceContext,
  sim: Simulator,
  projectId: string,
  appId: string | null,
  keyOptions: Parameters<Simulator['createKey']>[0] = {},
): Promise<{ keyId: string }> {
  const key = await sim.createKey(keyOptions);
  await saveCredentials(ctx, projectId, {
    keyId: key.keyId,
    issuerId: key.issuerId,
    privateKey: key.privateKeyPem,
  });
  if (appId !== null) {
    await ctx.db
      .update(projects)
      .set({ appStoreId: appId, bundleId: `bundle.${appId}`, appName: `App ${appId}` })
      .where(eq(projects.id, projectId));
  }
  return { keyId: key.keyId };
}

export type LogLine = Record<string, unknown> & { msg?: string };

export interface WorkerProcess {
  child: ChildProcess;
  logs: LogLine[];
  /** Resolves with the first log line matching, or rejects after timeoutMs. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

const running = new Set<ChildProcess>();
let cleanupRegistered = false;

/** Spawns `catalog-sync worker` as a real process; killed (SIGKILL) after the file if still alive. */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    afterAll(async () => {
      for (const child of running) child.kill('SIGKILL');
      running.clear();
    });
  }
  const child = spawn(process.execPath, [path.resolve('bin/catalog-sync.js'), 'worker'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  let errors = '';
  // Logs are JSON lines (LOG_FORMAT=json) on stdout or stderr, depending on the entry point.
  const collect = (stream: NodeJS.ReadableStream | null, keep: boolean) => {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      if (keep) errors += chunk;
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          logs.push(JSON.parse(line) as LogLine);
        } catch {
          logs.push({ msg: line });
        }
      }
      for (const waiter of waiters) waiter();
    });
  };
  collect(child.stdout, false);
  collect(child.stderr, true);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      for (const waiter of waiters) waiter();
      resolve({ code, signal });
    });
  });
  return {
    child,
    logs,
    exited,
    stderr: () => errors,
    waitForLog(match, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(match);
          if (found) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`worker exited before the expected log line; stderr: ${errors.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no matching log line within ${timeoutMs}ms; last lines: ${JSON.stringify(logs.slice(-5))}; stderr: ${errors.slice(-1000)}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

export const started = (line: LogLine) => line.msg === 'worker started';

/** A plain BullMQ producer, as the platform (or any other language) would use. */
export function plainQueue(services: Services): {
  queue: Queue;
  events: QueueEvents;
  close(): Promise<void>;
} {
  const connection = { url: services.redisUrl, maxRetriesPerRequest: null };
  const queue = new Queue(QUEUE_NAME, { connection, prefix: services.prefix });
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix: services.prefix });
  return {
    queue,
    events,
    close: async () => {
      await events.close();
      await queue.close();
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function until<T>(
  probe: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export async function syncRuns(db: Db, projectId: string) {
  return rowsOf<{
    id: string;
    trigger: string;
    status: string;
    job_id: string | null;
    error_kind: string | null;
  }>(
    await db.execute(
      sql`select id, trigger, status, job_id, error_kind from sync_runs where project_id = ${projectId} order by started_at`,
    ),
  );
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process; never throws on a non-zero exit. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.resolve('bin/catalog-sync.js'), ...args],
      { env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
