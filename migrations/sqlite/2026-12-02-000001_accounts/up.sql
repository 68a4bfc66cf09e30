-- Shopper accounts. `cart_id` is the cart topic every signed-in browser shares; `cart_token` is
-- the account's signed cart (the truth for a signed-in shopper; a browser's cookie is a copy),
-- `cart_saved_ms` orders its writes.
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  cart_id TEXT NOT NULL UNIQUE,
  cart_token TEXT,
  cart_saved_ms BIGINT NOT NULL DEFAULT 0,
  inserted_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE orders ADD COLUMN account_id INTEGER REFERENCES accounts (id);
CREATE INDEX orders_account_id ON orders (account_id);

-- Pairs of this product one account may buy in all (NULL: no limit).
ALTER TABLE products ADD COLUMN max_per_customer INTEGER CHECK (max_per_customer > 0);
