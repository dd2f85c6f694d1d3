import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.ts';
import { emit } from './emit.ts';
import { buildRunEvents, type RunChangeRow } from './run-events.ts';

/*
 * Announcing a run: once a run is complete (its structure and the details it read), its change
 * rows become `catalog.changed` (every kind of change row, counted generically, so a new detail
 * kind is announced without more code), `prices.changed` (the money alone) and one
 * `price_change.scheduled` / `.cancelled` per product and start date. Everything is read back
 * from `catalog_changes` by run id, so `totalChanges` is, by construction, the number of rows
 * the event's cursor returns.
 *
 * One transaction: the `run_announcements` row is claimed first (a second announcer of the same
 * run finds it taken and writes nothing), then the events are written; they commit together. The
 * sync announces its run as it ends; the dispatcher's sweep announces runs a crash left behind.
 */

export interface Announced {
  /** False when the run was already announced (or does not exist). */
  announced: boolean;
  events: string[];
}

/** Change rows read per run: a first sync of a large catalog is announced from at most this many. */
const MAX_ROWS_READ = 20_000;

export async function announceRun(db: Db, runId: string): Promise<Announced> {
  return db.transaction(async (tx) => {
    const [claimed] = rowsOf<{ project_id: string; trigger: string; rules_opened: number; today: string }>(
      await tx.execute(sql`
        insert into run_announcements (run_id, project_id, change_rows)
        select r.id, r.project_id, (select count(*)::int from catalog_changes c where c.run_id = r.id)
          from sync_runs r where r.id = ${runId}::uuid
        on conflict (run_id) do nothing
        returning project_id, (select trigger from sync_runs where id = ${runId}::uuid) as trigger,
          (select count(*)::int from revenue_attribution_rules where source_run_id = ${runId}::uuid) as rules_opened,
          to_char(now() at time zone 'UTC', 'YYYY-MM-DD') as today`),
    );
    if (!claimed) return { announced: false, events: [] };
    const rows = rowsOf<RunChangeRow>(
      await tx.execute(sql`
        select c.entity, c.entity_id as "entityId", c.action, c.changed_fields as "changedFields",
               -- Only prices' models are read: the other rows travel as ids and fields.
               case when c.entity = 'price' then c.before end as before,
               case when c.entity = 'price' then c.after end as after,
               to_json(c.detected_at) #>> '{}' as "detectedAt",
               to_char(c.detected_at at time zone 'UTC', 'YYYY-MM-DD') as "detectedDay",
               p.product_id as "productId",
               case when prev.customer_price is null and prev.proceeds is null then null
                    else jsonb_build_object('customerPrice', prev.customer_price::text,
                                            'proceeds', prev.proceeds::text) end as "previous"
          from catalog_changes c
          left join products p on p.project_id = c.project_id
           and p.apple_id = case when c.entity = 'product' then c.entity_id
                                 when c.entity = 'price' then split_part(c.entity_id, '/', 1) end
          -- A new price version replaces the territory's version before it: that is its old price.
          left join lateral (
            select pp.customer_price, pp.proceeds from product_prices pp
             where c.entity = 'price' and c.before is null and c.after is not null
               and pp.project_id = c.project_id and pp.product_apple_id = split_part(c.entity_id, '/', 1)
               and pp.territory = c.after ->> 'territory'
               and coalesce(pp.start_date, '-infinity'::date)
                   < coalesce((c.after ->> 'startDate')::date, '-infinity'::date)
             order by pp.start_date desc nulls last limit 1) prev on true
         where c.run_id = ${runId}::uuid
         order by c.id
         limit ${MAX_ROWS_READ}`),
    );
    const [total] = rowsOf<{ n: number; counts: Record<string, number> | null }>(
      await tx.execute(sql`
        select coalesce(sum(n), 0)::int as n, jsonb_object_agg(k, n) as counts
          from (select entity || '.' || action as k, count(*)::int as n
                  from catalog_changes where run_id = ${runId}::uuid group by 1) x`),
    );
    const planned = buildRunEvents({
      runId,
      trigger: claimed.trigger,
      rows,
      counts: total?.counts ?? {},
      totalChanges: Number(total?.n ?? 0),
      rulesOpened: Number(claimed.rules_opened),
      today: claimed.today,
    });
    const ids: string[] = [];
    for (const event of planned)
      ids.push(await emit(tx, { ...event, projectId: claimed.project_id } as never));
    return { announced: true, events: ids };
  });
}

/** Runs the sweep leaves alone for this long after they finished: the sync may still be reading details. */
export const ANNOUNCE_SETTLE_MS = 3_600_000;

/**
 * Announces finished runs that a crash (or a sync called without announcing) left unannounced:
 * those that finished between a day and ANNOUNCE_SETTLE_MS ago and wrote change rows or rules.
 * Returns how many it announced.
 */
export async function announceSettledRuns(
  db: Db,
  settleMs = ANNOUNCE_SETTLE_MS,
  limit = 50,
): Promise<number> {
  const due = rowsOf<{ id: string }>(
    await db.execute(sql`
      select r.id from sync_runs r
       where r.status <> 'running'
         and r.finished_at > now() - interval '1 day'
         and r.finished_at <= now() - make_interval(secs => ${settleMs / 1000})
         and not exists (select 1 from run_announcements a where a.run_id = r.id)
         and (exists (select 1 from catalog_changes c where c.run_id = r.id)
              or exists (select 1 from revenue_attribution_rules x where x.source_run_id = r.id))
       order by r.finished_at
       limit ${limit}`),
  );
  let announced = 0;
  for (const run of due) if ((await announceRun(db, run.id)).announced) announced++;
  return announced;
}
