CREATE TABLE "transaction_attributions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"transaction_id" text NOT NULL,
	"original_transaction_id" text NOT NULL,
	"entry" text NOT NULL,
	"version" integer NOT NULL,
	"version_reason" text NOT NULL,
	"kind" text NOT NULL,
	"product_id" text NOT NULL,
	"product_apple_id" text NOT NULL,
	"territory" text NOT NULL,
	"environment" text NOT NULL,
	"currency" text NOT NULL,
	"customer_price" numeric,
	"customer_price_source" text NOT NULL,
	"proceeds" numeric,
	"proceeds_rate" text,
	"proceeds_reason" text NOT NULL,
	"basis" text NOT NULL,
	"price_point" jsonb,
	"paid_days" integer NOT NULL,
	"paid_days_source" text NOT NULL,
	"offer" jsonb,
	"rule" jsonb,
	"revenue_date" timestamp with time zone NOT NULL,
	"due_date" timestamp with time zone,
	"recovered_in_grace" boolean NOT NULL,
	"purchase_date" timestamp with time zone NOT NULL,
	"service_start" timestamp with time zone NOT NULL,
	"service_end" timestamp with time zone,
	"paid_service" boolean NOT NULL,
	"offer_period" boolean NOT NULL,
	"digest" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "transaction_attributions_entry" CHECK ("transaction_attributions"."entry" in ('charge','refund','refund_reversed','revoke')),
	CONSTRAINT "transaction_attributions_basis" CHECK ("transaction_attributions"."basis" in ('exact','preserved_price','unknown_proceeds')),
	CONSTRAINT "transaction_attributions_proceeds_known" CHECK (("transaction_attributions"."basis" = 'unknown_proceeds') = ("transaction_attributions"."proceeds" is null))
);
--> statement-breakpoint
CREATE TABLE "attribution_price_points" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"product_apple_id" text NOT NULL,
	"territory" text NOT NULL,
	"currency" text NOT NULL,
	"customer_price" numeric NOT NULL,
	"proceeds" numeric,
	"proceeds_year2" numeric,
	"source" text NOT NULL,
	"price_point_id" text,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "attribution_price_points_source" CHECK ("attribution_price_points"."source" in ('catalog','app_store_connect'))
);
--> statement-breakpoint
CREATE TABLE "attribution_batches" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"project_id" text NOT NULL,
	"environment" text NOT NULL,
	"items" integer NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"summary" jsonb,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "attribution_batches_status" CHECK ("attribution_batches"."status" in ('pending','running','succeeded','failed'))
);
--> statement-breakpoint
CREATE TABLE "attribution_batch_items" (
	"batch_id" uuid NOT NULL,
	"line" integer NOT NULL,
	"input" jsonb NOT NULL,
	"result" jsonb,
	CONSTRAINT "attribution_batch_items_batch_id_line_pk" PRIMARY KEY("batch_id","line")
);
--> statement-breakpoint
ALTER TABLE "transaction_attributions" ADD CONSTRAINT "transaction_attributions_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attribution_price_points" ADD CONSTRAINT "attribution_price_points_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attribution_batches" ADD CONSTRAINT "attribution_batches_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attribution_batch_items" ADD CONSTRAINT "attribution_batch_items_batch_id_attribution_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."attribution_batches"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "transaction_attributions_version" ON "transaction_attributions" USING btree ("project_id","transaction_id","entry","version");--> statement-breakpoint
CREATE INDEX "transaction_attributions_original" ON "transaction_attributions" USING btree ("project_id","original_transaction_id");--> statement-breakpoint
CREATE INDEX "transaction_attributions_revenue" ON "transaction_attributions" USING btree ("project_id","revenue_date");--> statement-breakpoint
CREATE UNIQUE INDEX "attribution_price_points_version" ON "attribution_price_points" USING btree ("project_id","product_apple_id","territory","currency","customer_price",coalesce("proceeds", -1),coalesce("proceeds_year2", -1));
