import type { ServiceContext } from '../src/context.ts';
import { mapPool } from '../src/queue/pool.ts';
import { enqueueSync } from '../src/queue/producer.ts';
import type { CatalogQueue } from '../src/queue/queue.ts';
import { pendingSyncRequests } from '../src/queue/requests.ts';

/*
 * Sync requests survive a Redis that lost its data (issue 11): every producer records a request
 * in Postgres before adding the job (producer.ts), and workers re-enqueue every pending one at
 * start-up, whenever their Redis connection becomes ready again, and periodically. The add is
 * deduplicated per project, so a request whose job Redis still holds adds nothing; one whose job
 * is running adds exactly one follow-up (harmless: a second sync of an unchanged catalog writes
 * nothing).
 */

export interface RequeueResult {
  pending: number;
  added: number;
}

export async function requeuePendingSyncs(ctx: ServiceContext, queue: CatalogQueue): Promise<RequeueResult> {
  const pending = await pendingSyncRequests(ctx.db);
  const outcomes = await mapPool(pending, 64, (request) =>
    enqueueSync(queue, request.projectId, request.trigger).then((enqueued) => enqueued.outcome),
  );
  const added = outcomes.filter((outcome) => outcome === 'added').length;
  const result = { pending: pending.length, added };
  (added > 0 ? ctx.logger.info : ctx.logger.debug).call(
    ctx.logger,
    result,
    added > 0
      ? 'pending sync requests re-enqueued from Postgres (Redis had lost them)'
      : 'pending sync requests checked',
  );
  return result;
}
