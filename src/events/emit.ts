import { and, desc, eq, sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import { events } from '../../db/schema.ts';
import { newEventId } from './ids.ts';
import {
  type CatalogHealthChangedPayload,
  MAX_HEALTH_ISSUES,
  MAX_MESSAGE_CHARS,
  type NewEvent,
  payloadSchemas,
} from './types.ts';

/*
 * The outbox's only writer. `emit` takes the caller's transaction: the event commits with the
 * change it reports, or not at all. The payload is checked against its schema here, so a
 * malformed event fails the transaction in development instead of reaching a platform.
 */

export async function emit(tx: Db, event: NewEvent): Promise<string> {
  const payload = payloadSchemas[event.type].parse(event.payload) as Record<string, unknown>;
  const id = newEventId();
  // The project's next sequence number and the event, in one statement. The counter's row stays
  // locked until the caller commits, so a project's numbers follow the order its events commit in
  // (and its `seq`, which the dispatcher orders deliveries by); a rollback leaves no gap.
  await tx.execute(sql`
    with next as (
      insert into event_sequences (scope, last_seq) values (${event.projectId ?? ''}, 1)
      on conflict (scope) do update set last_seq = event_sequences.last_seq + 1
      returning last_seq)
    insert into events (id, type, project_id, payload, project_seq)
    select ${id}, ${event.type}, ${event.projectId}, ${JSON.stringify(payload)}::jsonb, next.last_seq from next`);
  return id;
}

export interface HealthSnapshot {
  counts: Record<string, number>;
  issues: { kind: string; productId: string; message: string }[];
}

/** A health's identity: which issue of which kind on which product (not the wording). */
function healthKey(issues: readonly { kind: string; productId: string }[]): string {
  return JSON.stringify(issues.map((issue) => `${issue.kind}\u0000${issue.productId}`).sort());
}

/**
 * Emits `catalog.health_changed` when the project's health differs from the last one reported
 * (nothing the first time a project is healthy). Health is derived, not stored: the last event is
 * the record of what the platform was told, read and written under a per-project lock so two
 * workers never report the same change twice.
 */
export async function emitHealthIfChanged(
  db: Db,
  projectId: string,
  health: HealthSnapshot,
): Promise<string | undefined> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${HEALTH_LOCK_NAMESPACE}, hashtext(${projectId}))`);
    const [last] = await tx
      .select({ payload: events.payload })
      .from(events)
      .where(and(eq(events.projectId, projectId), eq(events.type, 'catalog.health_changed')))
      .orderBy(desc(events.seq))
      .limit(1);
    const previous = last?.payload as CatalogHealthChangedPayload | undefined;
    const shown = health.issues.slice(0, MAX_HEALTH_ISSUES);
    const more = Math.max(0, health.issues.length - MAX_HEALTH_ISSUES);
    const unchanged = previous
      ? healthKey(previous.issues) === healthKey(shown) && previous.more === more
      : health.issues.length === 0;
    if (unchanged) return undefined;
    const zero = Object.fromEntries(Object.keys(health.counts).map((kind) => [kind, 0]));
    return emit(tx, {
      type: 'catalog.health_changed',
      projectId,
      payload: {
        version: 1,
        counts: health.counts,
        previousCounts: previous?.counts ?? zero,
        issues: shown.map(({ kind, productId, message }) => ({
          kind,
          productId,
          message: message.slice(0, MAX_MESSAGE_CHARS),
        })),
        more,
      },
    });
  });
}

/** Advisory-lock namespace for "reporting this project's health". */
const HEALTH_LOCK_NAMESPACE = 7_243_013;

/**
 * Catalog health issues by kind, added up over every project's last `catalog.health_changed`
 * event: what the platform was last told of each project, from any worker, for the metrics. A
 * project whose last event the dispatcher pruned counts no issue until its next change of health.
 * Postgres does the adding (one row per kind), using the partial index on these events.
 */
export async function lastHealthTotals(db: Db): Promise<Record<string, number>> {
  const rows = rowsOf<{ kind: string; n: number }>(
    await db.execute(sql`
      select c.key as kind, sum(c.value::int)::int as n
        from (select distinct on (project_id) payload
                from events where type = 'catalog.health_changed'
               order by project_id, seq desc) latest,
             jsonb_each_text(latest.payload -> 'counts') c
       group by c.key`),
  );
  return Object.fromEntries(rows.map((row) => [row.kind, Number(row.n)]));
}
