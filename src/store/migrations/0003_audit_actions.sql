PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_audit_log` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`actor` text NOT NULL,
	`at` text NOT NULL,
	`action` text NOT NULL,
	`case_id` text,
	`before` text,
	`after` text NOT NULL,
	FOREIGN KEY (`case_id`) REFERENCES `cases`(`case_id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "audit_log_actor_not_empty" CHECK(length("__new_audit_log"."actor") > 0),
	CONSTRAINT "audit_log_action_format" CHECK("__new_audit_log"."action" glob '[a-z]*.[a-z]*')
);
--> statement-breakpoint
INSERT INTO `__new_audit_log`("seq", "actor", "at", "action", "case_id", "before", "after") SELECT "seq", "actor", "at", "action", "case_id", "before", "after" FROM `audit_log`;--> statement-breakpoint
DROP TABLE `audit_log`;--> statement-breakpoint
ALTER TABLE `__new_audit_log` RENAME TO `audit_log`;--> statement-breakpoint
PRAGMA foreign_keys=ON;