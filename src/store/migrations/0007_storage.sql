-- Reserved for a migration being written; replace this whole file, keeping its name.
SELECT 1;
