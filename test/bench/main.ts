/**
 * `npm run bench [-- --quick] [-- --only N]`: runs the benchmark scenarios one after another,
 * prints each one's tables, and writes bench-results/<scenario>.json plus a Markdown summary.
 * Every scenario cleans up after itself (child processes, scratch databases, Redis keys), also
 * when it fails or the run is interrupted.
 */

// First, so that an older Node.js gets one sentence, not a stack trace.
import '../../src/config/node-version.ts';

import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuildCurrent } from '../../bin/build-stamp.js';
import { parseArgs } from './lib/args.ts';
import { type Cleanup, createCleanup } from './lib/cleanup.ts';
import { backgroundLoad, describeHost } from './lib/machine.ts';
import {
  describeMachine,
  renderTargets,
  renderTerminal,
  type ScenarioRecord,
  writeRecord,
  writeSummary,
} from './lib/report.ts';
import type { Scenario } from './lib/scenario.ts';
import { findBenchServices, serverVersions } from './lib/services.ts';
import { msSince } from './lib/stats.ts';
import { apiScenario } from './scenarios/api.ts';
import { attributionScenario } from './scenarios/attribution.ts';
import { budgetScenario } from './scenarios/budget.ts';
import { cliScenario } from './scenarios/cli.ts';
import { consoleScenario } from './scenarios/console.ts';
import { databaseScenario } from './scenarios/database.ts';
import { detailsScenario } from './scenarios/details.ts';
import { fleetScenario } from './scenarios/fleet.ts';
import { freshnessScenario } from './scenarios/freshness.ts';
import { latencyScenario } from './scenarios/latency.ts';
import { requestsScenario } from './scenarios/requests.ts';
import { schedulerScenario } from './scenarios/scheduler.ts';

const SCENARIOS: Scenario[] = [
  requestsScenario,
  latencyScenario,
  databaseScenario,
  fleetScenario,
  schedulerScenario,
  detailsScenario,
  cliScenario,
  consoleScenario,
  apiScenario,
  attributionScenario,
  freshnessScenario,
  budgetScenario,
];

const progress = (message: string) => process.stderr.write(`  · ${message}\n`);

let active: Cleanup | undefined;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${signal}: cleaning up (press again to quit at once)…\n`);
    void (active?.runAll() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

/**
 * The worker groups and CLI commands a scenario starts run bin/catalog-sync.js, which runs dist/
 * only when it is current (else src/ through Node's type stripping: more memory and start-up
 * time than an installed package). So a stale dist/ is built first, as `npm run build` would.
 */
function buildIfStale(): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  if (isBuildCurrent(root)) return;
  progress('dist/ is older than the sources: building it first (npm run build)');
  const built = spawnSync(process.execPath, [path.join(root, 'scripts/build.js')], { stdio: 'inherit' });
  if (built.status !== 0) progress('the build failed: processes started by the scenarios run src/ instead');
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  const runStart = process.hrtime.bigint();
  buildIfStale();
  const services = await findBenchServices();
  const machine = {
    ...describeHost(),
    ...(await serverVersions(services)),
    busyBeforeRun: Math.round((await backgroundLoad()) * 100) / 100,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  const selected = SCENARIOS.filter((s) => args.only.length === 0 || args.only.includes(s.id));
  console.log(`catalog-sync benchmarks${args.quick ? ' (--quick)' : ''} on ${describeMachine(machine)}`);
  if (machine.busyBeforeRun > 0.15) {
    console.log(
      `Warning: the machine was ${Math.round(machine.busyBeforeRun * 100)}% busy before the run (load average ` +
        `${machine.loadAverage.join(', ')}): other processes share the cores, so times and throughput will be low.`,
    );
  }
  console.log('');

  const records: ScenarioRecord[] = [];
  const failed: string[] = [];
  for (const scenario of selected) {
    console.log(`== ${scenario.id}. ${scenario.title}`);
    const cleanup = createCleanup();
    active = cleanup;
    const startedAt = new Date();
    const start = process.hrtime.bigint();
    try {
      const result = await scenario.run({ args, quick: args.quick, services, machine, cleanup, progress });
      const record: ScenarioRecord = {
        scenario: scenario.id,
        key: scenario.key,
        title: scenario.title,
        quick: args.quick,
        startedAt: startedAt.toISOString(),
        durationMs: Math.round(msSince(start)),
        machine,
        ...result,
      };
      records.push(record);
      for (const table of result.tables) console.log(`${renderTerminal(table)}\n`);
      console.log(renderTerminal(renderTargets(result.targets)));
      for (const note of result.notes) console.log(`  - ${note}`);
      console.log(`  (${(record.durationMs / 1000).toFixed(1)} s; ${writeRecord(args.outDir, record)})\n`);
    } catch (error) {
      failed.push(scenario.title);
      console.error(
        `Scenario ${scenario.id} failed: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
      );
    } finally {
      await cleanup.runAll();
      active = undefined;
    }
    if (interrupted) break;
  }
  if (records.length > 0) {
    const summary = writeSummary(args.outDir, machine, records, args.quick);
    console.log(`Summary: ${summary}`);
  }
  const missed = records.flatMap((r) =>
    r.targets.filter((t) => !t.met).map((t) => `${r.scenario}: ${t.name}`),
  );
  console.log(
    `Total ${(msSince(runStart) / 1000).toFixed(1)} s; ${records.length} scenario(s) ran, ` +
      `${failed.length} failed, ${missed.length} target(s) missed${missed.length ? `: ${missed.join('; ')}` : ''}.`,
  );
  return failed.length > 0 ? 1 : 0;
}

// Pools and sockets of the scenarios are closed by then; exit explicitly all the same, so a
// forgotten handle in code under measurement cannot keep the benchmark alive.
main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    await active?.runAll();
    process.exit(1);
  },
);
