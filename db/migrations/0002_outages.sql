ALTER TABLE "projects" ADD COLUMN "sync_requested_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "sync_request_trigger" text;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "fetched_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "heartbeat_at" timestamp with time zone DEFAULT now();--> statement-breakpoint
CREATE INDEX "sync_runs_running_heartbeat" ON "sync_runs" USING btree ("heartbeat_at") WHERE "sync_runs"."status" = 'running';