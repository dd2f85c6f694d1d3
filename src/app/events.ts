import { and, asc, desc, eq, gt, gte, inArray, lt, sql } from 'drizzle-orm';
import { rowsOf } from '../../db/client.ts';
import { events, webhookDeliveries, webhookDeliveryAttempts, webhookEndpoints } from '../../db/schema.ts';
import { errorMessage, InvalidInputError, NotFoundError } from '../errors.ts';
import { announceRun } from '../events/announce.ts';
import { envelopeOf } from '../events/envelope.ts';
import { deliveryRows } from '../events/match.ts';
import type { EventEnvelope } from '../events/types.ts';
import { scrubSecrets } from '../log/logger.ts';
import { parseProjectId } from '../projects/id.ts';
import type { ChangeRow } from '../sync/index.ts';
import { parseInstant } from '../time/duration.ts';
import { listChanges, parseRunCursor } from './catalog.ts';
import type { DataContext } from './context.ts';

/* The outbox and the delivery log, as operators and the platform read them. */

/** A Date, an ISO time or a duration back from now (`24h`): the one grammar of src/time. */
function parseTime(field: string, value: string | Date | undefined): Date | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Date) return parseInstant(value.toISOString(), field, { allowDuration: false });
  return parseInstant(value, field);
}

function parseLimit(value: number | undefined, fallback = 100): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    throw new InvalidInputError('limit', 'must be a whole number from 1 to 1000.');
  }
  return value;
}

export interface EventListItem extends EventEnvelope {
  deliveries: { pending: number; succeeded: number; failed: number; cancelled: number };
}

export async function listEvents(
  ctx: DataContext,
  input: { projectId: string; since?: string | Date; type?: string; limit?: number },
): Promise<EventListItem[]> {
  return (await listEventsPage(ctx, input)).events;
}

/** Cursors of the paged lists: opaque to callers, a letter and a sequence number inside. */
function encodeCursor(letter: string, n: number): string {
  return Buffer.from(`${letter}${n}`).toString('base64url');
}

function decodeCursor(letter: string, cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!new RegExp(`^${letter}[0-9]{1,15}$`).test(text)) {
    throw new InvalidInputError(
      'cursor',
      'is not a cursor this API gave; pass nextCursor as it came, or leave it out.',
    );
  }
  return Number(text.slice(1));
}

/** The outbox of a project, oldest first, a page at a time: pass `nextCursor` back as `cursor`. */
export async function listEventsPage(
  ctx: DataContext,
  input: { projectId: string; since?: string | Date; type?: string; limit?: number; cursor?: string },
): Promise<{ events: EventListItem[]; nextCursor: string | null }> {
  const projectId = parseProjectId(input.projectId);
  const since = parseTime('since', input.since);
  const afterSeq = decodeCursor('e', input.cursor);
  const limit = parseLimit(input.limit);
  const rows = await ctx.db
    .select()
    .from(events)
    .where(
      and(
        eq(events.projectId, projectId),
        since ? gte(events.createdAt, since) : undefined,
        input.type ? eq(events.type, input.type) : undefined,
        afterSeq !== undefined ? gt(events.seq, afterSeq) : undefined,
      ),
    )
    .orderBy(asc(events.seq))
    .limit(limit);
  const counts = rows.length
    ? await ctx.db
        .select({
          eventId: webhookDeliveries.eventId,
          status: webhookDeliveries.status,
          n: sql<number>`count(*)::int`,
        })
        .from(webhookDeliveries)
        .where(
          inArray(
            webhookDeliveries.eventId,
            rows.map((r) => r.id),
          ),
        )
        .groupBy(webhookDeliveries.eventId, webhookDeliveries.status)
    : [];
  const items = rows.map((row) => {
    const deliveries = { pending: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const c of counts) if (c.eventId === row.id) deliveries[c.status] += c.n;
    return { ...envelopeOf(row), deliveries };
  });
  const last = rows.at(-1);
  return {
    events: items,
    nextCursor: last && rows.length === limit ? encodeCursor('e', Number(last.seq)) : null,
  };
}

export interface DeliveryAttempt {
  attempt: number;
  outcome: string;
  statusCode: number | null;
  latencyMs: number;
  responseExcerpt: string | null;
  error: string | null;
  attemptedAt: string;
}

export interface DeliveryListItem {
  id: number;
  eventId: string;
  eventType: string;
  endpointId: string;
  projectId: string | null;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  completedAt: string | null;
  log: DeliveryAttempt[];
}

export async function listDeliveries(
  ctx: DataContext,
  input: { endpointId?: string; eventId?: string; projectId?: string; status?: string; limit?: number } = {},
): Promise<DeliveryListItem[]> {
  return (await listDeliveriesPage(ctx, input)).deliveries;
}

/** The delivery log, newest first, a page at a time: pass `nextCursor` back as `cursor`. */
export async function listDeliveriesPage(
  ctx: DataContext,
  input: {
    endpointId?: string;
    eventId?: string;
    projectId?: string;
    status?: string;
    limit?: number;
    cursor?: string;
  } = {},
): Promise<{ deliveries: DeliveryListItem[]; nextCursor: string | null }> {
  const beforeId = decodeCursor('d', input.cursor);
  const limit = parseLimit(input.limit);
  const rows = await ctx.db
    .select({ d: webhookDeliveries, type: events.type })
    .from(webhookDeliveries)
    .innerJoin(events, eq(events.id, webhookDeliveries.eventId))
    .where(
      and(
        input.endpointId ? eq(webhookDeliveries.endpointId, input.endpointId) : undefined,
        input.eventId ? eq(webhookDeliveries.eventId, input.eventId) : undefined,
        input.projectId ? eq(webhookDeliveries.projectId, parseProjectId(input.projectId)) : undefined,
        input.status ? eq(webhookDeliveries.status, input.status as 'pending') : undefined,
        beforeId !== undefined ? lt(webhookDeliveries.id, beforeId) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(limit);
  const attempts = rows.length
    ? await ctx.db
        .select()
        .from(webhookDeliveryAttempts)
        .where(
          inArray(
            webhookDeliveryAttempts.deliveryId,
            rows.map((r) => r.d.id),
          ),
        )
        .orderBy(asc(webhookDeliveryAttempts.id))
    : [];
  const deliveries = rows.map(({ d, type }) => ({
    id: d.id,
    eventId: d.eventId,
    eventType: type,
    endpointId: d.endpointId,
    projectId: d.projectId,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' ? new Date(d.nextAttemptAt).toISOString() : null,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createdAt: new Date(d.createdAt).toISOString(),
    completedAt: d.completedAt ? new Date(d.completedAt).toISOString() : null,
    log: attempts
      .filter((a) => a.deliveryId === d.id)
      .map((a) => ({
        attempt: a.attempt,
        outcome: a.outcome,
        statusCode: a.statusCode,
        latencyMs: a.latencyMs,
        responseExcerpt: a.responseExcerpt,
        error: a.error,
        attemptedAt: new Date(a.attemptedAt).toISOString(),
      })),
  }));
  const last = rows.at(-1);
  return { deliveries, nextCursor: last && rows.length === limit ? encodeCursor('d', last.d.id) : null };
}

/**
 * Sends one event again, or every event since a time (optionally of one project), to every
 * enabled endpoint it matches (or only to `endpointId`). Same event id: receivers deduplicate.
 */
export async function redeliver(
  ctx: DataContext,
  input: { eventId?: string; since?: string | Date; projectId?: string; endpointId?: string },
): Promise<{ events: number; deliveries: number }> {
  const since = parseTime('since', input.since);
  if ((input.eventId === undefined) === (since === undefined)) {
    throw new InvalidInputError(
      'eventId',
      'give either one event id (--event) or a time (--since), not both.',
    );
  }
  const projectId = input.projectId === undefined ? undefined : parseProjectId(input.projectId);
  const selected = await ctx.db
    .select()
    .from(events)
    .where(
      and(
        input.eventId ? eq(events.id, input.eventId) : undefined,
        since ? gte(events.createdAt, since) : undefined,
        projectId ? eq(events.projectId, projectId) : undefined,
      ),
    )
    .orderBy(asc(events.seq))
    .limit(10_000);
  if (input.eventId && selected.length === 0) {
    throw new NotFoundError(
      `Event ${input.eventId} does not exist (or was pruned); list events with \`catalog-sync events <project>\`.`,
    );
  }
  const endpoints = await ctx.db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.status, 'enabled'),
        input.endpointId ? eq(webhookEndpoints.id, input.endpointId) : undefined,
      ),
    );
  if (input.endpointId && endpoints.length === 0) {
    throw new NotFoundError(
      `Webhook endpoint ${input.endpointId} does not exist or is disabled (enable it first).`,
    );
  }
  const rows = deliveryRows(selected, endpoints, { newOnly: false });
  if (rows.length > 0) await ctx.db.insert(webhookDeliveries).values(rows);
  ctx.logger.info({ events: selected.length, deliveries: rows.length }, 'events queued for redelivery');
  return { events: selected.length, deliveries: rows.length };
}

/**
 * Announces a complete run's changes (catalog.changed, prices.changed, price_change.*): the sync
 * calls it as the run ends. It never fails the sync: a run it could not announce is announced by
 * the dispatcher's sweep (src/events/announce.ts).
 */
export async function announceRunChanges(ctx: DataContext, runId: string): Promise<string[]> {
  try {
    return (await announceRun(ctx.db, runId)).events;
  } catch (error) {
    ctx.logger.warn(
      { runId, error: scrubSecrets(errorMessage(error)) },
      "could not announce the run's changes now; the events dispatcher announces it later",
    );
    return [];
  }
}

/**
 * Queues for one endpoint the events since `since` (and since it was registered) that it matches
 * and never received (no delivery to it succeeded or is pending), oldest first. The dispatcher
 * sends them in order.
 */
export async function replayMissed(
  ctx: DataContext,
  input: { endpointId: string; since: Date },
): Promise<{ events: number; deliveries: number }> {
  const [endpoint] = await ctx.db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.id, input.endpointId));
  if (!endpoint) throw new NotFoundError(`Webhook endpoint ${input.endpointId} does not exist.`);
  const missed = rowsOf<{
    id: string;
    seq: number;
    type: string;
    project_id: string | null;
    payload: Record<string, unknown>;
    created_at: Date;
  }>(
    await ctx.db.execute(sql`
      select e.id, e.seq, e.type, e.project_id, e.payload, e.created_at from events e
       where e.created_at >= ${input.since.toISOString()}::timestamptz
         and not exists (select 1 from webhook_deliveries d
                          where d.event_id = e.id and d.endpoint_id = ${endpoint.id}
                            and d.status in ('succeeded', 'pending'))
       order by e.seq
       limit 10000`),
  );
  const rows = deliveryRows(
    missed.map((e) => ({
      id: e.id,
      seq: Number(e.seq),
      type: e.type,
      projectId: e.project_id,
      payload: e.payload,
      createdAt: new Date(e.created_at),
    })),
    [endpoint],
    // What it missed: events from before it was registered were never its own.
    { newOnly: true },
  );
  if (rows.length > 0) await ctx.db.insert(webhookDeliveries).values(rows);
  return { events: new Set(rows.map((r) => r.eventId)).size, deliveries: rows.length };
}

/** A run's change rows, the cursor of its catalog.changed (`run:<runId>` or the bare id). */
export async function listRunChanges(
  ctx: DataContext,
  input: { projectId: string; runId: string },
): Promise<{ projectId: string; runId: string; changes: ChangeRow[] }> {
  const runId = parseRunCursor(input.runId);
  const { projectId, changes } = await listChanges(ctx, { projectId: input.projectId, runId });
  return { projectId, runId, changes };
}
