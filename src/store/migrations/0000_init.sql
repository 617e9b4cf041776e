CREATE TABLE `cases` (
	`case_id` text PRIMARY KEY NOT NULL,
	`created_at` text NOT NULL,
	`height_cm` real NOT NULL,
	`weight_kg` real NOT NULL,
	`sex` text NOT NULL,
	`age_years` real,
	CONSTRAINT "cases_case_id_not_empty" CHECK(length("cases"."case_id") > 0),
	CONSTRAINT "cases_sex_valid" CHECK("cases"."sex" in ('female', 'male')),
	CONSTRAINT "cases_height_positive" CHECK("cases"."height_cm" > 0),
	CONSTRAINT "cases_weight_positive" CHECK("cases"."weight_kg" > 0)
);
--> statement-breakpoint
CREATE TABLE `estimates` (
	`estimate_id` text PRIMARY KEY NOT NULL,
	`case_id` text NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	`bv_ml` real NOT NULL,
	`bv_ml_per_kg` real NOT NULL,
	`lower_ml` real NOT NULL,
	`upper_ml` real NOT NULL,
	`nadler_ml` real NOT NULL,
	`model_name` text NOT NULL,
	`model_version` text NOT NULL,
	`intended_use` text NOT NULL,
	`notice` text NOT NULL,
	`execution_provider` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`case_id`) REFERENCES `cases`(`case_id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "estimates_revision_positive" CHECK("estimates"."revision" >= 1)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `estimates_case_revision` ON `estimates` (`case_id`,`revision`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`message_id` text NOT NULL,
	`topic` text NOT NULL,
	`payload` text NOT NULL,
	`qos` integer DEFAULT 1 NOT NULL,
	`created_at` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	CONSTRAINT "outbox_topic_not_empty" CHECK(length("outbox"."topic") > 0),
	CONSTRAINT "outbox_qos_valid" CHECK("outbox"."qos" in (0, 1, 2))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_message_id_unique` ON `outbox` (`message_id`);--> statement-breakpoint
CREATE TABLE `views` (
	`case_id` text NOT NULL,
	`view` text NOT NULL,
	`position` integer NOT NULL,
	`source_file` text NOT NULL,
	`image_x` integer NOT NULL,
	`image_y` integer NOT NULL,
	`image_width` integer NOT NULL,
	`image_height` integer NOT NULL,
	`seed_x` real NOT NULL,
	`seed_y` real NOT NULL,
	`seeded` integer NOT NULL,
	`frame_count` integer NOT NULL,
	`fps` real NOT NULL,
	`duration_s` real NOT NULL,
	`mm_per_pixel` real NOT NULL,
	`measurements` text NOT NULL,
	`area_series_mm2` text NOT NULL,
	`features` text NOT NULL,
	PRIMARY KEY(`case_id`, `view`),
	FOREIGN KEY (`case_id`) REFERENCES `cases`(`case_id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "views_view_valid" CHECK("views"."view" in ('ijv', 'scv', 'ivc', 'ca'))
);
