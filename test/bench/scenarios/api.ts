import { sql } from 'drizzle-orm';
import type { AppContext } from '../../../src/app/context.ts';
import { lazyQueue } from '../../../src/app/context.ts';
import { getStatus } from '../../../src/app/status.ts';
import { requestSync } from '../../../src/app/sync.ts';
import { apiRouter } from '../../../src/http/api/index.ts';
import { createHttpApp, listen } from '../../../src/http/server.ts';
import { createToken } from '../../../src/tokens/index.ts';
import { benchConfig, openBenchDatabase, serviceContext } from '../lib/context.ts';
import { openBenchRedis } from '../lib/redis.ts';
import type { ResultTable } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { createScratchDatabase } from '../lib/services.ts';
import { round } from '../lib/stats.ts';

/*
 * The HTTP API on one process: requests per second for a read (`status`) and a write
 * (`request sync`: a Postgres record and a deduplicated BullMQ add), each over HTTP (token,
 * rate limit, validation, JSON) beside the same src/app call through the TypeScript API, in the
 * same run and process, with the same number of requests in flight. Client and server share
 * the process (and its core), so the HTTP figures include the client's cost too.
 */

const PROJECTS = 50;
const IN_FLIGHT = 8;

async function throughput(durationMs: number, call: () => Promise<unknown>) {
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => call())); // warm-up
  let done = 0;
  const started = performance.now();
  const until = started + durationMs;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { requests: done, perSecond: done / seconds, meanMs: (IN_FLIGHT * seconds * 1000) / done };
}

export const apiScenario: Scenario = {
  id: 9,
  key: 'api',
  title: 'HTTP API: requests per second for status and request sync, beside the TypeScript API',
  async run(ctx) {
    const durationMs = ctx.quick ? 1_500 : 5_000;
    const scratch = await createScratchDatabase(ctx.services, ctx.cleanup, 'api');
    const prefix = `csbench-${ctx.services.runId}-api`;
    openBenchRedis(ctx.services.redisUrl, prefix, ctx.cleanup);
    const config = benchConfig({
      DATABASE_URL: scratch.url,
      REDIS_URL: ctx.services.redisUrl,
      REDIS_PREFIX: prefix,
      API_RATE_LIMIT_PER_MINUTE: '1000000',
    });
    const database = await openBenchDatabase(ctx.cleanup, scratch.url, { max: 10 });
    const db = database.db;
    ctx.progress(`inserting ${PROJECTS} projects with a key, an app and 5 runs each`);
    await db.execute(sql`
      insert into projects (id, app_store_id, bundle_id, app_name)
      select 'api-' || g, (4000000000 + g)::text, 'com.bench.api' || g, 'API App ' || g
      from generate_series(1, ${PROJECTS}) as g`);
    await db.execute(sql`
      insert into app_store_credentials (project_id, key_id, issuer_id, private_key_encrypted, encryption_key_id, status)
      select id, 'KEYAPI' || lpad(right(id, 4), 4, '0'), '00000000-0000-0000-0000-000000000000', 'sealed', 'k1', 'valid'
      from projects`);
    await db.execute(sql`
      insert into sync_runs (project_id, trigger, status, started_at, finished_at, duration_ms, requests_made, counts)
      select p.id, 'schedule', 'succeeded', now() - make_interval(hours => k), now() - make_interval(hours => k),
             1500, 5, '{"product.updated": 1}'::jsonb
      from projects p cross join generate_series(1, 5) as k`);
    await db.execute(sql`analyze`);

    const queue = lazyQueue(config);
    ctx.cleanup.defer('close queue', () => queue.close());
    const app: AppContext = {
      ...serviceContext(database, config),
      queue: queue.queue,
      queueEvents: queue.queueEvents,
      redis: queue.redis,
    };
    const server = await listen(
      createHttpApp({ logger: app.logger, api: apiRouter({ ctx: app }) }),
      0,
      '127.0.0.1',
    );
    ctx.cleanup.defer('close API server', () => server.close());
    const { token } = await createToken(app, { name: 'bench', scope: 'write' });
    const base = `http://127.0.0.1:${server.port}/api/v1`;
    const headers = { authorization: `Bearer ${token}` };
    let n = 0;
    const nextProject = () => `api-${(n++ % PROJECTS) + 1}`;
    const http = async (method: string, path: string, expected: number) => {
      const response = await fetch(`${base}${path}`, { method, headers });
      await response.arrayBuffer();
      if (response.status !== expected) throw new Error(`${method} ${path} answered ${response.status}`);
    };

    ctx.progress(`status and request sync, ${durationMs} ms each way, ${IN_FLIGHT} in flight`);
    const statusTs = await throughput(durationMs, () => getStatus(app, { projectId: nextProject() }));
    const statusHttp = await throughput(durationMs, () =>
      http('GET', `/projects/${nextProject()}/status`, 200),
    );
    const syncTs = await throughput(durationMs, () => requestSync(app, { projectId: nextProject() }));
    const syncHttp = await throughput(durationMs, () =>
      http('POST', `/projects/${nextProject()}/syncs`, 202),
    );

    const row = (name: string, ts: typeof statusTs, over: typeof statusTs) => [
      name,
      round(ts.perSecond, 0),
      round(over.perSecond, 0),
      round(ts.meanMs, 2),
      round(over.meanMs, 2),
      round(over.meanMs - ts.meanMs, 2),
    ];
    const table: ResultTable = {
      title: `Requests per second on one process (${IN_FLIGHT} in flight, ${durationMs / 1000} s each)`,
      columns: [
        'operation',
        'TypeScript API req/s',
        'HTTP req/s',
        'TS mean ms',
        'HTTP mean ms',
        'HTTP adds ms',
      ],
      rows: [row('status (read)', statusTs, statusHttp), row('request sync (write)', syncTs, syncHttp)],
    };
    return {
      tables: [table],
      targets: [],
      notes: [
        'TypeScript API: the src/app function called in this process. HTTP: the same function behind the express app ' +
          '(token look-up in Postgres, rate limit, zod validation, JSON), with the client (fetch) in the same process.',
        `request sync: ${PROJECTS} projects in turn; after the first request per project BullMQ deduplicates (one waiting sync per project), as in production.`,
      ],
      data: { durationMs, inFlight: IN_FLIGHT, statusTs, statusHttp, syncTs, syncHttp },
    };
  },
};
