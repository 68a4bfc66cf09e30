DROP TABLE line_entries;
ALTER TABLE products DROP COLUMN released_at;
ALTER TABLE products DROP COLUMN admit_per_minute;
ALTER TABLE products DROP COLUMN queue_enabled;
