/**
 * `node test/bench/sync-cpu.ts [N]`: the worker CPU of one unchanged re-sync of a 100-product app
 * (60 IAPs + 2 groups × 20 subscriptions, grace settings), repeated N times in this process
 * against the simulator in its own process (so its CPU is not counted), `process.cpuUsage()` per
 * sync. Run with `--cpu-prof` to see where the time goes. Prints the median and mean.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { syncProject } from '../../src/sync/run.ts';
import { parseArgs } from './lib/args.ts';
import { createCleanup } from './lib/cleanup.ts';
import { describeHost } from './lib/machine.ts';
import { findBenchServices } from './lib/services.ts';
import { openSyncBench } from './lib/sync-env.ts';

const runs = Number(process.argv[2] ?? 200);
const cleanup = createCleanup();
try {
  const services = await findBenchServices();
  const ctx = {
    args: parseArgs(['--quick']),
    quick: true,
    services,
    machine: describeHost(),
    cleanup,
    progress: (m: string) => process.stderr.write(`  · ${m}\n`),
  };
  const bench = await openSyncBench(
    ctx,
    'synccpu',
    [{ name: '100 products', iaps: 60, groups: [20, 20], grace: true }],
    { ownProcess: true },
  );
  const project = await bench.addProject(bench.appIds[0]!);
  await bench.sync(project);
  // Warm-up: JIT, connection pool, token cache.
  const once = () => syncProject(bench.service, project, { trigger: 'manual' });
  for (let i = 0; i < 30; i++) await once();
  // SYNC_CPU_PROFILE=file.cpuprofile: a V8 profile of the measured loop only (not start-up).
  const profileTo = process.env.SYNC_CPU_PROFILE;
  const session = profileTo ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = process.cpuUsage();
    const summary = await once();
    const used = process.cpuUsage(before);
    if (summary.status !== 'succeeded') throw new Error(`sync ${summary.status}`);
    cpu.push((used.user + used.system) / 1000);
  }
  if (session && profileTo) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(profileTo, JSON.stringify(profile));
    session.disconnect();
  }
  cpu.sort((a, b) => a - b);
  const median = cpu[Math.floor(cpu.length / 2)]!;
  const mean = cpu.reduce((a, b) => a + b, 0) / cpu.length;
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(
    `unchanged 100-product re-sync, ${runs} runs: worker CPU p10 ${cpu[Math.floor(cpu.length * 0.1)]!.toFixed(2)} ms, median ${median.toFixed(2)} ms, mean ${mean.toFixed(2)} ms, p90 ${cpu[Math.floor(cpu.length * 0.9)]!.toFixed(2)} ms; RSS ${rss.toFixed(0)} MiB`,
  );
} finally {
  await cleanup.runAll();
}
