import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { isBuildCurrent } from '../../../bin/build-stamp.js';
import { openDatabase } from '../../../db/client.ts';
import { migrateDatabase } from '../../../db/migrate.ts';
import { benchEnv } from '../lib/context.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { createScratchDatabase } from '../lib/services.ts';
import { median, round } from '../lib/stats.ts';

/*
 * Scenario 7: what one CLI command costs an operator: wall time, CPU (user + system) and peak
 * memory (max RSS) of a whole `catalog-sync …` process, measured by GNU time around it, beside
 * `node -e 0` measured in the same run (the yardstick: Node's own start-up on this machine).
 * Commands: --help, a usage error, and the read commands `schedules` and `status` on Postgres
 * and on the embedded database (PGlite under a fresh DATA_DIR); then importing the package's entry
 * points as a producer (`catalog-sync/queue`) and the platform (`catalog-sync`) do. One more run
 * of each, not timed, records the modules it loads (test/support/record-loads.mjs).
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = path.join(ROOT, 'bin/catalog-sync.js');
const RECORDER = path.join(ROOT, 'test/support/record-loads.mjs');
const PROJECT = 'bench-cli';

interface Measure {
  wallS: number;
  cpuS: number;
  peakMiB: number;
  exitCode: number;
}

/** One process under /usr/bin/time: wall, user + system CPU, max RSS. */
async function measure(args: string[], env: Record<string, string>): Promise<Measure> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-time-'));
  const out = path.join(dir, 'time');
  let exitCode = 0;
  try {
    await run('/usr/bin/time', ['-q', '-o', out, '-f', '%e %U %S %M', process.execPath, ...args], {
      env,
      cwd: ROOT,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { code?: number }) => {
      exitCode = typeof error.code === 'number' ? error.code : 1;
    });
    const last = readFileSync(out, 'utf8').trim().split('\n').pop() ?? '';
    const [wall, user, system, rssKb] = last.split(' ').map(Number);
    return { wallS: wall!, cpuS: user! + system!, peakMiB: rssKb! / 1024, exitCode };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Loads {
  modules: number;
  /** Modules per package (`own`: this project's), most first. */
  byPackage: Array<[string, number]>;
}

/** One untimed run with a load hook preloaded: the JavaScript modules it loaded, by package. */
async function recordLoads(args: string[], env: Record<string, string>): Promise<Loads> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-loads-'));
  const file = path.join(dir, 'loads');
  try {
    const options = [env.NODE_OPTIONS, `--import=${RECORDER}`].filter(Boolean).join(' ');
    await run(process.execPath, args, {
      env: { ...env, NODE_OPTIONS: options, RECORD_LOADS_TO: file },
      cwd: ROOT,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    }).catch(() => {});
    const urls = readFileSync(file, 'utf8')
      .split('\n')
      .filter((url) => url.startsWith('file:') && url !== pathToFileURL(RECORDER).href);
    const counts = new Map<string, number>();
    for (const url of urls) {
      const name = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? 'own';
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    return { modules: urls.length, byPackage: [...counts].sort((a, b) => b[1] - a[1]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const describeLoads = (loads: Loads, top = 6) =>
  loads.byPackage
    .slice(0, top)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');

interface Case {
  name: string;
  args: string[];
  env: Record<string, string>;
  expectExit: number;
  /** Targets: wall seconds and peak MiB. */
  target?: { wallS: number; peakMiB: number };
}

export const cliScenario: Scenario = {
  id: 7,
  key: 'cli',
  title: 'CLI: wall, CPU and peak memory per command, beside `node -e 0`',
  async run(ctx): Promise<ScenarioResult> {
    const repeats = ctx.quick ? 3 : 10;
    const scratch = await createScratchDatabase(ctx.services, ctx.cleanup, 'cli');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'cs-cli-embedded-'));
    ctx.cleanup.defer('remove the embedded database', () =>
      rmSync(dataDir, { recursive: true, force: true }),
    );

    // One project (with a schedule) in each database, so `status` and `schedules` have rows to read.
    ctx.progress('preparing Postgres and the embedded database');
    const seed = async (database: Awaited<ReturnType<typeof openDatabase>>) => {
      await database.db.execute(
        sql`insert into projects (id, schedule_every_seconds, schedule_updated_at) values (${PROJECT}, 21600, now())`,
      );
    };
    const pg = await openDatabase({ databaseUrl: scratch.url, max: 1 });
    try {
      await seed(pg);
    } finally {
      await pg.close();
    }
    await migrateDatabase({ dataDir });
    const embedded = await openDatabase({ dataDir, exitOnSignal: false });
    try {
      await seed(embedded);
    } finally {
      await embedded.close();
    }

    // V8's compile cache (bin turns it on) in a folder of this run: the first run of each command
    // fills it, as an operator's first command after an install or an upgrade does.
    const compileCache = mkdtempSync(path.join(tmpdir(), 'cs-cli-compile-cache-'));
    ctx.cleanup.defer('remove the compile cache', () =>
      rmSync(compileCache, { recursive: true, force: true }),
    );
    const base = {
      ...process.env,
      ...benchEnv({ REDIS_URL: ctx.services.redisUrl, NODE_COMPILE_CACHE: compileCache }),
    } as Record<string, string>;
    const onPostgres = { ...base, DATABASE_URL: scratch.url };
    const onEmbedded: Record<string, string> = { ...base, DATA_DIR: dataDir };
    delete onEmbedded.DATABASE_URL;
    // What bin/catalog-sync.js runs: the compiled dist/ when current, else src/ (type stripping).
    const compiled = isBuildCurrent(ROOT);
    const importEntry = (specifier: string, source: string) => [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(compiled ? specifier : pathToFileURL(path.join(ROOT, source)).href)})`,
    ];
    const fast = { wallS: 0.2, peakMiB: 70 };
    const read = { wallS: 0.4, peakMiB: 100 };
    const cases: Case[] = [
      { name: 'node -e 0 (yardstick)', args: ['-e', '0'], env: base, expectExit: 0 },
      { name: 'catalog-sync --help', args: [BIN, '--help'], env: base, expectExit: 0, target: fast },
      {
        name: 'usage error (unknown command)',
        args: [BIN, 'no-such-command'],
        env: base,
        expectExit: 2,
        target: fast,
      },
      {
        name: 'schedules (Postgres)',
        args: [BIN, 'schedules', '--json'],
        env: onPostgres,
        expectExit: 0,
        target: read,
      },
      {
        name: `status ${PROJECT} (Postgres)`,
        args: [BIN, 'status', PROJECT, '--json'],
        env: onPostgres,
        expectExit: 0,
        target: read,
      },
      { name: 'schedules (embedded)', args: [BIN, 'schedules', '--json'], env: onEmbedded, expectExit: 0 },
      {
        name: `status ${PROJECT} (embedded)`,
        args: [BIN, 'status', PROJECT, '--json'],
        env: onEmbedded,
        expectExit: 0,
      },
      {
        name: "import 'catalog-sync/queue'",
        args: importEntry('catalog-sync/queue', 'src/queue/contract.ts'),
        env: base,
        expectExit: 0,
      },
      {
        name: "import 'catalog-sync'",
        args: importEntry('catalog-sync', 'src/index.ts'),
        env: base,
        expectExit: 0,
      },
    ];

    const results: Array<{
      name: string;
      runs: Measure[];
      wallS: number;
      cpuS: number;
      peakMiB: number;
      loads: Loads;
    }> = [];
    for (const c of cases) {
      ctx.progress(`${c.name} ×${repeats}`);
      const runs: Measure[] = [];
      for (let i = 0; i < repeats; i++) {
        const m = await measure(c.args, c.env);
        if (m.exitCode !== c.expectExit) {
          throw new Error(`${c.name} exited ${m.exitCode}, expected ${c.expectExit}`);
        }
        runs.push(m);
      }
      results.push({
        name: c.name,
        runs,
        wallS: median(runs.map((r) => r.wallS)),
        cpuS: median(runs.map((r) => r.cpuS)),
        peakMiB: Math.max(...runs.map((r) => r.peakMiB)),
        loads: await recordLoads(c.args, c.env),
      });
    }
    const yard = results[0]!;
    const table: ResultTable = {
      title: `Each command's median of ${repeats} runs (peak: the largest); ratio to \`node -e 0\` in the same run`,
      columns: ['command', 'wall s', '× node', 'CPU s', '× node', 'peak MiB', '× node', 'modules'],
      rows: results.map((r) => [
        r.name,
        round(r.wallS, 2),
        round(r.wallS / yard.wallS, 1),
        round(r.cpuS, 2),
        round(r.cpuS / Math.max(yard.cpuS, 0.01), 1),
        round(r.peakMiB, 0),
        round(r.peakMiB / yard.peakMiB, 1),
        r.loads.modules,
      ]),
    };
    const loadsTable: ResultTable = {
      title: 'Modules each loads, by package (own: this project), most first',
      columns: ['command', 'modules by package'],
      rows: results.slice(1).map((r) => [r.name, describeLoads(r.loads, 10)]),
    };
    const targets: TargetCheck[] = cases.flatMap((c, i) => {
      if (!c.target) return [];
      const r = results[i]!;
      const met = r.wallS <= c.target.wallS && r.peakMiB <= c.target.peakMiB;
      return [
        {
          name: c.name,
          target: `≤ ${c.target.wallS} s and ≤ ${c.target.peakMiB} MiB`,
          actual: `${round(r.wallS, 2)} s (${round(r.wallS / yard.wallS, 1)}× node), ${round(r.peakMiB, 0)} MiB (${round(r.peakMiB / yard.peakMiB, 1)}× node)`,
          met,
          ...(met ? {} : { note: whyMissed(r, yard, compiled) }),
        },
      ];
    });
    return {
      tables: [table, loadsTable],
      targets,
      notes: [
        'Measured with GNU time (`%e %U %S %M`) around each whole process, one at a time.',
        `The machine is shared: \`node -e 0\` took ${round(yard.wallS, 2)} s here; read the ratios.`,
        compiled
          ? 'bin/catalog-sync.js ran the compiled dist/ (current: built from the sources as they are), as an installed package does; the imports went through the package entry points.'
          : "dist/ was stale or missing, so bin/catalog-sync.js ran src/ through Node's type stripping (about +30 MiB and +50 ms a command) and the imports took src/ directly: `npm run build` to measure what an installed package runs.",
        "The first run of each command filled V8's compile cache (bin turns it on); the medians are of runs that used it.",
        'A read on Postgres loads no BullMQ, cron-parser, embedded database or simulator, and --help no database, queue or HTTP code: test/integration/package/loads.test.ts checks it.',
      ],
      data: results.map(({ loads, ...rest }) => ({
        ...rest,
        modules: loads.modules,
        byPackage: loads.byPackage,
      })),
    };
  },
};

/** Why a command missed its target, from what this run measured. */
function whyMissed(
  r: { wallS: number; cpuS: number; peakMiB: number; loads: Loads },
  yard: { wallS: number; peakMiB: number },
  compiled: boolean,
): string {
  return [
    ...(compiled
      ? []
      : ["dist/ was stale, so this ran src/ through Node's type stripping (`npm run build`)"]),
    // Much more wall than CPU: the process waited, for the shared cores or for the services.
    ...(r.wallS > 1.5 * r.cpuS
      ? [`it used ${round(r.cpuS, 2)} s of CPU in ${round(r.wallS, 2)} s: the rest was waiting`]
      : []),
    `it loads ${r.loads.modules} modules (${describeLoads(r.loads)})`,
    `Node alone takes ${round(yard.wallS, 2)} s and ${round(yard.peakMiB, 0)} MiB on this machine now`,
  ].join('; ');
}
