CREATE TABLE `model_installs` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`source` text NOT NULL,
	`archive_sha256` text,
	`name` text,
	`version` text,
	`key_id` text,
	`state` text NOT NULL,
	`reason_code` text,
	`reason` text,
	`started_at` text NOT NULL,
	`finished_at` text,
	CONSTRAINT "model_installs_source_valid" CHECK("model_installs"."source" in ('file', 'url', 'chunks')),
	CONSTRAINT "model_installs_state_valid" CHECK("model_installs"."state" in ('installing', 'installed', 'rejected'))
);
--> statement-breakpoint
CREATE TABLE `model_transfers` (
	`transfer_id` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`sha256` text NOT NULL,
	`chunk_size` integer NOT NULL,
	`chunk_count` integer NOT NULL,
	`next_index` integer NOT NULL,
	`received_bytes` integer NOT NULL,
	`activate` integer NOT NULL,
	`requested_by` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	CONSTRAINT "model_transfers_id_format" CHECK("model_transfers"."transfer_id" not glob '*[^A-Za-z0-9_-]*' and length("model_transfers"."transfer_id") between 1 and 64),
	CONSTRAINT "model_transfers_progress_valid" CHECK("model_transfers"."next_index" between 0 and "model_transfers"."chunk_count" and "model_transfers"."received_bytes" between 0 and "model_transfers"."size")
);
