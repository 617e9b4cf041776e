CREATE TABLE `hl7_outbox` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`control_id` text NOT NULL,
	`case_id` text NOT NULL,
	`estimate_id` text NOT NULL,
	`message` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`created_at` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` text NOT NULL,
	`last_error` text,
	`ack_code` text,
	`acked_at` text,
	CONSTRAINT "hl7_outbox_status_valid" CHECK("hl7_outbox"."status" in ('pending', 'delivered', 'rejected')),
	CONSTRAINT "hl7_outbox_control_id_not_empty" CHECK(length("hl7_outbox"."control_id") > 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `hl7_outbox_control_id_unique` ON `hl7_outbox` (`control_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `hl7_outbox_estimate_id_unique` ON `hl7_outbox` (`estimate_id`);--> statement-breakpoint
CREATE INDEX `hl7_outbox_pending` ON `hl7_outbox` (`status`,`seq`);--> statement-breakpoint
CREATE TABLE `hl7_mrns` (
	`case_id` text PRIMARY KEY NOT NULL,
	`mrn` text NOT NULL,
	`entered_at` text NOT NULL,
	`delete_after` text,
	CONSTRAINT "hl7_mrns_mrn_not_empty" CHECK(length("hl7_mrns"."mrn") > 0)
);
