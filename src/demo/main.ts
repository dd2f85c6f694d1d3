#!/usr/bin/env node
// First, so that an older Node.js gets one sentence, not a stack trace.
import '../config/node-version.ts';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { type Database, openDatabase } from '../../db/client.ts';
import { redactUrl } from '../../db/url.ts';
import { listEvents } from '../app/events.ts';
import { addWebhook, removeWebhook } from '../app/webhooks.ts';
import { closeSharedAgents } from '../appstore/index.ts';
import { loadConfig } from '../config/env.ts';
import type { ServiceContext } from '../context.ts';
import { errorMessage } from '../errors.ts';
import { type CatalogSync, createCatalogSync } from '../index.ts';
import { createLogger, scrubSecrets, setLogger } from '../log/logger.ts';
import { closeRedis, connectRedis, createRedis } from '../queue/redis.ts';
import { startSimulator } from '../simulator/index.ts';
import { createSigningChain } from '../simulator/transactions.ts';
import { listChanges, listGroups, listProducts, rulesInForce } from '../sync/index.ts';
import { appsTable, changesTable, describeCounts, productsTable, rulesTable, seconds } from './format.ts';
import { showMoney } from './money.ts';
import { type ReceivedEvent, startDemoReceiver } from './receiver.ts';
import { changeCatalog, DEMO_APP_ID, demoCatalog } from './sample.ts';
import { startDemoWorker } from './worker.ts';

/*
 * `npm run demo`: the whole job, end to end, on this machine. An App Store Connect simulator
 * stands in for Apple; everything else is the real thing (the public API, BullMQ on Redis, a
 * worker, Postgres or the embedded database). It leaves nothing behind: every resource it
 * opens is registered for cleanup, and the cleanup runs on success, failure and Ctrl-C.
 */

const out = (line = '') => process.stdout.write(`${line}\n`);
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');

/** Progress: `▸ what` when a step starts, `  ✓ result (time)` when it ends. */
async function step<T>(title: string, body: () => Promise<T>, done: (value: T) => string): Promise<T> {
  out(`▸ ${title}`);
  const started = performance.now();
  const value = await body();
  out(`  ✓ ${done(value)} (${seconds(performance.now() - started)})`);
  return value;
}

/** Resources to release, newest first; each runs once, and one failing does not stop the others. */
class Cleanup {
  private tasks: { name: string; run: () => Promise<unknown> }[] = [];
  add(name: string, run: () => Promise<unknown>): void {
    this.tasks.push({ name, run });
  }
  get size(): number {
    return this.tasks.length;
  }
  /** Resolves with the number of tasks that failed (each is reported on stderr). */
  async run(): Promise<number> {
    let failures = 0;
    while (this.tasks.length > 0) {
      const task = this.tasks.pop()!;
      try {
        await task.run();
      } catch (error) {
        failures++;
        process.stderr.write(`warning: could not ${task.name}: ${scrubSecrets(errorMessage(error))}\n`);
      }
    }
    return failures;
  }
}

const REDIS_HELP = [
  'The demo needs Redis (the job queue). Start one, then run `npm run demo` again:',
  '    redis-server --daemonize yes',
  '  or',
  '    docker run -d -p 6379:6379 redis:7 --maxmemory-policy noeviction',
  'or point REDIS_URL at a running server.',
].join('\n');

async function deleteKeys(redis: ReturnType<typeof createRedis>, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

async function run(cleanup: Cleanup): Promise<void> {
  const env = { ...process.env };
  out('catalog-sync demo: keep an app’s App Store catalog true in Postgres, end to end.');
  out('An App Store Connect simulator stands in for Apple; the rest is what runs in production.');
  out();

  // Quiet logs: the demo prints its own progress. LOG_LEVEL=info shows the worker's logs (JSON on stderr).
  const logger = createLogger({ level: env.LOG_LEVEL ?? 'warn', destination: pino.destination(2) });
  setLogger(logger);

  // A prefix of its own, so the demo never touches other data on this Redis, and cleans up after.
  const prefix = `catalog-sync-demo-${randomBytes(3).toString('hex')}`;
  env.REDIS_PREFIX = prefix;
  env.METRICS_PORT = '0';
  // The demo's webhook receiver listens on loopback over plain http; production needs https.
  env.WEBHOOKS_ALLOW_HTTP_LOOPBACK = 'true';
  env.EVENTS_DISPATCH_INTERVAL_MS ??= '200';

  // 1. Redis, first: without it there is nothing to show, and nothing has been started yet.
  const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = createRedis(redisUrl, 'client', 'catalog-sync-demo');
  try {
    await connectRedis(redis, redisUrl, 2_000);
  } catch {
    redis.disconnect();
    throw new DemoStop(`Redis at ${redactUrl(redisUrl)} does not answer.\n${REDIS_HELP}`);
  }
  cleanup.add('close the Redis connection', () => closeRedis(redis));
  cleanup.add(`delete the demo's Redis keys (${prefix}:*)`, () => deleteKeys(redis, `${prefix}:*`));
  out(
    `• Redis at ${redactUrl(redisUrl)} answers; this run's keys live under the prefix ${prefix} (deleted at the end).`,
  );

  if (!env.CREDENTIALS_ENCRYPTION_KEY) {
    env.CREDENTIALS_ENCRYPTION_KEY = randomBytes(32).toString('base64');
    out(
      '• CREDENTIALS_ENCRYPTION_KEY is not set: using a throwaway key for this run (it seals the .p8 at rest).',
    );
  }
  const tmp = await mkdtemp(path.join(tmpdir(), 'catalog-sync-demo-'));
  cleanup.add(`remove ${tmp}`, () => rm(tmp, { recursive: true, force: true }));

  // 2. The simulator, with a sample catalog and a freshly generated API key.
  const { sim, key } = await step(
    'Starting the App Store Connect simulator with a sample catalog and a new API key',
    async () => {
      const sim = await startSimulator({ catalog: demoCatalog() });
      cleanup.add('stop the simulator', () => sim.close());
      // Runs before the simulator stops (newest first), once the worker and the API are closed.
      cleanup.add('close the App Store Connect connections', async () => closeSharedAgents());
      const key = await sim.createKey({ role: 'APP_MANAGER', appIds: 'all', dir: path.join(tmp, 'keys') });
      return { sim, key };
    },
    ({ sim, key }) =>
      `simulator on ${sim.baseUrl}; key ${key.keyId} (issuer ${key.issuerId}) written to ${key.p8Path ?? '(memory)'}`,
  );
  env.APP_STORE_CONNECT_BASE_URL = sim.baseUrl;

  // Apple's signing stands in too: a certificate chain made for this run, its root trusted as Apple's would be.
  const chain = await createSigningChain({ name: 'catalog-sync Demo' });
  await writeFile(path.join(tmp, 'demo-root.cer'), chain.rootDer);
  env.APPLE_ROOT_CERTIFICATES = path.join(tmp, 'demo-root.cer');
  env.APPLE_VERIFY_ONLINE = 'false';

  // 3. The database: Postgres when DATABASE_URL is set, else an embedded one in a temporary folder.
  const projectId = `demo-${randomBytes(3).toString('hex')}`;
  if (!env.DATABASE_URL) env.DATA_DIR = path.join(tmp, 'data');
  const config = loadConfig(env);
  const database = await step(
    config.databaseUrl
      ? `Opening Postgres at ${redactUrl(config.databaseUrl)}`
      : 'Opening an embedded Postgres (PGlite) in a temporary folder (set DATABASE_URL to use a server)',
    async () => {
      const database: Database = await openDatabase({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        embeddedOpenTimeoutMs: 60_000,
        // The demo's own cleanup closes it on Ctrl-C, after the worker.
        exitOnSignal: false,
      });
      cleanup.add('close the database', () => database.close());
      return database;
    },
    (database) =>
      `${database.kind === 'embedded' ? 'embedded database' : 'Postgres'} at ${database.location}`,
  );
  const ctx: ServiceContext = { db: database.db, config, logger };

  // 4. The platform's client: the same API the main platform imports from 'catalog-sync'.
  const api: CatalogSync = createCatalogSync({ env, database, logger });
  cleanup.add('close the API client', () => api.close());
  if (database.kind === 'postgres') {
    cleanup.add(`delete the demo project ${projectId} from Postgres`, () => deleteProject(ctx, projectId));
  }
  await step(
    'Applying database migrations',
    () => api.migrate(),
    (result) => `${result.applied} applied, ${result.total} in total`,
  );

  out();
  out(`The platform onboards project ${projectId} (src/index.ts, the typed API):`);
  const p8 = key.p8Path;
  if (!p8) throw new Error('The simulator did not write the .p8 file.');
  await step(
    `saveCredentials('${projectId}', { keyId, issuerId, privateKey: <contents of ${path.basename(p8)}> })`,
    async () =>
      api.saveCredentials(projectId, {
        keyId: key.keyId,
        issuerId: key.issuerId,
        privateKey: await readFile(p8, 'utf8'),
        fileName: path.basename(p8),
      }),
    (saved) =>
      `key checked, sealed (JWE, A256GCM) and stored as ${saved.status}; verification job ${saved.verification?.jobId} queued`,
  );

  const verified = await step(
    `verifyCredentials('${projectId}'): Verify & Fetch Apps`,
    () => api.verifyCredentials(projectId),
    (result) => `credentials ${result.status}; the key sees ${result.apps.length} apps`,
  );
  if (verified.status !== 'valid')
    throw new Error(`The demo key was not accepted: ${verified.detail ?? verified.status}`);
  out(indent(appsTable(verified.apps, DEMO_APP_ID)));

  const app = await step(
    `selectApp('${projectId}', '${DEMO_APP_ID}')`,
    () => api.selectApp(projectId, DEMO_APP_ID),
    (app) => `project bound to ${app.name} (${app.bundleId})`,
  );

  out();
  out('The platform asks to be told what happens (signed webhooks, Standard Webhooks):');
  const receiver = await step(
    'Starting a webhook receiver on loopback and registering it with addWebhook',
    async () => {
      const receiver = await startDemoReceiver();
      cleanup.add('stop the webhook receiver', () => receiver.close());
      const { endpoint, secret } = await addWebhook(ctx, { url: receiver.url, projectId });
      cleanup.add('remove the webhook endpoint', () => removeWebhook(ctx, { id: endpoint.id }));
      receiver.setSecret(secret);
      return { receiver, endpoint };
    },
    ({ receiver, endpoint }) =>
      `endpoint ${endpoint.id} → ${receiver.url}; its whsec_ secret was shown once and is stored only encrypted`,
  );

  out();
  out('A worker takes the jobs from the queue (here in this process; in production `catalog-sync worker`):');
  await step(
    'Starting a worker',
    async () => {
      const worker = await startDemoWorker(ctx);
      cleanup.add('stop the worker', () => worker.close());
      return worker;
    },
    (worker) => `worker running jobs of queue catalog-sync, ${worker.concurrency} at a time`,
  );

  await step(
    `requestSync('${projectId}') and wait for the worker to finish it`,
    () => api.requestSync(projectId, { wait: true, timeoutMs: 60_000 }),
    (request) =>
      `job ${request.jobId}: ${describeCounts(request.summary?.changes ?? {})}; ` +
      `${request.summary?.requests ?? '?'} App Store Connect requests in ${request.summary?.durationMs ?? '?'} ms`,
  );
  await printCatalog(ctx, projectId, app.name);
  out(`  Revenue-attribution rules in force (from the grace period settings):`);
  out(indent(rulesTable(await rulesInForce(ctx, projectId))));

  out();
  out('Meanwhile, in App Store Connect, the developer edits the catalog:');
  for (const line of changeCatalog(sim)) out(`  • ${line}`);
  out();

  const second = await step(
    `requestSync('${projectId}') again`,
    () => api.requestSync(projectId, { wait: true, timeoutMs: 60_000 }),
    (request) =>
      `job ${request.jobId}: ${describeCounts(request.summary?.changes ?? {})}; ` +
      `${request.summary?.requests ?? '?'} requests in ${request.summary?.durationMs ?? '?'} ms`,
  );
  const runId = second.summary?.runId;
  const changes = (await listChanges(ctx, projectId)).filter((change) => change.runId === runId);
  out(`  What changed (catalog_changes, run ${runId ?? '?'}):`);
  out(indent(changesTable(changes)));
  out(
    '  Revenue-attribution rules in force now (the previous ones were closed, and stay queryable by date):',
  );
  out(indent(rulesTable(await rulesInForce(ctx, projectId))));

  out();
  out('What a renewal earned (the platform passes the notifications Apple sends it):');
  await showMoney(api, out, { projectId, bundleId: app.bundleId, appStoreId: DEMO_APP_ID, chain });

  await printWebhooks(ctx, projectId, receiver.endpoint.createdAt, receiver.receiver.received);

  const status = await api.getStatus(projectId);
  out();
  out(
    `getStatus('${projectId}'): credentials ${status.credentials?.status}, ${status.catalog.products} products ` +
      `(${status.catalog.removedProducts} removed), ${plural(status.catalog.groups, 'subscription group')}, ` +
      `${status.lastRuns.length} runs, ${status.lastRuns.filter((r) => r.status === 'succeeded').length} succeeded.`,
  );
}

async function printCatalog(ctx: ServiceContext, projectId: string, appName: string): Promise<void> {
  const [products, groups] = await Promise.all([listProducts(ctx, projectId), listGroups(ctx, projectId)]);
  const names = new Map(groups.map((group) => [group.appleId, group.referenceName]));
  out(`  ${appName}'s catalog, as now stored in Postgres (products):`);
  out(indent(productsTable(products, names)));
}

/** Waits (bounded) until the receiver has every event of the project, then prints them. */
async function printWebhooks(
  ctx: ServiceContext,
  projectId: string,
  since: string,
  received: ReceivedEvent[],
): Promise<void> {
  // The events written since the endpoint was registered (it gets no earlier ones).
  const events = await listEvents(ctx, { projectId, since });
  const deadline = Date.now() + 20_000;
  while (events.some((e) => !received.some((r) => r.id === e.id)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  out();
  out(`  The platform's webhook receiver got ${plural(received.length, 'event')}, each signature verified:`);
  for (const event of received) {
    const data = event.data;
    const what =
      event.type === 'catalog.changed'
        ? describeCounts((data['counts'] as Record<string, number>) ?? {})
        : event.type === 'credentials.status_changed'
          ? `${String(data['from'])} → ${String(data['to'])}`
          : event.type === 'credentials.verified'
            ? `${String(data['status'])}, ${String(data['appCount'])} apps`
            : '';
    out(`    ← ${event.type.padEnd(27)} ${event.id}${what ? `  ${what}` : ''}`);
  }
  const missing = events.filter((e) => !received.some((r) => r.id === e.id)).length;
  if (missing > 0) out(`    (${missing} not delivered yet; \`catalog-sync deliveries\` shows why)`);
}

async function deleteProject(ctx: ServiceContext, projectId: string): Promise<void> {
  const { eq } = await import('drizzle-orm');
  const { projects } = await import('../../db/schema.ts');
  const { events } = await import('../../db/schema.ts');
  // Every other table references projects with ON DELETE CASCADE; the outbox keeps no reference.
  await ctx.db.delete(events).where(eq(events.projectId, projectId));
  const { eventSequences } = await import('../../db/schema.ts');
  await ctx.db.delete(eventSequences).where(eq(eventSequences.scope, projectId));
  await ctx.db.delete(projects).where(eq(projects.id, projectId));
}

/** A stop the user can act on: printed as is, without a stack. */
class DemoStop extends Error {}

async function main(): Promise<number> {
  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping and cleaning up…\n`);
    void cleanup.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = performance.now();
  let code = 0;
  try {
    await run(cleanup);
  } catch (error) {
    code = 1;
    if (interrupted) {
      // After Ctrl-C the steps in flight fail as their resources close: not worth reporting.
    } else if (error instanceof DemoStop) process.stderr.write(`\n${error.message}\n`);
    else process.stderr.write(`\nThe demo failed: ${scrubSecrets(errorMessage(error))}\n`);
  } finally {
    const count = cleanup.size;
    const cleaning = performance.now();
    const failures = await cleanup.run();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (code === 0) {
      out();
      out(
        failures === 0
          ? `✓ Cleaned up (${count} steps, ${seconds(performance.now() - cleaning)}): worker stopped, connections closed, simulator stopped, temporary folder and this run's Redis keys removed.`
          : `Cleaned up with ${failures} problem(s), see the warnings above.`,
      );
      out(
        `Done in ${seconds(performance.now() - started)}. Next: README.md, then docs/api.md (the HTTP API), docs/attribution.md (what a renewal earned) and docs/operating.md (scheduling, deploying).`,
      );
    }
  }
  return code;
}

process.exitCode = await main();
// Everything was closed above, so the event loop drains and the process ends by itself; if a
// handle were left open by mistake, say so rather than hang.
setTimeout(() => {
  process.stderr.write('warning: something was still running 5 s after the demo ended; exiting anyway.\n');
  process.exit(process.exitCode ?? 0);
}, 5_000).unref();
