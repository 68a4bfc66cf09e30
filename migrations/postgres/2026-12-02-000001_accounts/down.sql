ALTER TABLE products DROP COLUMN max_per_customer;
DROP INDEX orders_account_id;
ALTER TABLE orders DROP COLUMN account_id;
DROP TABLE accounts;
