CREATE TABLE "detail_metadata" (
	"project_id" text NOT NULL,
	"owner_apple_id" text NOT NULL,
	"kind" text NOT NULL,
	"apple_id" text NOT NULL,
	"state" text,
	"version" integer,
	"label" text,
	"attributes" jsonb NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone,
	CONSTRAINT "detail_metadata_project_id_kind_apple_id_pk" PRIMARY KEY("project_id","kind","apple_id")
);
--> statement-breakpoint
CREATE TABLE "detail_schedule" (
	"project_id" text NOT NULL,
	"owner_apple_id" text NOT NULL,
	"read_at" timestamp with time zone,
	"changed_at" timestamp with time zone,
	"next_change_on" date,
	CONSTRAINT "detail_schedule_project_id_owner_apple_id_pk" PRIMARY KEY("project_id","owner_apple_id")
);
--> statement-breakpoint
ALTER TABLE "detail_metadata" ADD CONSTRAINT "detail_metadata_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "detail_schedule" ADD CONSTRAINT "detail_schedule_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "detail_metadata_owner" ON "detail_metadata" USING btree ("project_id","owner_apple_id");
