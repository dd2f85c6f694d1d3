CREATE TABLE "app_store_credentials" (
	"project_id" text PRIMARY KEY NOT NULL,
	"key_id" text NOT NULL,
	"issuer_id" text NOT NULL,
	"private_key_encrypted" text NOT NULL,
	"encryption_key_id" text NOT NULL,
	"status" text DEFAULT 'unverified' NOT NULL,
	"status_detail" text,
	"verified_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "catalog_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"run_id" uuid NOT NULL,
	"entity" text NOT NULL,
	"entity_id" text NOT NULL,
	"action" text NOT NULL,
	"changed_fields" text[] DEFAULT '{}'::text[] NOT NULL,
	"before" jsonb,
	"after" jsonb,
	"detected_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "catalog_changes_action" CHECK ("catalog_changes"."action" in ('added','updated','removed','restored'))
);
--> statement-breakpoint
CREATE TABLE "discovered_apps" (
	"project_id" text NOT NULL,
	"app_store_id" text NOT NULL,
	"bundle_id" text NOT NULL,
	"name" text NOT NULL,
	"sku" text,
	"primary_locale" text,
	"discovered_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "discovered_apps_project_id_app_store_id_pk" PRIMARY KEY("project_id","app_store_id")
);
--> statement-breakpoint
CREATE TABLE "grace_period_settings" (
	"project_id" text PRIMARY KEY NOT NULL,
	"apple_id" text NOT NULL,
	"opt_in" boolean NOT NULL,
	"sandbox_opt_in" boolean NOT NULL,
	"duration" text NOT NULL,
	"duration_days" integer NOT NULL,
	"renewal_type" text NOT NULL,
	"raw" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "products" (
	"project_id" text NOT NULL,
	"apple_id" text NOT NULL,
	"product_id" text NOT NULL,
	"kind" text NOT NULL,
	"reference_name" text NOT NULL,
	"state" text NOT NULL,
	"family_sharable" boolean,
	"content_hosting" boolean,
	"subscription_period" text,
	"group_apple_id" text,
	"group_level" integer,
	"raw" jsonb NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone,
	CONSTRAINT "products_project_id_apple_id_pk" PRIMARY KEY("project_id","apple_id"),
	CONSTRAINT "products_kind" CHECK ("products"."kind" in ('consumable','non_consumable','non_renewing_subscription','auto_renewable_subscription'))
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"id" text PRIMARY KEY NOT NULL,
	"app_store_id" text,
	"bundle_id" text,
	"app_name" text,
	"schedule_every_seconds" integer,
	"schedule_cron" text,
	"schedule_updated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projects_one_schedule" CHECK ("projects"."schedule_every_seconds" is null or "projects"."schedule_cron" is null),
	CONSTRAINT "projects_every_positive" CHECK ("projects"."schedule_every_seconds" is null or "projects"."schedule_every_seconds" > 0)
);
--> statement-breakpoint
CREATE TABLE "revenue_attribution_rules" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"environment" text NOT NULL,
	"renewal_kind" text NOT NULL,
	"grace_days" integer NOT NULL,
	"recovered_revenue_dated_to" text NOT NULL,
	"access_during_grace" boolean NOT NULL,
	"unrecovered_churn_at" text NOT NULL,
	"source_run_id" uuid,
	"effective_from" timestamp with time zone NOT NULL,
	"effective_to" timestamp with time zone,
	CONSTRAINT "revenue_attribution_rules_env" CHECK ("revenue_attribution_rules"."environment" in ('production','sandbox')),
	CONSTRAINT "revenue_attribution_rules_kind" CHECK ("revenue_attribution_rules"."renewal_kind" in ('paid_to_paid','offer_to_paid'))
);
--> statement-breakpoint
CREATE TABLE "subscription_groups" (
	"project_id" text NOT NULL,
	"apple_id" text NOT NULL,
	"reference_name" text NOT NULL,
	"raw" jsonb NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone,
	CONSTRAINT "subscription_groups_project_id_apple_id_pk" PRIMARY KEY("project_id","apple_id")
);
--> statement-breakpoint
CREATE TABLE "sync_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"project_id" text NOT NULL,
	"trigger" text NOT NULL,
	"job_id" text,
	"status" text DEFAULT 'running' NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"duration_ms" integer,
	"requests_made" integer DEFAULT 0 NOT NULL,
	"request_counts" jsonb,
	"counts" jsonb,
	"error_kind" text,
	"error_message" text
);
--> statement-breakpoint
ALTER TABLE "app_store_credentials" ADD CONSTRAINT "app_store_credentials_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog_changes" ADD CONSTRAINT "catalog_changes_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog_changes" ADD CONSTRAINT "catalog_changes_run_id_sync_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."sync_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "discovered_apps" ADD CONSTRAINT "discovered_apps_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grace_period_settings" ADD CONSTRAINT "grace_period_settings_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "revenue_attribution_rules" ADD CONSTRAINT "revenue_attribution_rules_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "revenue_attribution_rules" ADD CONSTRAINT "revenue_attribution_rules_source_run_id_sync_runs_id_fk" FOREIGN KEY ("source_run_id") REFERENCES "public"."sync_runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_groups" ADD CONSTRAINT "subscription_groups_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD CONSTRAINT "sync_runs_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "catalog_changes_project_detected" ON "catalog_changes" USING btree ("project_id","detected_at");--> statement-breakpoint
CREATE INDEX "catalog_changes_run" ON "catalog_changes" USING btree ("run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "products_project_product_id" ON "products" USING btree ("project_id","product_id");--> statement-breakpoint
CREATE UNIQUE INDEX "revenue_attribution_rules_in_force" ON "revenue_attribution_rules" USING btree ("project_id","environment","renewal_kind") WHERE "revenue_attribution_rules"."effective_to" is null;--> statement-breakpoint
CREATE INDEX "revenue_attribution_rules_lookup" ON "revenue_attribution_rules" USING btree ("project_id","environment","renewal_kind","effective_from");--> statement-breakpoint
CREATE INDEX "sync_runs_project_started" ON "sync_runs" USING btree ("project_id","started_at");