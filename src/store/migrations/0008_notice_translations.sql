-- Translations of the model bundle's notice, kept with each estimate; older rows stay NULL.
ALTER TABLE `estimates` ADD COLUMN `notice_translations` text;
