import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { createAuth } from '../../../src/console/auth.ts';
import { createConsole } from '../../../src/console/index.ts';
import { listProjectsPage, type ProjectListQuery } from '../../../src/console/queries.ts';
import { createSessionStore } from '../../../src/console/sessions.ts';
import { openQueue } from '../../../src/queue/queue.ts';
import { benchConfig, openBenchDatabase, serviceContext } from '../lib/context.ts';
import type { ResultTable, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { createScratchDatabase } from '../lib/services.ts';
import { median, percentile, round, timed } from '../lib/stats.ts';

/*
 * Scenario 6: the console's projects page on a fleet of 10,000 projects (3 runs each, 1% failing)
 * in real Postgres. Timed: the page's one SQL statement alone, and the whole page over HTTP
 * (session check, the statement, one Redis ZMSCORE for next runs, HTML), for the first page, a
 * sort by last sync, a deep page and a search; beside `select 1` and `count(*)` measured in the
 * same run, so the figures read against this machine's round trip.
 */

const PROJECTS = 10_000;
const TOKEN = 'bench-console-token-0123456789';
const TARGET_MS = 300;

export const consoleScenario: Scenario = {
  id: 8,
  key: 'console',
  title: 'Operator console: projects page on 10,000 projects (real Postgres)',
  async run(ctx) {
    const repeats = ctx.quick ? 15 : 50;
    const scratch = await createScratchDatabase(ctx.services, ctx.cleanup, 'console');
    const prefix = `csbench-${ctx.services.runId}-console`;
    const config = benchConfig({
      DATABASE_URL: scratch.url,
      REDIS_URL: ctx.services.redisUrl,
      REDIS_PREFIX: prefix,
      CONSOLE_TOKEN: TOKEN,
    });
    const database = await openBenchDatabase(ctx.cleanup, scratch.url, { max: 4 });
    const db = database.db;

    ctx.progress(`inserting ${PROJECTS} projects, their keys and ${PROJECTS * 3} runs`);
    await db.execute(sql`
      insert into projects (id, app_store_id, bundle_id, app_name, schedule_every_seconds)
      select 'proj-' || lpad(g::text, 5, '0'), (4000000000 + g)::text, 'com.bench.app' || lpad(g::text, 5, '0'),
             'Bench App ' || g, case when g % 3 = 0 then 21600 end
      from generate_series(1, ${PROJECTS}) as g`);
    await db.execute(sql`
      insert into app_store_credentials (project_id, key_id, issuer_id, private_key_encrypted, encryption_key_id, status)
      select id, 'KEY' || right(id, 5), '00000000-0000-0000-0000-000000000000', 'sealed', 'k1',
             case when right(id, 2) = '37' then 'invalid' else 'valid' end
      from projects`);
    await db.execute(sql`
      insert into sync_runs (project_id, trigger, status, started_at, finished_at, duration_ms, requests_made, counts,
                             error_kind, error_message)
      select p.id, 'schedule',
             case when k = 3 and right(p.id, 2) = '71' then 'failed' else 'succeeded' end,
             now() - make_interval(hours => 3 - k, secs => (hashtext(p.id) & 4095)),
             now() - make_interval(hours => 3 - k, secs => (hashtext(p.id) & 4095)) + interval '2 seconds',
             1000 + (hashtext(p.id || k) & 2047), 5, '{"product.updated": 1}'::jsonb,
             case when k = 3 and right(p.id, 2) = '71' then 'server_error' end,
             case when k = 3 and right(p.id, 2) = '71' then 'App Store Connect answered 503' end
      from projects p cross join generate_series(1, 3) as k`);
    await db.execute(sql`analyze`);

    const handle = await openQueue(config);
    ctx.cleanup.defer('close queue', () => handle.close());
    const consoleServer = await createConsole({
      ctx: serviceContext(database, config),
      access: config.console,
      queue: handle,
    });
    ctx.cleanup.defer('close console', () => consoleServer.close());
    const server = createServer((req, res) => consoleServer.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ctx.cleanup.defer('close console server', async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { cookie: session } = await createSessionStore(db, createAuth(config.console)).begin('write');
    const cookie = `cs_session=${encodeURIComponent(session)}`;

    const measure = async (fn: () => Promise<unknown>) => {
      await fn(); // warm-up (plan cache, connections)
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) times.push((await timed(fn)).ms);
      return { median: median(times), p95: percentile(times, 95) };
    };
    const page = async (path: string) => {
      const response = await fetch(`${base}${path}`, { headers: { cookie } });
      const text = await response.text();
      if (response.status !== 200 || !text.includes('<table class="projects">'))
        throw new Error(`${path} answered ${response.status}`);
    };
    const base1 = { sort: 'project', direction: 'asc', page: 1 } as const satisfies ProjectListQuery;
    const cases: { name: string; query: ProjectListQuery; path: string }[] = [
      { name: 'first page (failing first, by project)', query: base1, path: '/console/projects' },
      {
        name: 'sorted by last sync, newest first',
        query: { ...base1, sort: 'last_sync', direction: 'desc' },
        path: '/console/projects?sort=last_sync&dir=desc',
      },
      { name: 'page 150 of 200', query: { ...base1, page: 150 }, path: '/console/projects?page=150' },
      {
        name: 'search "app0424" (bundle id substring)',
        query: { ...base1, search: 'app0424' },
        path: '/console/projects?q=app0424',
      },
      {
        name: 'failing only',
        query: { ...base1, failingOnly: true },
        path: '/console/projects?failing=1',
      },
    ];

    ctx.progress(`baselines and ${cases.length} page cases, ${repeats} times each`);
    const select1 = await measure(() => db.execute(sql`select 1`));
    const count = await measure(() => db.execute(sql`select count(*) from projects`));
    const first = await listProjectsPage(db, base1);
    if (first.total !== PROJECTS || first.rows.length !== 50) {
      throw new Error(
        `expected ${PROJECTS} projects and a page of 50, got ${first.total} and ${first.rows.length}`,
      );
    }
    const rows: ResultTable['rows'] = [
      ['baseline: select 1 (round trip)', round(select1.median, 2), round(select1.p95, 2), null, null],
      ['baseline: select count(*) from projects', round(count.median, 2), round(count.p95, 2), null, null],
    ];
    const results: Record<
      string,
      { query: { median: number; p95: number }; http: { median: number; p95: number } }
    > = {};
    for (const c of cases) {
      const query = await measure(() => listProjectsPage(db, c.query));
      const http = await measure(() => page(c.path));
      results[c.name] = { query, http };
      rows.push([
        c.name,
        round(query.median, 1),
        round(query.p95, 1),
        round(http.median, 1),
        round(http.p95, 1),
      ]);
    }
    const firstHttp = results[cases[0]!.name]!.http.median;
    const searchHttp = results[cases[3]!.name]!.http.median;
    const targets: TargetCheck[] = [
      {
        name: 'projects page, first page of 10,000 (HTTP, median)',
        target: `< ${TARGET_MS} ms`,
        actual: `${round(firstHttp, 0)} ms (select 1: ${round(select1.median, 2)} ms)`,
        met: firstHttp < TARGET_MS,
      },
      {
        name: 'projects page, search (HTTP, median)',
        target: `< ${TARGET_MS} ms`,
        actual: `${round(searchHttp, 0)} ms`,
        met: searchHttp < TARGET_MS,
      },
    ];
    return {
      tables: [
        {
          title: `Projects page on ${PROJECTS.toLocaleString('en-US')} projects, ${first.failing} failing (ms, ${repeats} runs each)`,
          columns: ['case', 'SQL median', 'SQL p95', 'HTTP page median', 'HTTP page p95'],
          rows,
        },
      ],
      targets,
      notes: [
        'SQL: the one statement of a page (credentials joined, last run by a lateral join on sync_runs(project_id, started_at), totals by window functions).',
        'HTTP: the whole page from the console handler: session check, that statement, one ZMSCORE for next runs, the HTML.',
        'Every case sorts failing projects first, so every one evaluates the lateral join for all matching projects.',
      ],
      data: { projects: PROJECTS, failing: first.failing, repeats, select1, count, results },
    };
  },
};
