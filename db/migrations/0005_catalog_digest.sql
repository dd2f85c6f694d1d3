CREATE TABLE "catalog_digests" (
	"project_id" text PRIMARY KEY NOT NULL,
	"digest" text NOT NULL,
	"iaps" integer NOT NULL,
	"run_id" uuid,
	"written_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "catalog_digests" ADD CONSTRAINT "catalog_digests_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog_digests" ADD CONSTRAINT "catalog_digests_run_id_sync_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."sync_runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
-- Hand-written below (drizzle-kit does not model functions or triggers). docs/architecture.md (the
-- flow of one sync, step 7) says why the digest exists and why these run in the database.
--
-- A project's digest is forgotten whenever its catalog tables change, whoever changes them. The
-- sync's apply is the exception: it writes the digest again after its own writes, in the same
-- transaction, and says so with the transaction-local setting catalog_sync.applying (a row-level
-- WHEN is evaluated without calling the function, so its own writes cost next to nothing; a
-- statement-level trigger with a transition table would copy every row written). An update
-- counts only when a column that the catalog is made of changed (a details refresh stamping
-- details_read_at does not): rows are compared whole minus the bookkeeping columns, so a column
-- added later counts until it is listed here as bookkeeping.
CREATE FUNCTION "catalog_digest_forget"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM catalog_digests WHERE project_id = OLD.project_id;
  ELSE
    DELETE FROM catalog_digests WHERE project_id IN (OLD.project_id, NEW.project_id);
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
DO $$
DECLARE
  t record;
  not_applying constant text := $c$current_setting('catalog_sync.applying', true) IS DISTINCT FROM 'on'$c$;
BEGIN
  FOR t IN SELECT * FROM (VALUES
      ('products', '{updated_at,details_read_at,details_requests}'),
      ('subscription_groups', '{updated_at}'),
      ('grace_period_settings', '{updated_at}'),
      ('revenue_attribution_rules', '{}')) AS tables (name, bookkeeping)
  LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR DELETE ON %I FOR EACH ROW WHEN (%s)
      EXECUTE FUNCTION catalog_digest_forget()', t.name || '_digest_insert_delete', t.name, not_applying);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I FOR EACH ROW
      WHEN (%s AND (to_jsonb(OLD) - %L::text[]) IS DISTINCT FROM (to_jsonb(NEW) - %L::text[]))
      EXECUTE FUNCTION catalog_digest_forget()', t.name || '_digest_update', t.name, not_applying,
      t.bookkeeping, t.bookkeeping);
  END LOOP;
END $$;--> statement-breakpoint
-- A run's successful end, for both ways a sync ends (src/sync/run.ts and the function below): the
-- run row, and the project's pending sync request cleared if it was made before the run started
-- (a request made later stays pending: that run may have fetched too early to serve it).
CREATE FUNCTION "catalog_sync_run_succeeded"(p_run uuid, p_duration_ms integer, p_requests integer,
    p_request_counts jsonb, p_counts jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_started timestamptz;
  v_project text;
BEGIN
  UPDATE sync_runs
     SET status = 'succeeded', finished_at = clock_timestamp(), duration_ms = p_duration_ms,
         requests_made = p_requests, request_counts = p_request_counts, counts = p_counts
   WHERE id = p_run
  RETURNING started_at, project_id INTO v_started, v_project;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'sync run % is missing: it cannot be finished', p_run;
  END IF;
  UPDATE projects SET sync_requested_at = NULL, sync_request_trigger = NULL
   WHERE id = v_project AND sync_requested_at <= v_started;
END $$;--> statement-breakpoint
-- The unchanged re-sync in one statement (src/sync/unchanged.ts): stamp the fetch time, take the
-- project's lock (as the apply does: wait, or give up with 'busy'), then, in statements of their
-- own and so with snapshots taken after the lock was granted, check that the stored catalog is the
-- fetched one (its digest) and end the run. Returns 'unchanged', 'superseded' (a sync whose fetch
-- completed later applied already: nothing to write either), 'changed' (the digest differs or is
-- gone: the caller applies in a transaction) or 'busy' (lock not granted in skip mode).
CREATE FUNCTION "catalog_sync_finish_unchanged"(p_project text, p_run uuid, p_digest text,
    p_lock_namespace integer, p_wait boolean, p_duration_ms integer, p_requests integer,
    p_request_counts jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_fetched timestamptz;
  v_superseded boolean;
BEGIN
  UPDATE sync_runs SET fetched_at = clock_timestamp(), heartbeat_at = clock_timestamp()
   WHERE id = p_run RETURNING fetched_at INTO v_fetched;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'sync run % is missing: it cannot be stamped or finished', p_run;
  END IF;
  IF p_wait THEN
    PERFORM pg_advisory_xact_lock(p_lock_namespace, hashtext(p_project));
  ELSIF NOT pg_try_advisory_xact_lock(p_lock_namespace, hashtext(p_project)) THEN
    RETURN 'busy';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM catalog_digests WHERE project_id = p_project AND digest = p_digest) THEN
    RETURN 'changed';
  END IF;
  v_superseded := EXISTS (
    SELECT 1 FROM sync_runs newer
     WHERE newer.project_id = p_project AND newer.id <> p_run
       AND newer.status = 'succeeded' AND newer.fetched_at > v_fetched);
  PERFORM catalog_sync_run_succeeded(p_run, p_duration_ms, p_requests, p_request_counts, '{}'::jsonb);
  RETURN CASE WHEN v_superseded THEN 'superseded' ELSE 'unchanged' END;
END $$;
