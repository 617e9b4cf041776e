CREATE TABLE `workflow_cases` (
	`case_id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`step` text NOT NULL,
	`active_view` text,
	`covariates` text NOT NULL,
	`hb_preop_gdl` real,
	`required_views` text NOT NULL,
	`pending_attempt` text,
	`estimate` text,
	`opened_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`ended_at` text,
	CONSTRAINT "workflow_cases_case_id_not_empty" CHECK(length("workflow_cases"."case_id") > 0),
	CONSTRAINT "workflow_cases_status_valid" CHECK("workflow_cases"."status" in ('open', 'closed', 'abandoned')),
	CONSTRAINT "workflow_cases_step_valid" CHECK("workflow_cases"."step" in ('idle', 'recording', 'analysing', 'review'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `workflow_cases_one_open` ON `workflow_cases` (`status`) WHERE status = 'open';--> statement-breakpoint
CREATE TABLE `workflow_views` (
	`case_id` text NOT NULL,
	`view` text NOT NULL,
	`attempt_id` text NOT NULL,
	`accepted_at` text NOT NULL,
	`result` text NOT NULL,
	PRIMARY KEY(`case_id`, `view`),
	FOREIGN KEY (`case_id`) REFERENCES `workflow_cases`(`case_id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "workflow_views_view_valid" CHECK("workflow_views"."view" in ('ijv', 'scv', 'ivc', 'ca'))
);
