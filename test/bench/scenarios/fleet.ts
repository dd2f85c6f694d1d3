import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { WORKER_V8_FLAGS } from '../../../bin/worker-v8-flags.js';
import { enqueueSync } from '../../../src/queue/producer.ts';
import { openQueue } from '../../../src/queue/queue.ts';
import { reconcileSchedules } from '../../../src/queue/schedules.ts';
import {
  generateCatalog,
  generateKeyPair,
  randomIssuerId,
  randomKeyId,
  type SimCatalog,
} from '../../../src/simulator/index.ts';
import { type BenchChild, cpuDelta, cpuOfProcesses, procCpuMs, spawnNode } from '../lib/child.ts';
import { benchConfig, benchEnv, openBenchDatabase, serviceContext } from '../lib/context.ts';
import type { FromWorker, JobTiming, ToWorker } from '../lib/fleet-protocol.ts';
import { machineCpu } from '../lib/machine.ts';
import { type ProfileSummary, summariseProfile } from '../lib/profile.ts';
import { type SeedProject, seedProjects } from '../lib/projects.ts';
import { openBenchRedis, usedMemory } from '../lib/redis.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { createScratchDatabase } from '../lib/services.ts';
import { startSimulatorProcess } from '../lib/sim-process.ts';
import { mean, median, msSince, percentile, round } from '../lib/stats.ts';
import { databaseNow, startWorkerGroup, waitForRuns } from '../lib/worker-group.ts';

/*
 * Scenario 4: one worker process at concurrency 50 working through every project of a fleet,
 * all enqueued at once through BullMQ, against a simulator in its own process adding 50 ms per
 * request. Two passes: first syncs (everything inserted), then unchanged re-syncs.
 *
 * The bound a pass is compared with is min(concurrency ÷ per-sync latency, cores ÷ worker CPU
 * per sync). Per-sync latency is measured in the same run on an idle system (calibration
 * projects synced one at a time); CPU per sync is the worker's CPU over the pass ÷ syncs.
 */

const CONCURRENCY = 50;
const LATENCY_MS = 50;
const PRODUCTS = { iaps: 60, groups: 2, subscriptionsPerGroup: 20 } as const;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface PassResult {
  label: string;
  syncs: number;
  failed: number;
  wallMs: number;
  throughput: number;
  jobs: JobTiming[];
  workerCpuMs: number;
  /** Of which in the kernel (socket writes to Postgres, Redis and the simulator over loopback). */
  workerSystemCpuMs: number;
  /** Times the worker was preempted while it could run, and times it gave up the CPU to wait. */
  workerInvoluntarySwitches: number;
  workerVoluntarySwitches: number;
  /** Share of the pass the worker's JavaScript thread was running (event loop utilisation). */
  workerEventLoopBusy: number;
  simulatorCpuMs: number;
  postgresCpuMs: number;
  redisCpuMs: number;
  /** This process: enqueuing and polling. */
  benchCpuMs: number;
  machineBusyMs: number;
  machineTotalMs: number;
}

/** Sends a request to the worker process and waits for its reply; fails if the worker exits or stays silent. */
function sendAndWait<T extends FromWorker['type']>(
  worker: BenchChild,
  message: ToWorker,
  type: T,
  timeoutMs = 60_000,
): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      worker.process.off('message', onMessage);
      worker.process.off('exit', onExit);
    };
    const onMessage = (reply: FromWorker) => {
      if (reply.type !== type) return;
      done();
      resolve(reply as Extract<FromWorker, { type: T }>);
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`the worker process exited (${code}) while the benchmark waited for "${type}"`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the worker process did not answer "${message.type}" within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    worker.process.on('message', onMessage);
    worker.process.once('exit', onExit);
    worker.process.send(message, (error) => {
      if (error) {
        done();
        reject(error);
      }
    });
  });
}

async function waitForCompleted(worker: BenchChild, target: number, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const progress = await sendAndWait(worker, { type: 'progress' }, 'progress');
    if (progress.completed + progress.failed >= target) return progress;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: only ${progress.completed} done and ${progress.failed} failed of ${target} after ` +
          `${timeoutMs / 1000}s (last error: ${progress.lastError ?? 'none'}).`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function buildFleet(count: number): { catalog: SimCatalog; projects: SeedProject[] } {
  const catalog = generateCatalog({ seed: 4, apps: Array.from({ length: count }, () => ({ ...PRODUCTS })) });
  const projects: SeedProject[] = [];
  catalog.keys = catalog.apps.map((app, i) => {
    const pair = generateKeyPair();
    const keyId = randomKeyId();
    const issuerId = randomIssuerId();
    projects.push({
      id: `fleet-${String(i + 1).padStart(5, '0')}`,
      keyId,
      issuerId,
      privateKeyPem: pair.privateKeyPem,
      app: { appStoreId: app.id, bundleId: app.bundleId, name: app.name },
    });
    return {
      keyId,
      issuerId,
      publicKeyPem: pair.publicKeyPem,
      role: 'APP_MANAGER',
      appIds: [app.id],
      agreementsMissing: false,
    };
  });
  return { catalog, projects };
}

export const fleetScenario: Scenario = {
  id: 4,
  key: 'fleet',
  title: `Fleet throughput: one worker at concurrency ${CONCURRENCY}, simulator latency ${LATENCY_MS} ms, its own process`,
  async run(ctx) {
    const fleetSize = ctx.quick ? 100 : 1000;
    const calibration = ctx.quick ? 5 : 10;
    const cores = ctx.machine.cores;
    const prefix = `csbench-${ctx.services.runId}-fleet`;

    const scratch = await createScratchDatabase(ctx.services, ctx.cleanup, 'fleet');

    ctx.progress(`generating ${fleetSize + calibration} apps of 100 products and as many keys`);
    // Three fleets: the fleet worker's, then `worker --processes 1` and `--processes <cores>`.
    const { catalog, projects } = buildFleet(3 * fleetSize + calibration);
    ctx.progress('starting the simulator process');
    const simulator = await startSimulatorProcess(ctx.cleanup, catalog, { latencyMs: LATENCY_MS });
    const baseUrl = simulator.baseUrl;

    const overrides = {
      DATABASE_URL: scratch.url,
      REDIS_URL: ctx.services.redisUrl,
      REDIS_PREFIX: prefix,
      APP_STORE_CONNECT_BASE_URL: baseUrl,
      WORKER_CONCURRENCY: String(CONCURRENCY),
    };
    const config = benchConfig(overrides);
    const database = await openBenchDatabase(ctx.cleanup, scratch.url);
    ctx.progress(`inserting ${projects.length} projects with their sealed keys`);
    await seedProjects(database.db, config, projects);
    const calibrationProjects = projects.slice(3 * fleetSize);
    const fleet = projects.slice(0, fleetSize);
    const groupFleets = [
      projects.slice(fleetSize, 2 * fleetSize),
      projects.slice(2 * fleetSize, 3 * fleetSize),
    ];

    const probe = openBenchRedis(ctx.services.redisUrl, prefix, ctx.cleanup);
    const handle = await openQueue(config);
    ctx.cleanup.defer('close queue', () => handle.close());

    ctx.progress('starting the worker process');
    // With the heap flags `catalog-sync worker` runs with, so its CPU and memory are the worker's.
    const worker = spawnNode(ctx.cleanup, 'worker', [path.join(ROOT, 'test/bench/fleet-worker.ts')], {
      env: { ...process.env, ...benchEnv(overrides) },
      nodeArgs: WORKER_V8_FLAGS,
      ipc: true,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the worker did not start within 30 s')), 30_000);
      worker.process.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      });
      void worker.exited.then((code) => reject(new Error(`the worker exited (${code}) before it was ready`)));
    });
    let done = 0;

    // Per-sync latency on an idle system: calibration projects one at a time, first and unchanged.
    const solo = async (label: string) => {
      await sendAndWait(worker, { type: 'mark' }, 'mark');
      for (const project of calibrationProjects) {
        await enqueueSync(handle.queue, project.id, 'manual');
        await waitForCompleted(worker, ++done, 30_000, `calibration (${label})`);
      }
      const mark = await sendAndWait(worker, { type: 'mark' }, 'mark');
      return mark.jobs.map((j) => j.finishedOn - j.processedOn);
    };
    ctx.progress(`calibrating per-sync latency with ${calibration} projects synced one at a time`);
    const soloFirst = await solo('first syncs');
    const soloAgain = await solo('unchanged re-syncs');

    // CPU of everything else involved: our database's Postgres backends (and the server's helpers),
    // the Redis server (shared with whatever else uses it), the simulator, and the whole machine.
    const postgresPattern = new RegExp(
      `^postgres: (.* ${scratch.name} |\\S+: (walwriter|background writer|checkpointer))`,
    );
    const snapshot = () => ({
      postgres: cpuOfProcesses(postgresPattern),
      redis: cpuOfProcesses(/^redis-server /),
      simulator: procCpuMs(simulator.child.pid),
      bench: process.cpuUsage(),
      machine: machineCpu(),
    });
    const profiles: Record<string, ProfileSummary> = {};

    const pass = async (label: string, slug: string): Promise<PassResult> => {
      ctx.progress(`${label}: enqueuing ${fleetSize} projects at once`);
      if (ctx.args.cpuProf) await sendAndWait(worker, { type: 'profile-start' }, 'profile-started');
      const before = await sendAndWait(worker, { type: 'mark' }, 'mark');
      const others = snapshot();
      const start = process.hrtime.bigint();
      await Promise.all(fleet.map((p) => enqueueSync(handle.queue, p.id, 'manual')));
      done += fleetSize;
      await waitForCompleted(worker, done, 300_000, label);
      const wallMs = msSince(start);
      const after = await sendAndWait(worker, { type: 'mark' }, 'mark');
      const othersAfter = snapshot();
      if (ctx.args.cpuProf) {
        mkdirSync(ctx.args.outDir, { recursive: true });
        const file = path.resolve(ctx.args.outDir, `fleet-worker-${slug}.cpuprofile`);
        await sendAndWait(worker, { type: 'profile-stop', file }, 'profile-stopped');
        profiles[label] = summariseProfile(file);
      }
      return {
        label,
        syncs: after.jobs.length,
        failed: after.failed - before.failed,
        wallMs,
        throughput: (after.jobs.length / wallMs) * 1000,
        jobs: after.jobs,
        workerEventLoopBusy:
          (after.elu.active - before.elu.active) /
          (after.elu.active + after.elu.idle - before.elu.active - before.elu.idle),
        workerSystemCpuMs: (after.cpu.system - before.cpu.system) / 1000,
        workerInvoluntarySwitches: after.switches.involuntary - before.switches.involuntary,
        workerVoluntarySwitches: after.switches.voluntary - before.switches.voluntary,
        workerCpuMs: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000,
        simulatorCpuMs: othersAfter.simulator - others.simulator,
        postgresCpuMs: cpuDelta(others.postgres, othersAfter.postgres),
        redisCpuMs: cpuDelta(others.redis, othersAfter.redis),
        benchCpuMs:
          (othersAfter.bench.user + othersAfter.bench.system - others.bench.user - others.bench.system) /
          1000,
        machineBusyMs: othersAfter.machine.busyMs - others.machine.busyMs,
        machineTotalMs:
          othersAfter.machine.busyMs +
          othersAfter.machine.idleMs -
          others.machine.busyMs -
          others.machine.idleMs,
      };
    };
    const first = await pass('first syncs', 'first');
    // A first sync happens once per project; the unchanged pass can be repeated, and its median taken.
    const resyncPasses = ctx.quick ? 1 : 3;
    const agains: PassResult[] = [];
    for (let i = 0; i < resyncPasses; i++) {
      const again = await pass(
        `unchanged re-syncs${resyncPasses > 1 ? ` (run ${i + 1}/${resyncPasses})` : ''}`,
        i === 0 ? 'resync' : `resync-${i + 1}`,
      );
      if (again.jobs.some((j) => !j.unchanged))
        throw new Error('an unchanged re-sync of the fleet wrote changes');
      agains.push(again);
    }
    const peak = await sendAndWait(worker, { type: 'mark' }, 'mark');
    const peakRssMiB = peak.maxRssKiB / 1024;

    ctx.progress('stopping the fleet worker (SIGTERM)');
    await worker.stop(30_000);

    // The real `catalog-sync worker --processes N`, N = 1 and N = cores, each on a fleet of its own:
    // first syncs, then unchanged re-syncs, all enqueued at once; jobs counted from the group's
    // aggregated /metrics, CPU and memory of every process of the group from /proc.
    const groupCounts = cores > 1 ? [1, cores] : [1];
    const groupRows: Array<{
      processes: number;
      label: string;
      syncs: number;
      wallMs: number;
      throughput: number;
      cpuPerSync: number;
      machineBound: number;
      ratio: number;
      idleRssMiB: number;
      peakRssMiB: number;
    }> = [];
    for (const [i, processes] of groupCounts.entries()) {
      const ids = groupFleets[i]!.map((p) => p.id);
      ctx.progress(`starting catalog-sync worker --processes ${processes}`);
      const group = await startWorkerGroup(ctx.cleanup, processes, benchEnv(overrides));
      // Idle: started, connected, nothing to do yet.
      await new Promise((r) => setTimeout(r, 1_000));
      const idleRss = Math.max(...group.rssMiB());
      for (const label of ['first syncs', 'unchanged re-syncs']) {
        ctx.progress(`--processes ${processes}, ${label}: enqueuing ${ids.length} projects at once`);
        const before = await group.finishedJobs();
        const cpuBefore = group.cpuMs();
        const others = snapshot();
        const since = await databaseNow(database.db);
        await Promise.all(ids.map((id) => enqueueSync(handle.queue, id, 'manual')));
        const what = `--processes ${processes} ${label}`;
        const { wallMs } = await waitForRuns(database.db, since, ids, 300_000, what);
        // The group's /metrics must count every job of every process (the supervisor's aggregation).
        const counted = (await group.finishedJobs()) - before;
        if (counted < ids.length)
          throw new Error(`${what}: /metrics counted ${counted} of ${ids.length} jobs`);
        const groupCpu = group.cpuMs() - cpuBefore;
        const after = snapshot();
        const othersCpu =
          after.simulator -
          others.simulator +
          cpuDelta(others.postgres, after.postgres) +
          cpuDelta(others.redis, after.redis) +
          (after.bench.user + after.bench.system - others.bench.user - others.bench.system) / 1000;
        const syncs = ids.length;
        const machineBound = (cores * 1000 * syncs) / (groupCpu + othersCpu);
        const throughput = (syncs / wallMs) * 1000;
        groupRows.push({
          processes,
          label,
          syncs,
          wallMs,
          throughput,
          cpuPerSync: groupCpu / syncs,
          machineBound,
          ratio: throughput / machineBound,
          idleRssMiB: idleRss,
          peakRssMiB: Math.max(...group.peakRssMiB()),
        });
      }
      ctx.progress(`stopping --processes ${processes} (SIGTERM)`);
      await group.stop();
    }

    // Redis memory per scheduled project: every fleet project gets a 6-hourly schedule.
    ctx.progress('scheduling every project (6h) and measuring Redis memory');
    const memoryBefore = await usedMemory(probe);
    await database.db.execute(
      sql`update projects set schedule_every_seconds = 21600, schedule_updated_at = now() where id like 'fleet-%'`,
    );
    const reconciled = await reconcileSchedules(serviceContext(database, config), handle);
    const memoryPerProject = ((await usedMemory(probe)) - memoryBefore) / Math.max(1, reconciled.upserted);

    await simulator.child.stop();

    const summarise = (p: PassResult, soloLatencies: number[]) => {
      const processing = p.jobs.map((j) => j.finishedOn - j.processedOn);
      const soloMs = median(soloLatencies);
      const cpuPerSync = p.workerCpuMs / p.syncs;
      const latencyBound = (CONCURRENCY / soloMs) * 1000;
      const cpuBound = (cores / cpuPerSync) * 1000;
      const bound = Math.min(latencyBound, cpuBound);
      return {
        ...p,
        soloMs,
        meanMs: mean(processing),
        p50: percentile(processing, 50),
        p95: percentile(processing, 95),
        syncP50: percentile(
          p.jobs.map((j) => j.syncMs),
          50,
        ),
        cpuPerSync,
        latencyBound,
        cpuBound,
        oneCoreBound: (1 / cpuPerSync) * 1000,
        bound,
        boundBy: latencyBound <= cpuBound ? 'latency' : 'CPU',
        ratio: p.throughput / bound,
        simCpuPerSync: p.simulatorCpuMs / p.syncs,
        postgresCpuPerSync: p.postgresCpuMs / p.syncs,
        redisCpuPerSync: p.redisCpuMs / p.syncs,
        benchCpuPerSync: p.benchCpuMs / p.syncs,
        // Clamped: /proc counts in 10 ms ticks, so on a quiet machine the remainder can dip below 0.
        otherCpuPerSync: Math.max(
          0,
          (p.machineBusyMs -
            p.workerCpuMs -
            p.simulatorCpuMs -
            p.postgresCpuMs -
            p.redisCpuMs -
            p.benchCpuMs) /
            p.syncs,
        ),
        machineBusy: p.machineBusyMs / p.machineTotalMs,
        /** The ceiling when every core goes to this workload: cores ÷ CPU per sync of all its processes. */
        machineBound:
          (cores * 1000 * p.syncs) /
          (p.workerCpuMs + p.simulatorCpuMs + p.postgresCpuMs + p.redisCpuMs + p.benchCpuMs),
      };
    };
    const againRuns = agains.map((p) => summarise(p, soloAgain));
    const medianRun = [...againRuns].sort((x, y) => x.throughput - y.throughput)[
      Math.floor(againRuns.length / 2)
    ]!;
    const passes = [
      summarise(first, soloFirst),
      {
        ...medianRun,
        label:
          againRuns.length > 1 ? `unchanged re-syncs (median of ${againRuns.length})` : 'unchanged re-syncs',
      },
    ];
    const unchangedCpu = median(againRuns.map((p) => p.cpuPerSync));
    const table: ResultTable = {
      title: `${fleetSize.toLocaleString('en-US')} projects × 100 products, all enqueued at once; worker concurrency ${CONCURRENCY}, ${cores} cores`,
      columns: [
        'pass',
        'syncs',
        'failed',
        'wall s',
        'syncs/s',
        'solo latency ms',
        'latency bound/s',
        'CPU bound/s',
        'bound/s',
        '% of bound',
        'p50 ms',
        'p95 ms',
      ],
      rows: passes.map((p) => [
        p.label,
        p.syncs,
        p.failed,
        round(p.wallMs / 1000, 1),
        round(p.throughput, 1),
        round(p.soloMs, 0),
        round(p.latencyBound, 0),
        round(p.cpuBound, 0),
        `${round(p.bound, 0)} (${p.boundBy})`,
        `${round(p.ratio * 100, 0)}%`,
        round(p.p50, 0),
        round(p.p95, 0),
      ]),
    };
    const cpuTable: ResultTable = {
      title: 'CPU ms per sync, by process, over each pass (the machine has ' + `${cores} cores)`,
      columns: [
        'pass',
        'worker (of which kernel)',
        'simulator',
        'postgres',
        'redis',
        'enqueuer',
        'other',
        'worker JS thread busy',
        'machine busy',
        'machine bound/s',
        '% of it',
      ],
      rows: passes.map((p) => [
        p.label,
        `${round(p.cpuPerSync, 2)} (${round(p.workerSystemCpuMs / p.syncs, 2)})`,
        round(p.simCpuPerSync, 2),
        round(p.postgresCpuPerSync, 2),
        round(p.redisCpuPerSync, 2),
        round(p.benchCpuPerSync, 2),
        round(p.otherCpuPerSync, 2),
        `${round(p.workerEventLoopBusy * 100, 0)}%`,
        `${round(p.machineBusy * 100, 0)}%`,
        round(p.machineBound, 0),
        `${round((p.throughput / p.machineBound) * 100, 0)}%`,
      ]),
    };
    const single = (label: string) => groupRows.find((r) => r.processes === 1 && r.label === label);
    const groupTable: ResultTable = {
      title: `catalog-sync worker --processes N (the real CLI), ${fleetSize} projects per run, concurrency ${CONCURRENCY} per process`,
      columns: [
        'processes',
        'pass',
        'syncs/s',
        '× one process',
        'group CPU ms/sync',
        'machine bound/s',
        '% of it',
        'idle RSS MiB/process',
        'peak RSS MiB/process',
      ],
      rows: groupRows.map((r) => [
        r.processes,
        r.label,
        round(r.throughput, 1),
        round(r.throughput / (single(r.label)?.throughput ?? r.throughput), 2),
        round(r.cpuPerSync, 2),
        round(r.machineBound, 0),
        `${round(r.ratio * 100, 0)}%`,
        round(r.idleRssMiB, 0),
        round(r.peakRssMiB, 0),
      ]),
    };
    const [f, a] = passes as [(typeof passes)[0], (typeof passes)[0]];
    const targets: TargetCheck[] = [
      ...passes.map(
        (p): TargetCheck => ({
          name: `${p.label}: throughput ≥ 80% of the bound`,
          target: `≥ ${round(0.8 * p.bound, 1)} syncs/s`,
          actual: `${round(p.throughput, 1)} syncs/s (${round(p.ratio * 100, 0)}%)`,
          met: p.ratio >= 0.8,
          ...(p.ratio < 0.8
            ? {
                note: `short by ${round(0.8 * p.bound - p.throughput, 1)} syncs/s; bound set by ${p.boundBy}`,
              }
            : {}),
        }),
      ),
      {
        name: 'worker CPU per unchanged 100-product sync',
        // The target (the first round's was < 10 ms).
        target: '≤ 5 ms',
        actual:
          `${round(unchangedCpu, 2)} ms` +
          (againRuns.length > 1
            ? ` (median; runs ${againRuns.map((p) => round(p.cpuPerSync, 2)).join(', ')})`
            : ''),
        met: unchangedCpu <= 5,
        ...(unchangedCpu > 5 ? { note: `over by ${round(unchangedCpu - 5, 2)} ms` } : {}),
      },
      ...groupRows
        .filter((r) => r.processes === cores && cores > 1)
        .map(
          (r): TargetCheck => ({
            name: `--processes ${cores}, ${r.label}: ≥ 80% of the machine bound`,
            target: `≥ ${round(0.8 * r.machineBound, 1)} syncs/s`,
            actual: `${round(r.throughput, 1)} syncs/s (${round(r.ratio * 100, 0)}%; ${round(r.throughput / (single(r.label)?.throughput ?? r.throughput), 2)}× one process)`,
            met: r.ratio >= 0.8,
          }),
        ),
      ...groupRows.map(
        (r): TargetCheck => ({
          name: `--processes ${r.processes}, ${r.label}: RSS per process`,
          target: 'idle ≤ 150 MiB, peak ≤ 250 MiB',
          actual: `idle ${round(r.idleRssMiB, 0)} MiB, peak ${round(r.peakRssMiB, 0)} MiB`,
          met: r.idleRssMiB <= 150 && r.peakRssMiB <= 250,
        }),
      ),
      {
        name: 'no failed syncs',
        target: '0',
        actual: String(f.failed + againRuns.reduce((sum, p) => sum + p.failed, 0)),
        met: f.failed + againRuns.reduce((sum, p) => sum + p.failed, 0) === 0,
      },
    ];
    const notes = [
      `Worker peak RSS ${round(peakRssMiB, 0)} MiB. Redis memory per scheduled project ${round(memoryPerProject, 0)} bytes ` +
        `(INFO used_memory before/after reconciling ${reconciled.upserted} schedules). Worker context switches ` +
        `per sync (voluntary / involuntary, i.e. preempted while runnable): ` +
        passes
          .map(
            (p) =>
              `${p.label} ${round(p.workerVoluntarySwitches / p.syncs, 1)} / ` +
              `${round(p.workerInvoluntarySwitches / p.syncs, 1)}`,
          )
          .join(', ') +
        '.',
      `"solo latency" = median job time (BullMQ processedOn → finishedOn) of ${calibration} projects synced one at a ` +
        `time in this run; latency bound = ${CONCURRENCY} ÷ solo latency; CPU bound = ${cores} cores ÷ worker CPU per ` +
        `sync (process.cpuUsage over the pass). One Node process runs its JavaScript on one core: the one-core ` +
        `bounds are ${round(f.oneCoreBound, 0)} and ${round(a.oneCoreBound, 0)} syncs/s.`,
      '"machine busy" = all processes on the machine during the pass (/proc/stat); "postgres" = the backends of this ' +
        'run’s database and the server’s writers; "redis" = the whole Redis server; "enqueuer" = this benchmark’s ' +
        'process (enqueuing, polling); "other" = the rest of the machine’s busy time (kernel, anything else running). ' +
        '"machine bound" = cores ÷ CPU per sync of worker + simulator + Postgres + Redis + enqueuer: the ceiling ' +
        'when they all share this machine. "worker JS thread busy" = event-loop utilisation of the worker ' +
        '(near 100%: its one JavaScript thread is the bottleneck).',
    ];
    for (const [label, profile] of Object.entries(profiles)) {
      notes.push(
        `Worker CPU profile of the ${label} (${round(profile.totalMs, 0)} ms sampled; profiling slows the run), ` +
          'self time by area: ' +
          profile.byArea
            .slice(0, 8)
            .map((x) => `${x.area} ${round(x.share * 100, 0)}%`)
            .join(', ') +
          '; top functions: ' +
          profile.byFunction
            .slice(0, 5)
            .map((x) => `${x.fn} (${x.area}) ${round(x.share * 100, 0)}%`)
            .join(', '),
      );
    }
    return {
      tables: [table, cpuTable, groupTable],
      targets,
      notes,
      data: {
        fleetSize,
        concurrency: CONCURRENCY,
        latencyMs: LATENCY_MS,
        cores,
        passes: [passes[0]!, ...againRuns].map(({ jobs, ...rest }) => ({
          ...rest,
          processingMs: jobs.map((j) => j.finishedOn - j.processedOn),
        })),
        soloFirst,
        soloAgain,
        peakRssMiB,
        memoryPerProject,
        reconciled,
        profiles,
        groups: groupRows,
      },
    } satisfies ScenarioResult;
  },
};
