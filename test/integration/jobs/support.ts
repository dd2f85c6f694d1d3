import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll } from 'vitest';
import { type Db, rowsOf } from '../../../db/client.ts';
import { type CatalogSync, createCatalogSync } from '../../../src/index.ts';
import { QUEUE_NAME } from '../../../src/queue/contract.ts';
import { openQueue, type QueueHandle } from '../../../src/queue/queue.ts';
import { generateCatalog, type Simulator, startSimulator } from '../../../src/simulator/index.ts';
import { type CliResult, runCli } from '../../support/cli.ts';
import { newEncryptionKey, type TestContext, testContext } from '../../support/context.ts';
import { type TestDatabase, useTestDatabase } from '../../support/db.ts';
import { type TestRedis, useTestRedis } from '../../support/redis.ts';
import { DEADLINE_MS, until } from '../../support/wait.ts';

export { until };

/*
 * Shared by the queue/worker and public-API integration tests: one simulator, database and Redis
 * prefix per file, real worker processes, plain BullMQ clients.
 */

export const ENCRYPTION_KEY = newEncryptionKey();

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
    // One process per worker unless a test asks for a group (`worker --processes N`).
    WORKER_PROCESSES: '1',
    // A persistent fault reaches the processor quickly.
    APP_STORE_CONNECT_MAX_RETRIES: '0',
    // Schedule tests fire every second; production refuses anything under 5 minutes.
    SCHEDULE_MIN_INTERVAL_SECONDS: '1',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    ...extra,
  };
}

export type LogLine = Record<string, unknown> & { msg?: string };

export interface WorkerProcess {
  child: ChildProcess;
  logs: LogLine[];
  /**
   * Resolves with the first log line matching, or rejects after timeoutMs (generous: on a busy
   * machine a worker process takes many seconds to start). Prefer waiting on state (a job's state,
   * a sync_runs row); a log line is the event only for what a process reports of itself.
   */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

const running = new Set<ChildProcess>();
let cleanupRegistered = false;

/** Spawns `catalog-sync worker` as a real process; killed (SIGKILL) after the file if still alive. */
export function spawnWorker(env: Record<string, string>, args: string[] = []): WorkerProcess {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    afterAll(async () => {
      for (const child of running) child.kill('SIGKILL');
      running.clear();
    });
  }
  const child = spawn(process.execPath, [path.resolve('bin/catalog-sync.js'), 'worker', ...args], {
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
    waitForLog(match, timeoutMs = DEADLINE_MS) {
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

export type PlainQueue = ReturnType<typeof plainQueue>;

export interface JobsHarness {
  db: () => TestDatabase;
  redis: TestRedis;
  sim: () => Simulator;
  services: () => Services;
  /** In-process context with the workers' settings (serviceEnv), logging silently. */
  ctx: () => TestContext;
  /** The product's queue client (src/queue/queue.ts); only with `queue: 'client'`. */
  handle: () => QueueHandle;
  /** Plain BullMQ, as the platform would use it; only with `queue: 'plain'`. */
  producer: () => PlainQueue;
  /** The public API on this file's services; only with `api: true`. */
  api: () => CatalogSync;
  /** The CLI with this file's services, at LOG_LEVEL warn so its --json output stands alone. */
  cli: (args: string[]) => Promise<CliResult>;
}

function ready<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new Error(
      `useJobsHarness(): ${what} is ready only inside tests and hooks, and only when asked for`,
    );
  }
  return value;
}

/**
 * The setup every queue/API test file repeats, as hooks: a fresh database and Redis prefix, a
 * simulator serving `catalog`, a context, and optionally a queue client and the public API; all
 * closed after the file. The file's own beforeAll (registered later) runs after this one, and its
 * afterAll before this one's, so it may use and stop what it started (workers) first.
 */
export function useJobsHarness(options: {
  catalog: Parameters<typeof generateCatalog>[0];
  queue?: 'client' | 'plain';
  api?: boolean;
}): JobsHarness {
  const db = useTestDatabase();
  const redis = useTestRedis();
  let sim: Simulator | undefined;
  let services: Services | undefined;
  let ctx: TestContext | undefined;
  let handle: QueueHandle | undefined;
  let producer: PlainQueue | undefined;
  let api: CatalogSync | undefined;

  beforeAll(async () => {
    sim = await startSimulator({ catalog: generateCatalog(options.catalog) });
    services = {
      databaseUrl: db().url,
      redisUrl: redis.url,
      prefix: redis.prefix,
      simulatorUrl: sim.baseUrl,
    };
    ctx = testContext(db().db, { ...serviceEnv(services), LOG_LEVEL: 'silent' });
    if (options.queue === 'client') handle = await openQueue(ctx.config, 'client');
    if (options.queue === 'plain') producer = plainQueue(services);
    if (options.api) {
      api = createCatalogSync({
        databaseUrl: services.databaseUrl,
        redisUrl: services.redisUrl,
        redisPrefix: services.prefix,
        encryptionKey: ENCRYPTION_KEY,
        appStoreBaseUrl: services.simulatorUrl,
      });
    }
  });

  afterAll(async () => {
    await api?.close();
    await handle?.close();
    await producer?.close();
    await sim?.close();
  });

  const getServices = () => ready(services, 'services');
  return {
    db,
    redis,
    sim: () => ready(sim, 'the simulator'),
    services: getServices,
    ctx: () => ready(ctx, 'the context'),
    handle: () => ready(handle, "the queue client (queue: 'client')"),
    producer: () => ready(producer, "the plain queue (queue: 'plain')"),
    api: () => ready(api, 'the API (api: true)'),
    cli: (args) => runCli(args, serviceEnv(getServices(), { LOG_LEVEL: 'warn' })),
  };
}
