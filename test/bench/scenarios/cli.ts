import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../../db/client.ts';
import { migrateDatabase } from '../../../db/migrate.ts';
import { benchEnv } from '../lib/context.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { createScratchDatabase } from '../lib/services.ts';
import { median, round } from '../lib/stats.ts';

/*
 * Scenario 6: what one CLI command costs an operator: wall time, CPU (user + system) and peak
 * memory (max RSS) of a whole `catalog-sync …` process, measured by GNU time around it, beside
 * `node -e 0` measured in the same run (the yardstick: Node's own start-up on this machine).
 * Commands: --help, a usage error, and the read commands `schedules` and `status` on Postgres
 * and on the embedded database (PGlite under a fresh DATA_DIR).
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = path.join(ROOT, 'bin/catalog-sync.js');
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

interface Case {
  name: string;
  args: string[];
  env: Record<string, string>;
  expectExit: number;
  /** Targets from issue 15: wall seconds and peak MiB. */
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

    const base = { ...process.env, ...benchEnv({ REDIS_URL: ctx.services.redisUrl }) } as Record<
      string,
      string
    >;
    const onPostgres = { ...base, DATABASE_URL: scratch.url };
    const onEmbedded: Record<string, string> = { ...base, DATA_DIR: dataDir };
    delete onEmbedded.DATABASE_URL;
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
    ];

    const results: Array<{ name: string; runs: Measure[]; wallS: number; cpuS: number; peakMiB: number }> =
      [];
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
      });
    }
    const yard = results[0]!;
    const table: ResultTable = {
      title: `Each command's median of ${repeats} runs (peak: the largest); ratio to \`node -e 0\` in the same run`,
      columns: ['command', 'wall s', '× node', 'CPU s', '× node', 'peak MiB', '× node'],
      rows: results.map((r) => [
        r.name,
        round(r.wallS, 2),
        round(r.wallS / yard.wallS, 1),
        round(r.cpuS, 2),
        round(r.cpuS / Math.max(yard.cpuS, 0.01), 1),
        round(r.peakMiB, 0),
        round(r.peakMiB / yard.peakMiB, 1),
      ]),
    };
    const targets: TargetCheck[] = cases.flatMap((c, i) => {
      if (!c.target) return [];
      const r = results[i]!;
      const met = r.wallS <= c.target.wallS && r.peakMiB <= c.target.peakMiB;
      return [
        {
          name: c.name,
          target: `≤ ${c.target.wallS} s and ≤ ${c.target.peakMiB} MiB`,
          actual: `${round(r.wallS, 2)} s (${round(r.wallS / yard.wallS, 1)}× node), ${round(r.peakMiB, 0)} MiB`,
          met,
          ...(met
            ? {}
            : {
                note:
                  'commands load only what they use, but a read still loads drizzle-orm (106 modules, each ' +
                  "resolution re-reading its 179 KB package.json) and zod; --help pays for Node's type stripping",
              }),
        },
      ];
    });
    return {
      tables: [table],
      targets,
      notes: [
        'Measured with GNU time (`%e %U %S %M`) around each whole process, one at a time.',
        `The machine is shared: \`node -e 0\` took ${round(yard.wallS, 2)} s here; read the ratios.`,
      ],
      data: results,
    };
  },
};
