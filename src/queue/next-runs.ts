import type { QueueRedis } from './connection.ts';
import { queueKey } from './connection.ts';
import { scheduleId } from './contract.ts';

/**
 * When each project's periodic sync runs next, as BullMQ planned it: milliseconds since the epoch,
 * or null when Redis holds no scheduler for the project. BullMQ keeps its job schedulers in one
 * sorted set (`<prefix>:catalog-sync:repeat`) scored by their next run, so one ZMSCORE answers for
 * any number of projects, without BullMQ (the `schedules` command and the console read it so).
 */
export async function readNextRuns(
  target: QueueRedis,
  projectIds: readonly string[],
): Promise<Map<string, number | null>> {
  const runs = new Map<string, number | null>();
  if (projectIds.length === 0) return runs;
  const scores = await target.redis.zmscore(queueKey(target.prefix, 'repeat'), ...projectIds.map(scheduleId));
  projectIds.forEach((id, i) => {
    const score = scores[i];
    runs.set(id, score === null || score === undefined ? null : Number(score));
  });
  return runs;
}
