-- Events for the money: a per-project sequence number on every event, the runs whose changes were
-- announced (catalog.changed and the money events are written once a run is complete, details
-- included), and when a delivery began failing (an event failing longer than the hold stops
-- holding the ones behind it).
CREATE TABLE IF NOT EXISTS "event_sequences" (
	"scope" text PRIMARY KEY NOT NULL,
	"last_seq" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN IF NOT EXISTS "project_seq" bigint;
--> statement-breakpoint
UPDATE "events" e SET "project_seq" = x.n
  FROM (SELECT "id", row_number() OVER (PARTITION BY coalesce("project_id", '') ORDER BY "seq") AS n FROM "events") x
 WHERE x."id" = e."id" AND e."project_seq" IS NULL;
--> statement-breakpoint
INSERT INTO "event_sequences" ("scope", "last_seq")
SELECT coalesce("project_id", ''), max("project_seq") FROM "events" GROUP BY 1
ON CONFLICT ("scope") DO UPDATE SET "last_seq" = greatest("event_sequences"."last_seq", excluded."last_seq");
--> statement-breakpoint
ALTER TABLE "events" ALTER COLUMN "project_seq" SET NOT NULL;
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS "events_project_seq" ON "events" USING btree (coalesce("project_id", ''),"project_seq");
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "run_announcements" (
	"run_id" uuid PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"change_rows" integer NOT NULL,
	"announced_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DO $$ BEGIN
 ALTER TABLE "run_announcements" ADD CONSTRAINT "run_announcements_run_id_sync_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."sync_runs"("id") ON DELETE cascade ON UPDATE no action;
EXCEPTION
 WHEN duplicate_object THEN null;
END $$;
--> statement-breakpoint
-- Runs before this migration were announced by the code of their time.
INSERT INTO "run_announcements" ("run_id", "project_id", "change_rows")
SELECT "id", "project_id", 0 FROM "sync_runs" ON CONFLICT DO NOTHING;
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN IF NOT EXISTS "failing_since" timestamp with time zone;
