CREATE TABLE "offer_prices" (
	"project_id" text NOT NULL,
	"offer_apple_id" text NOT NULL,
	"territory" text NOT NULL,
	"price_point_id" text,
	"currency" text,
	"customer_price" numeric,
	"proceeds" numeric,
	"proceeds_year2" numeric,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone,
	CONSTRAINT "offer_prices_project_id_offer_apple_id_territory_pk" PRIMARY KEY("project_id","offer_apple_id","territory")
);
--> statement-breakpoint
CREATE TABLE "product_availability" (
	"project_id" text NOT NULL,
	"product_apple_id" text NOT NULL,
	"apple_id" text NOT NULL,
	"available_in_new_territories" boolean,
	"territories" text[] NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone,
	CONSTRAINT "product_availability_project_id_product_apple_id_pk" PRIMARY KEY("project_id","product_apple_id")
);
--> statement-breakpoint
CREATE TABLE "product_localizations" (
	"project_id" text NOT NULL,
	"apple_id" text NOT NULL,
	"product_apple_id" text NOT NULL,
	"locale" text NOT NULL,
	"name" text,
	"description" text,
	"state" text,
	"raw" jsonb NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone,
	CONSTRAINT "product_localizations_project_id_apple_id_pk" PRIMARY KEY("project_id","apple_id")
);
--> statement-breakpoint
CREATE TABLE "product_offers" (
	"project_id" text NOT NULL,
	"apple_id" text NOT NULL,
	"product_apple_id" text NOT NULL,
	"kind" text NOT NULL,
	"territory" text,
	"name" text,
	"offer_mode" text,
	"duration" text,
	"number_of_periods" integer,
	"start_date" date,
	"end_date" date,
	"active" boolean,
	"eligibility" jsonb NOT NULL,
	"raw" jsonb NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone,
	CONSTRAINT "product_offers_project_id_apple_id_pk" PRIMARY KEY("project_id","apple_id")
);
--> statement-breakpoint
CREATE TABLE "product_prices" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"product_apple_id" text NOT NULL,
	"territory" text NOT NULL,
	"apple_id" text NOT NULL,
	"start_date" date,
	"end_date" date,
	"preserved" boolean,
	"source" text NOT NULL,
	"plan_type" text,
	"price_point_id" text,
	"currency" text,
	"customer_price" numeric,
	"proceeds" numeric,
	"proceeds_year2" numeric,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "territories" (
	"id" text PRIMARY KEY NOT NULL,
	"currency" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "products" ADD COLUMN "details_read_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "products" ADD COLUMN "details_requests" integer;--> statement-breakpoint
ALTER TABLE "offer_prices" ADD CONSTRAINT "offer_prices_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "product_availability" ADD CONSTRAINT "product_availability_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "product_localizations" ADD CONSTRAINT "product_localizations_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "product_offers" ADD CONSTRAINT "product_offers_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "product_prices" ADD CONSTRAINT "product_prices_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "product_localizations_product" ON "product_localizations" USING btree ("project_id","product_apple_id");--> statement-breakpoint
CREATE INDEX "product_offers_product" ON "product_offers" USING btree ("project_id","product_apple_id");--> statement-breakpoint
CREATE UNIQUE INDEX "product_prices_version" ON "product_prices" USING btree ("project_id","product_apple_id","territory",coalesce("start_date", '-infinity'::date));--> statement-breakpoint
CREATE INDEX "product_prices_lookup" ON "product_prices" USING btree ("project_id","product_apple_id","territory");