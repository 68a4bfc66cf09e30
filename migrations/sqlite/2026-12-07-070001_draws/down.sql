DROP TABLE draw_entry_details;
DROP INDEX draw_entries_account;
DROP INDEX draw_entries_product_state;
DROP INDEX draw_entries_one_per_account;
DROP TABLE draw_entries;
DROP TABLE draws;
