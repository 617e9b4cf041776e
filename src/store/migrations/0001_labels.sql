CREATE TABLE `anh_labels` (
	`label_id` text PRIMARY KEY NOT NULL,
	`case_id` text NOT NULL,
	`method` text NOT NULL,
	`bv_ml` real NOT NULL,
	`inputs_canonical` text NOT NULL,
	`warnings` text NOT NULL,
	`entered_by` text NOT NULL,
	`entered_at` text NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	FOREIGN KEY (`case_id`) REFERENCES `cases`(`case_id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "anh_labels_method_valid" CHECK("anh_labels"."method" in ('single-step', 'continuous-exchange', 'bag-hemoglobin')),
	CONSTRAINT "anh_labels_bv_positive" CHECK("anh_labels"."bv_ml" > 0),
	CONSTRAINT "anh_labels_entered_by_not_empty" CHECK(length("anh_labels"."entered_by") > 0),
	CONSTRAINT "anh_labels_revision_positive" CHECK("anh_labels"."revision" >= 1)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `anh_labels_case_method` ON `anh_labels` (`case_id`,`method`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`actor` text NOT NULL,
	`at` text NOT NULL,
	`action` text NOT NULL,
	`case_id` text NOT NULL,
	`before` text,
	`after` text NOT NULL,
	FOREIGN KEY (`case_id`) REFERENCES `cases`(`case_id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "audit_log_actor_not_empty" CHECK(length("audit_log"."actor") > 0),
	CONSTRAINT "audit_log_action_valid" CHECK("audit_log"."action" in ('label.create', 'label.update'))
);
--> statement-breakpoint
ALTER TABLE `cases` ADD `hb_preop_gdl` real;--> statement-breakpoint
ALTER TABLE `estimates` ADD `in_population` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `estimates` ADD `population_reasons` text DEFAULT '["population not checked: estimate stored before the check existed"]' NOT NULL;