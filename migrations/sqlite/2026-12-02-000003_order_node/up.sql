-- The node that took the order, for the admin's order list and export.
ALTER TABLE orders ADD COLUMN node TEXT;
