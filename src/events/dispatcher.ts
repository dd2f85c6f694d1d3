import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import { events, webhookDeliveries, webhookDeliveryAttempts, webhookEndpoints } from '../../db/schema.ts';
import type { ServiceContext } from '../context.ts';
import { errorMessage } from '../errors.ts';
import { scrubSecrets } from '../log/logger.ts';
import type { RedisConnection as Redis } from '../queue/redis.ts';
import { announceSettledRuns } from './announce.ts';
import { classifyResponse, nextRetry } from './backoff.ts';
import { emit } from './emit.ts';
import { signingSecrets } from './endpoints.ts';
import { type EventRow, envelopeOf } from './envelope.ts';
import { deliveryRows } from './match.ts';
import { sendWebhook } from './send.ts';

/*
 * The outbox dispatcher, one per worker process. Each round:
 *  1. fan-out: events not yet fanned out become delivery rows, one per matching endpoint (one
 *     fan-out at a time, under an advisory lock, so delivery rows follow event order);
 *  2. queue (EVENTS_QUEUE): events not yet queued become `catalog-sync-events` jobs, job id =
 *     event id, so a crash between the add and the commit adds nothing twice;
 *  3. deliver: due deliveries are LEASED (`for update skip locked`, attempts + 1, lease_until),
 *     so no two workers send the same attempt; only the oldest pending delivery of each
 *     (endpoint, project) is eligible, so order follows event order; the result is recorded only
 *     if the lease is still ours (same attempt number);
 *  4. now and then, prune what is older than EVENTS_RETENTION_DAYS.
 * A worker killed mid-send leaves a lease that lapses; the attempt is then made again, with the
 * same webhook-id (receivers deduplicate by it: delivery is at least once).
 */

export const EVENTS_QUEUE_NAME = 'catalog-sync-events';
const FANOUT_LOCK = [7_243_013, 1] as const;
const BATCH = 200;
const PRUNE_EVERY_MS = 3_600_000;
/** How often runs a crash left unannounced are looked for (announce.ts). */
const SWEEP_EVERY_MS = 600_000;

export type DeliveryOutcome = 'succeeded' | 'retrying' | 'failed' | 'disabled' | 'cancelled';

export interface DispatcherOptions {
  ctx: ServiceContext;
  /** For the events queue (only used with EVENTS_QUEUE). */
  redis?: Redis | undefined;
  prefix?: string | undefined;
  onDelivery?: ((outcome: DeliveryOutcome) => void) | undefined;
}

export interface Dispatcher {
  /** One round (tests); resolves with whether there was work. */
  round(): Promise<boolean>;
  close(): Promise<void>;
}

async function fanOut(db: Db): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [lock] = rowsOf<{ locked: boolean }>(
      await tx.execute(sql`select pg_try_advisory_xact_lock(${FANOUT_LOCK[0]}, ${FANOUT_LOCK[1]}) as locked`),
    );
    if (!lock?.locked) return false;
    const pending = await tx
      .select({
        id: events.id,
        seq: events.seq,
        type: events.type,
        projectId: events.projectId,
        payload: events.payload,
        createdAt: events.createdAt,
      })
      .from(events)
      .where(sql`${events.fannedOutAt} is null`)
      .orderBy(events.seq)
      .limit(BATCH);
    if (pending.length === 0) return false;
    const endpoints = await tx
      .select({
        id: webhookEndpoints.id,
        projectId: webhookEndpoints.projectId,
        eventTypes: webhookEndpoints.eventTypes,
        createdAt: webhookEndpoints.createdAt,
      })
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.status, 'enabled'));
    // An endpoint gets the events written after it was registered (redeliver reaches older ones).
    const rows = deliveryRows(pending, endpoints, { newOnly: true });
    if (rows.length > 0) await tx.insert(webhookDeliveries).values(rows);
    await tx
      .update(events)
      .set({ fannedOutAt: sql`now()` })
      .where(
        inArray(
          events.id,
          pending.map((e) => e.id),
        ),
      );
    return true;
  });
}

async function enqueue(db: Db, queue: Queue): Promise<boolean> {
  return db.transaction(async (tx) => {
    const pending = rowsOf<EventRow & { created_at: Date; project_id: string | null; project_seq: number }>(
      await tx.execute(sql`
        select id, type, project_id, project_seq, payload, created_at from events
         where queued_at is null and created_at > now() - interval '1 day'
         order by seq limit ${BATCH}
         for update skip locked`),
    );
    if (pending.length === 0) return false;
    await queue.addBulk(
      pending.map((row) => {
        const envelope = envelopeOf({
          ...row,
          projectId: row.project_id,
          projectSeq: row.project_seq,
          createdAt: row.created_at,
        });
        return { name: row.type, data: envelope, opts: { jobId: row.id } };
      }),
    );
    await tx.execute(
      sql`update events set queued_at = now() where id in (${sql.join(
        pending.map((p) => sql`${p.id}`),
        sql`, `,
      )})`,
    );
    return true;
  });
}

interface Leased {
  id: number;
  event_id: string;
  endpoint_id: string;
  attempts: number;
}

/**
 * Takes due deliveries. Order per (endpoint, project) without stalling: a delivery waits while an
 * earlier pending one of its endpoint and project still holds it — one not yet failing, or failing
 * for less than `holdMs`. An earlier one failing longer stops holding: the later ones go out and it
 * keeps retrying on its own schedule (the envelope's `sequence` lets the receiver re-order).
 */
async function lease(db: Db, limit: number, leaseMs: number, holdMs: number): Promise<Leased[]> {
  return rowsOf<Leased>(
    await db.execute(sql`
      with due as (
        select d.id from webhook_deliveries d
         where d.status = 'pending' and d.next_attempt_at <= now()
           and (d.lease_until is null or d.lease_until < now())
           and not exists (
             select 1 from webhook_deliveries p
              where p.endpoint_id = d.endpoint_id
                and p.project_id is not distinct from d.project_id
                and p.status = 'pending'
                and (p.event_seq < d.event_seq or (p.event_seq = d.event_seq and p.id < d.id))
                and (p.failing_since is null
                     or p.failing_since > now() - make_interval(secs => ${holdMs / 1000})))
         order by d.next_attempt_at, d.event_seq
         limit ${limit}
         for update of d skip locked)
      update webhook_deliveries w
         set attempts = w.attempts + 1, lease_until = now() + make_interval(secs => ${leaseMs / 1000})
        from due where w.id = due.id
      returning w.id, w.event_id, w.endpoint_id, w.attempts`),
  );
}

export function startDispatcher(options: DispatcherOptions): Dispatcher {
  const { ctx } = options;
  const { config } = ctx;
  const logger = ctx.logger.child({ component: 'events-dispatcher' });
  const queue =
    config.events.queue && options.redis
      ? new Queue(EVENTS_QUEUE_NAME, {
          connection: options.redis,
          prefix: options.prefix ?? config.redis.prefix,
          defaultJobOptions: {
            removeOnComplete: { age: 7 * 86_400, count: 10_000 },
            removeOnFail: { age: 30 * 86_400, count: 10_000 },
          },
        })
      : undefined;
  queue?.on('error', () => {});
  // Longer than one whole attempt (the request is bounded by the timeout) plus recording it.
  const leaseMs = 2 * config.webhooks.timeoutMs + 5_000;
  const policy = {
    allowHttpLoopback: config.webhooks.allowHttpLoopback,
    allowPrivateAddresses: config.webhooks.allowPrivateAddresses,
  };
  let lastPrune = 0;
  let lastSweep = 0;

  async function record(
    delivery: Leased,
    outcome: DeliveryOutcome,
    result: {
      statusCode?: number | undefined;
      latencyMs: number;
      excerpt: string | null;
      error: string | null;
    },
    endpoint: typeof webhookEndpoints.$inferSelect | undefined,
  ): Promise<DeliveryOutcome> {
    return ctx.db.transaction(async (tx) => {
      let final = outcome;
      let nextAttemptAt: Date | null = null;
      let failingSince: Date | null = endpoint?.failingSince ?? null;
      const now = new Date();
      let disableReason: string | null = null;
      if (outcome === 'retrying') {
        failingSince ??= now;
        if (
          config.webhooks.disableAfterMs > 0 &&
          now.getTime() - failingSince.getTime() >= config.webhooks.disableAfterMs
        ) {
          final = 'disabled';
          disableReason = `failing since ${failingSince.toISOString()} without a successful delivery`;
        } else {
          const retry = nextRetry(delivery.attempts, config.webhooks.retryScheduleMs);
          if (retry.retry) nextAttemptAt = new Date(now.getTime() + retry.delayMs);
          else final = 'failed';
        }
      }
      if (outcome === 'disabled') disableReason = `the endpoint answered 410 Gone`;
      const status =
        final === 'succeeded'
          ? 'succeeded'
          : final === 'retrying'
            ? 'pending'
            : final === 'cancelled'
              ? 'cancelled'
              : 'failed';
      const lastError = describeFailure(outcome, final, result);
      const updated = await tx
        .update(webhookDeliveries)
        .set({
          status,
          nextAttemptAt: nextAttemptAt ?? sql`${webhookDeliveries.nextAttemptAt}`,
          leaseUntil: null,
          lastStatusCode: result.statusCode ?? null,
          lastError,
          completedAt: status === 'pending' ? null : now,
          // Since when this event has been failing: past the hold it stops holding later ones.
          failingSince:
            final === 'succeeded'
              ? null
              : sql`coalesce(${webhookDeliveries.failingSince}, ${now.toISOString()}::timestamptz)`,
        })
        .where(
          and(
            eq(webhookDeliveries.id, delivery.id),
            eq(webhookDeliveries.attempts, delivery.attempts),
            eq(webhookDeliveries.status, 'pending'),
          ),
        )
        .returning({ id: webhookDeliveries.id });
      if (updated.length === 0) return 'cancelled'; // the lease lapsed and another worker took over
      await tx.insert(webhookDeliveryAttempts).values({
        deliveryId: delivery.id,
        eventId: delivery.event_id,
        endpointId: delivery.endpoint_id,
        attempt: delivery.attempts,
        outcome: final,
        statusCode: result.statusCode ?? null,
        latencyMs: result.latencyMs,
        responseExcerpt: result.excerpt,
        error: lastError,
      });
      if (!endpoint) return final;
      if (final === 'succeeded') {
        if (endpoint.failingSince) {
          await tx
            .update(webhookEndpoints)
            .set({ failingSince: null })
            .where(eq(webhookEndpoints.id, endpoint.id));
        }
      } else if (final === 'disabled' && disableReason) {
        await disableEndpoint(tx, endpoint, disableReason, failingSince);
      } else if (!endpoint.failingSince && final !== 'cancelled') {
        await tx
          .update(webhookEndpoints)
          .set({ failingSince: now })
          .where(eq(webhookEndpoints.id, endpoint.id));
      }
      return final;
    });
  }

  async function deliverOne(delivery: Leased): Promise<void> {
    let outcome: DeliveryOutcome;
    try {
      const [eventRow] = await ctx.db.select().from(events).where(eq(events.id, delivery.event_id));
      const [endpoint] = await ctx.db
        .select()
        .from(webhookEndpoints)
        .where(eq(webhookEndpoints.id, delivery.endpoint_id));
      if (!eventRow || !endpoint || endpoint.status !== 'enabled') {
        outcome = await record(
          delivery,
          'cancelled',
          { latencyMs: 0, excerpt: null, error: 'endpoint disabled or removed' },
          endpoint,
        );
      } else {
        const body = JSON.stringify(envelopeOf(eventRow));
        const result = await sendWebhook({
          url: endpoint.url,
          msgId: eventRow.id,
          body,
          secrets: await signingSecrets(config, endpoint),
          timeoutMs: config.webhooks.timeoutMs,
          policy,
        });
        const verdict = classifyResponse(result.statusCode);
        outcome = await record(
          delivery,
          verdict === 'succeeded' ? 'succeeded' : verdict === 'disable' ? 'disabled' : 'retrying',
          result,
          endpoint,
        );
        const fields = {
          eventId: eventRow.id,
          eventType: eventRow.type,
          endpointId: endpoint.id,
          attempt: delivery.attempts,
          statusCode: result.statusCode ?? null,
          latencyMs: result.latencyMs,
          outcome,
        };
        if (outcome === 'succeeded') logger.info(fields, 'webhook delivered');
        else logger.warn({ ...fields, error: result.error }, 'webhook delivery failed: %s', outcome);
      }
    } catch (error) {
      // Nothing recorded: the lease lapses and the attempt is made again.
      logger.error(
        { deliveryId: delivery.id, error: scrubSecrets(errorMessage(error)) },
        'webhook delivery errored',
      );
      return;
    }
    options.onDelivery?.(outcome);
  }

  async function prune(): Promise<void> {
    const days = config.events.retentionDays;
    await ctx.db.execute(
      sql`delete from webhook_delivery_attempts where attempted_at < now() - make_interval(days => ${days})`,
    );
    await ctx.db.execute(sql`
      delete from webhook_deliveries
       where status <> 'pending' and completed_at < now() - make_interval(days => ${days})`);
    await ctx.db.execute(sql`
      delete from events e
       where e.created_at < now() - make_interval(days => ${days}) and e.fanned_out_at is not null
         and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and d.status = 'pending')`);
  }

  /** One step of a round; a failing step (Redis down for the queue, say) does not stop the others. */
  async function attempt(step: string, body: () => Promise<boolean>): Promise<boolean> {
    try {
      return await body();
    } catch (error) {
      logger.error(
        { step, error: scrubSecrets(errorMessage(error)) },
        'events dispatch step failed; trying again',
      );
      return false;
    }
  }

  async function round(): Promise<boolean> {
    let work = await attempt('fan-out', () => fanOut(ctx.db));
    if (queue) work = (await attempt('queue', () => enqueue(ctx.db, queue))) || work;
    work =
      (await attempt('deliver', async () => {
        const leased = await lease(
          ctx.db,
          config.events.dispatchConcurrency,
          leaseMs,
          config.webhooks.orderHoldMs,
        );
        await Promise.all(leased.map(deliverOne));
        return leased.length > 0;
      })) || work;
    if (Date.now() - lastSweep > SWEEP_EVERY_MS) {
      lastSweep = Date.now();
      work = (await attempt('announce', async () => (await announceSettledRuns(ctx.db)) > 0)) || work;
    }
    if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      await attempt('prune', async () => {
        await prune();
        return false;
      });
    }
    return work;
  }

  const stop = new AbortController();
  const loop = (async () => {
    while (!stop.signal.aborted) {
      let work = false;
      try {
        work = await round();
      } catch (error) {
        logger.error(
          { error: scrubSecrets(errorMessage(error)) },
          'events dispatch round failed; trying again',
        );
      }
      if (!work)
        await sleep(config.events.dispatchIntervalMs, undefined, { signal: stop.signal }).catch(() => {});
    }
  })();
  logger.info(
    { queue: Boolean(queue), intervalMs: config.events.dispatchIntervalMs },
    'events dispatcher started',
  );

  return {
    round,
    async close() {
      stop.abort();
      await loop;
      await queue?.close().catch(() => {});
    },
  };
}

/**
 * Disables an endpoint (410, or failing for too long), cancels what it still had pending, and
 * says so with a `webhook.endpoint_disabled` event, all in the caller's transaction.
 */
export async function disableEndpoint(
  tx: Db,
  endpoint: { id: string; url: string; projectId: string | null },
  reason: string,
  failingSince: Date | null,
): Promise<void> {
  const now = new Date();
  await tx
    .update(webhookEndpoints)
    .set({ status: 'disabled', disabledReason: reason, disabledAt: now, updatedAt: now })
    .where(eq(webhookEndpoints.id, endpoint.id));
  await tx
    .update(webhookDeliveries)
    .set({
      status: 'cancelled',
      completedAt: now,
      lastError: `endpoint disabled: ${reason}`,
      leaseUntil: null,
    })
    .where(and(eq(webhookDeliveries.endpointId, endpoint.id), eq(webhookDeliveries.status, 'pending')));
  await emit(tx, {
    type: 'webhook.endpoint_disabled',
    projectId: endpoint.projectId,
    payload: {
      version: 1,
      endpointId: endpoint.id,
      url: withoutQuery(endpoint.url),
      reason,
      failingSince: failingSince ? failingSince.toISOString() : null,
    },
  });
}

/**
 * What went wrong with an attempt, in words, for the delivery log: the transport's error, or the
 * HTTP answer when there was one (a 410 says that it disabled the endpoint).
 */
export function describeFailure(
  outcome: DeliveryOutcome,
  final: DeliveryOutcome,
  result: { statusCode?: number | undefined; error: string | null },
): string | null {
  if (outcome === 'succeeded' || outcome === 'cancelled') return result.error;
  if (result.statusCode === 410)
    return 'the endpoint answered 410 Gone: it was disabled and gets no more events';
  if (result.error) return result.error;
  if (result.statusCode !== undefined) {
    return final === 'disabled'
      ? `answered HTTP ${result.statusCode}; the endpoint was disabled after failing too long`
      : `answered HTTP ${result.statusCode}`;
  }
  return null;
}

/** A URL as safe to show in an event: a query string may carry a receiver's token. */
export function withoutQuery(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

/** Age of the oldest event not yet delivered everywhere (0 when none), for the metrics. */
export async function outboxOldestAgeSeconds(db: Db): Promise<number> {
  const [row] = rowsOf<{ age: number | string | null }>(
    await db.execute(sql`
      select extract(epoch from now() - min(t))::float8 as age from (
        select min(created_at) as t from events where fanned_out_at is null
        union all
        select min(e.created_at) from webhook_deliveries d join events e on e.id = d.event_id
         where d.status = 'pending') x`),
  );
  return row?.age == null ? 0 : Number(row.age);
}
