import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { scheduleId } from '../../../src/queue/contract.ts';
import { openQueue } from '../../../src/queue/queue.ts';
import { reconcileSchedules } from '../../../src/queue/schedules.ts';
import { benchConfig, openBenchDatabase, serviceContext } from '../lib/context.ts';
import {
  callDeltas,
  deleteKeys,
  fingerprint,
  fingerprintDiff,
  openBenchRedis,
  tallyCommands,
  usedMemory,
  writeCounters,
} from '../lib/redis.ts';
import type { ResultTable, ScenarioResult, TargetCheck } from '../lib/report.ts';
import type { Scenario } from '../lib/scenario.ts';
import { createScratchDatabase } from '../lib/services.ts';
import { median, round, timed } from '../lib/stats.ts';

/*
 * Scenario 5: N project schedules in Postgres reconciled into BullMQ job schedulers in Redis,
 * from an empty Redis and from one already reconciled (which must write nothing), plus a
 * reconcile after 1% of the schedules changed.
 *
 * Writes are counted three ways: client-side (every command the reconciling connection sent,
 * scripts by name), server-side (`rdb_changes_since_last_save`, global to the server, so other
 * clients' writes can leak in), and a DUMP fingerprint of every key under our prefix (exact for
 * our keys, blind to a rewrite of the same value).
 */

const WRITE_COMMANDS = new Set([
  'set',
  'del',
  'unlink',
  'hset',
  'hmset',
  'hdel',
  'zadd',
  'zrem',
  'lpush',
  'rpush',
  'lrem',
  'xadd',
  'expire',
  'pexpire',
  'incr',
  'incrby',
  // The lock release (a script that deletes the key).
  'eval',
]);

function writesOf(tally: Record<string, number>): number {
  return Object.entries(tally)
    .filter(
      ([name]) => WRITE_COMMANDS.has(name) || (name.startsWith('script:') && !/^script:get/i.test(name)),
    )
    .reduce((sum, [, n]) => sum + n, 0);
}

export const schedulerScenario: Scenario = {
  id: 5,
  key: 'scheduler',
  title: 'Scheduler scale: project schedules reconciled from Postgres into Redis',
  async run(ctx) {
    const count = ctx.quick ? 1_000 : 10_000;
    const emptyRuns = ctx.quick ? 1 : 3;
    const idleRuns = ctx.quick ? 3 : 5;
    const prefix = `csbench-${ctx.services.runId}-sched`;
    const scratch = await createScratchDatabase(ctx.services, ctx.cleanup, 'sched');
    const config = benchConfig({
      DATABASE_URL: scratch.url,
      REDIS_URL: ctx.services.redisUrl,
      REDIS_PREFIX: prefix,
    });
    const database = await openBenchDatabase(ctx.cleanup, scratch.url);
    const service = serviceContext(database, config);
    const probe = openBenchRedis(ctx.services.redisUrl, prefix, ctx.cleanup);

    ctx.progress(`inserting ${count} scheduled projects (every 6h, one in ten by cron)`);
    await database.db.execute(sql`
      insert into projects (id, schedule_every_seconds, schedule_cron, schedule_updated_at)
      select 'sched-' || lpad(g::text, 5, '0'),
             case when g % 10 = 0 then null else 21600 end,
             case when g % 10 = 0 then '0 */6 * * *' end,
             now()
      from generate_series(1, ${count}) as g`);

    const handle = await openQueue(config);
    ctx.cleanup.defer('close queue', () => handle.close());
    const tally = tallyCommands(handle.redis as Redis); // the bench runs on one server

    const measure = async () => {
      tally.reset();
      const before = await writeCounters(probe);
      const { value, ms } = await timed(() => reconcileSchedules(service, handle));
      const after = await writeCounters(probe);
      const sent = tally.snapshot();
      return {
        ms,
        result: value,
        commandsSent: tally.total(),
        writeCommandsSent: writesOf(sent),
        sent,
        serverWrites: after.dirty - before.dirty,
        serverCalls: callDeltas(before.calls, after.calls),
      };
    };

    // From empty: several runs, each after deleting every key under the prefix.
    const fromEmpty: Awaited<ReturnType<typeof measure>>[] = [];
    let memoryPerSchedule = Number.NaN;
    for (let run = 0; run < emptyRuns; run++) {
      await deleteKeys(probe, `${prefix}:*`);
      const memBefore = await usedMemory(probe);
      ctx.progress(`reconcile from empty, run ${run + 1}/${emptyRuns}`);
      fromEmpty.push(await measure());
      memoryPerSchedule = ((await usedMemory(probe)) - memBefore) / count;
    }
    const schedulers = await handle.queue.getJobSchedulersCount();

    // Already reconciled: must write nothing under our prefix.
    const idle: (Awaited<ReturnType<typeof measure>> & { keysChanged: number })[] = [];
    for (let run = 0; run < idleRuns; run++) {
      ctx.progress(`reconcile when already reconciled, run ${run + 1}/${idleRuns}`);
      const before = await fingerprint(probe, prefix);
      const m = await measure();
      const diff = fingerprintDiff(before, await fingerprint(probe, prefix));
      idle.push({ ...m, keysChanged: diff.added + diff.removed + diff.changed });
    }

    // 1% of the schedules change in Postgres (new interval): exactly those are rewritten.
    const changed = Math.max(1, Math.round(count / 100));
    await database.db.execute(sql`
      update projects set schedule_every_seconds = 3600, schedule_cron = null, schedule_updated_at = now()
      where id in (select id from projects order by id limit ${changed})`);
    ctx.progress(`reconcile after ${changed} schedules changed`);
    const afterChange = await measure();

    const row = (label: string, runs: Awaited<ReturnType<typeof measure>>[], keysChanged?: number) => {
      const last = runs[runs.length - 1]!;
      return [
        label,
        runs.length,
        round(median(runs.map((r) => r.ms)), 0),
        last.result.upserted,
        last.result.removed,
        last.result.unchanged,
        last.commandsSent,
        last.writeCommandsSent,
        last.serverWrites,
        keysChanged ?? null,
      ];
    };
    const table: ResultTable = {
      title: `Reconciling ${count.toLocaleString('en-US')} schedules (time = median of runs; counts from the last run)`,
      columns: [
        'case',
        'runs',
        'time ms',
        'upserted',
        'removed',
        'unchanged',
        'commands sent',
        'write cmds sent',
        'server writes',
        'keys changed',
      ],
      rows: [
        row('from empty Redis', fromEmpty),
        row('already reconciled', idle, Math.max(...idle.map((r) => r.keysChanged))),
        row(`after ${changed} changed (1%)`, [afterChange]),
      ],
    };
    const idleLast = idle[idle.length - 1]!;
    const idleWrites = Math.max(...idle.map((r) => r.writeCommandsSent));
    const targets: TargetCheck[] = [
      {
        name: 'from empty: every schedule in Redis',
        target: `${count} schedulers`,
        actual: `${schedulers}`,
        met: schedulers === count,
      },
      {
        name: 'already reconciled: no writes',
        target: 'only the lock (≤ 2 writes)',
        actual:
          `${idleLast.result.upserted} upserts, ${idleWrites} write commands ` +
          `(lock set + release), ${Math.max(...idle.map((r) => r.keysChanged))} keys changed`,
        met: idle.every(
          (r) =>
            r.result.upserted === 0 &&
            r.result.removed === 0 &&
            r.keysChanged === 0 &&
            r.writeCommandsSent <= 2,
        ),
      },
      {
        name: '1% changed: only those rewritten',
        target: `${changed} upserts`,
        actual: `${afterChange.result.upserted}`,
        met: afterChange.result.upserted === changed,
      },
    ];
    return {
      tables: [table],
      targets,
      notes: [
        `Redis memory per scheduled project: ${round(memoryPerSchedule, 0)} bytes (INFO used_memory delta ÷ ${count}).`,
        '"server writes" is rdb_changes_since_last_save, global to the Redis server: other clients running at the ' +
          'same time add to it. "keys changed" compares a DUMP of every key under the prefix before and after.',
        `A scheduler id is ${scheduleId('<project>')}; the reconcile holds a short Redis lock (SET NX, then a ` +
          'release script), which is the only write of an already-reconciled run.',
      ],
      data: { count, fromEmpty, idle, afterChange, schedulers, memoryPerSchedule },
    } satisfies ScenarioResult;
  },
};
