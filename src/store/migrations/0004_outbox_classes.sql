-- Message classes in the outbox, and totals that the bounds read without scanning the table.
ALTER TABLE `outbox` ADD `kind` text DEFAULT 'estimate' NOT NULL CONSTRAINT "outbox_kind_valid" CHECK("kind" in ('estimate', 'training', 'event', 'telemetry'));--> statement-breakpoint
UPDATE `outbox` SET `kind` = 'training' WHERE `topic` LIKE '%/training';--> statement-breakpoint
CREATE INDEX `outbox_kind_created` ON `outbox` (`kind`,`created_at`);--> statement-breakpoint
CREATE TABLE `outbox_totals` (
	`id` integer PRIMARY KEY NOT NULL,
	`rows` integer NOT NULL,
	`bytes` integer NOT NULL,
	`droppable_rows` integer NOT NULL,
	`droppable_bytes` integer NOT NULL,
	`dropped` integer NOT NULL,
	CONSTRAINT "outbox_totals_single_row" CHECK("outbox_totals"."id" = 0)
);
--> statement-breakpoint
INSERT INTO `outbox_totals` (`id`, `rows`, `bytes`, `droppable_rows`, `droppable_bytes`, `dropped`)
	SELECT 0, count(*), coalesce(sum(length(CAST(`payload` AS BLOB))), 0), 0, 0, 0 FROM `outbox`;--> statement-breakpoint
CREATE TRIGGER `outbox_totals_insert` AFTER INSERT ON `outbox` BEGIN
	UPDATE `outbox_totals` SET
		`rows` = `rows` + 1,
		`bytes` = `bytes` + length(CAST(NEW.`payload` AS BLOB)),
		`droppable_rows` = `droppable_rows` + (NEW.`kind` in ('telemetry', 'event')),
		`droppable_bytes` = `droppable_bytes` + (NEW.`kind` in ('telemetry', 'event')) * length(CAST(NEW.`payload` AS BLOB))
	WHERE `id` = 0;
END;--> statement-breakpoint
CREATE TRIGGER `outbox_totals_delete` AFTER DELETE ON `outbox` BEGIN
	UPDATE `outbox_totals` SET
		`rows` = `rows` - 1,
		`bytes` = `bytes` - length(CAST(OLD.`payload` AS BLOB)),
		`droppable_rows` = `droppable_rows` - (OLD.`kind` in ('telemetry', 'event')),
		`droppable_bytes` = `droppable_bytes` - (OLD.`kind` in ('telemetry', 'event')) * length(CAST(OLD.`payload` AS BLOB))
	WHERE `id` = 0;
END;--> statement-breakpoint
-- Rows are only inserted and deleted; an update of kind or payload is rejected, so the totals stay true.
CREATE TRIGGER `outbox_payload_kind_fixed` BEFORE UPDATE OF `payload`, `kind` ON `outbox` BEGIN
	SELECT RAISE(ABORT, 'outbox payload and kind cannot change; delete the row and queue a new one');
END;
