import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { type Database, type Db, rowsOf } from '../../../db/client.ts';
import type { ServiceContext } from '../../../src/context.ts';
import type { SimCatalog } from '../../../src/simulator/catalog.ts';
import {
  generateCatalog,
  generateKeyPair,
  randomIssuerId,
  randomKeyId,
  type Simulator,
  startSimulator,
} from '../../../src/simulator/index.ts';
import { type SyncSummary, syncProject } from '../../../src/sync/run.ts';
import { benchConfig, openBenchDatabase, serviceContext } from './context.ts';
import { type SeedProject, seedProjects } from './projects.ts';
import type { ScenarioContext } from './scenario.ts';
import { createScratchDatabase } from './services.ts';
import type { NamedShape } from './shapes.ts';
import { type SimulatorProcess, startSimulatorProcess } from './sim-process.ts';
import { msSince } from './stats.ts';

/*
 * The in-process set-up of scenarios 1–3: the simulator (in this process, it answers in
 * microseconds and is not what is measured), a scratch Postgres database whose every statement
 * is logged with a timestamp, and projects bound to the simulator's apps.
 */

export interface LoggedStatement {
  sql: string;
  /** ms on the process clock (performance.now()) when drizzle sent it. */
  at: number;
}

export interface MeasuredSync {
  summary: SyncSummary;
  /** Wall time of syncProject, ms. */
  ms: number;
  /** Requests the simulator answered during the sync. */
  simRequests: number;
  simRequestsByEndpoint: Record<string, number>;
  statements: LoggedStatement[];
  /**
   * From the first statement of the apply transaction (the per-project advisory lock) to the
   * end of the sync: load, diff, batched writes, rules, the run row and the commit.
   */
  applyMs: number;
  /** Everything before it: project and run rows, credentials, token, the whole fetch. */
  fetchMs: number;
}

export interface SyncBench {
  /** The in-process simulator (for mutations); undefined when it runs in its own process. */
  sim: Simulator | undefined;
  baseUrl: string;
  database: Database;
  service: ServiceContext;
  catalog: SimCatalog;
  /** The simulator app generated for `shapes[i]`. */
  appIds: string[];
  /** A new project bound to app `appId` (a fresh project = a first sync). */
  addProject(appId: string): Promise<string>;
  sync(projectId: string): Promise<MeasuredSync>;
}

/** The apply's first statement (the lock), or the unchanged re-sync's only one (unchanged.ts). */
const APPLY_START = /pg_(try_)?advisory_xact_lock|catalog_sync_finish_unchanged/i;

export async function openSyncBench(
  ctx: ScenarioContext,
  label: string,
  shapes: NamedShape[],
  options: {
    latencyMs?: number;
    seed?: number;
    /** Run the simulator in its own process, so its CPU does not share the sync's event loop. */
    ownProcess?: boolean;
  } = {},
): Promise<SyncBench> {
  const catalog = generateCatalog({
    seed: options.seed ?? 7,
    apps: shapes.map((s) => ({
      iaps: s.iaps,
      groups: s.groups.length,
      subscriptionsPerGroup: s.groups.length > 0 ? s.groups : 0,
      ...(s.grace ? {} : { grace: null }),
    })),
  });
  // The hourly budget is not what these scenarios measure.
  const perHour = 10_000_000;
  let sim: Simulator | undefined;
  let processSim: SimulatorProcess | undefined;
  let key: { keyId: string; issuerId: string; privateKeyPem: string };
  if (options.ownProcess) {
    const pair = generateKeyPair();
    key = { keyId: randomKeyId(), issuerId: randomIssuerId(), privateKeyPem: pair.privateKeyPem };
    catalog.keys = [
      {
        keyId: key.keyId,
        issuerId: key.issuerId,
        publicKeyPem: pair.publicKeyPem,
        role: 'ADMIN',
        appIds: 'all',
        agreementsMissing: false,
      },
    ];
    processSim = await startSimulatorProcess(ctx.cleanup, catalog, {
      latencyMs: options.latencyMs ?? 0,
      perHour,
    });
  } else {
    const started = await startSimulator({
      catalog,
      port: 0,
      ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}),
      rateLimit: { perHour },
    });
    sim = started;
    ctx.cleanup.defer('close simulator', () => started.close());
    key = await started.createKey({ role: 'ADMIN', appIds: 'all' });
  }
  const baseUrl = sim?.baseUrl ?? processSim!.baseUrl;
  const apps = catalog.apps;

  const scratch = await createScratchDatabase(ctx.services, ctx.cleanup, label);
  let log: LoggedStatement[] | undefined;
  const database = await openBenchDatabase(ctx.cleanup, scratch.url, {
    onQuery: (query) => log?.push({ sql: query, at: performance.now() }),
  });
  const config = benchConfig({
    DATABASE_URL: scratch.url,
    APP_STORE_CONNECT_BASE_URL: baseUrl,
    // A benchmark must not hide a retry behind a long backoff: fail fast instead.
    APP_STORE_CONNECT_MAX_RETRIES: '0',
  });
  const service = serviceContext(database, config);
  const appIds = apps.map((app) => app.id);

  let counter = 0;
  const addProject = async (appId: string) => {
    const app = (sim?.catalog.apps ?? apps).find((a) => a.id === appId);
    if (!app) throw new Error(`no simulator app ${appId}`);
    const id = `bench-${label}-${++counter}-${randomBytes(2).toString('hex')}`;
    const project: SeedProject = {
      id,
      keyId: key.keyId,
      issuerId: key.issuerId,
      privateKeyPem: key.privateKeyPem,
      app: { appStoreId: app.id, bundleId: app.bundleId, name: app.name },
    };
    await seedProjects(database.db, config, [project]);
    return id;
  };

  const sync = async (projectId: string): Promise<MeasuredSync> => {
    if (sim) sim.resetRequests();
    else await processSim!.resetRequests();
    const statements: LoggedStatement[] = [];
    log = statements;
    const start = performance.now();
    const started = process.hrtime.bigint();
    let summary: SyncSummary;
    try {
      summary = await syncProject(service, projectId, { trigger: 'manual' });
    } finally {
      log = undefined;
    }
    const ms = msSince(started);
    const end = start + ms;
    const applyStart = statements.find((s) => APPLY_START.test(s.sql))?.at ?? Number.NaN;
    const byEndpoint = sim ? sim.requestCounts() : await processSim!.counts();
    return {
      summary,
      ms,
      simRequests: Object.values(byEndpoint).reduce((a, b) => a + b, 0),
      simRequestsByEndpoint: byEndpoint,
      statements,
      applyMs: end - applyStart,
      fetchMs: applyStart - start,
    };
  };

  return { sim, baseUrl, database, service, catalog, appIds, addProject, sync };
}

/** Statements that write, by table (`insert into "products"` → products). */
export function writesByTable(statements: LoggedStatement[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { sql } of statements) {
    const match = /^\s*(?:with\b[\s\S]*?\)\s*)?(insert\s+into|update|delete\s+from)\s+"?([a-z_]+)"?/i.exec(
      sql,
    );
    if (!match) continue;
    const table = match[2]!.toLowerCase();
    out[table] = (out[table] ?? 0) + 1;
  }
  return out;
}

const PROJECT_TABLES = [
  'projects',
  'app_store_credentials',
  'discovered_apps',
  'sync_runs',
  'subscription_groups',
  'products',
  'grace_period_settings',
  'catalog_changes',
  'revenue_attribution_rules',
] as const;

/**
 * A digest of every row of a project in each table, row versions included (`xmin` changes on any
 * write, even one that stores the same values): equal digests mean no row was written.
 */
export async function projectRowDigests(db: Db, projectId: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of PROJECT_TABLES) {
    const column = table === 'projects' ? 'id' : 'project_id';
    const [row] = rowsOf<{ digest: string | null; n: number | string }>(
      await db.execute(
        sql`select count(*) as n, md5(string_agg(t.xmin::text || ':' || t::text, ',' order by t::text)) as digest
              from ${sql.identifier(table)} t where ${sql.identifier(column)} = ${projectId}`,
      ),
    );
    out[table] = `${row?.n ?? 0}:${row?.digest ?? ''}`;
  }
  return out;
}

export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys(after).filter((table) => before[table] !== after[table]);
}
