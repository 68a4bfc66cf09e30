-- Pairs held for a shopper while they pay. A hold has already taken its pair out of
-- item_availabilities.available_count (what anyone else may still take); it ends by being sold
-- (deleted with its order paid), or by returning the pair (deleted with the count put back).
-- `expires_at_ms` (Unix ms) is the truth every node sweeps by, so a killed node's holds still end.
CREATE TABLE holds (
  id SERIAL PRIMARY KEY,
  item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
  holder TEXT NOT NULL,
  account_id INTEGER REFERENCES accounts (id),
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
  expires_at_ms BIGINT NOT NULL,
  -- Starting checkout extends a hold once.
  extended BOOLEAN NOT NULL DEFAULT FALSE,
  -- The order paying for it, once checkout started.
  order_id INTEGER REFERENCES orders (id),
  inserted_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  UNIQUE (holder, item_id)
);
CREATE INDEX holds_expires_at_ms ON holds (expires_at_ms);
CREATE INDEX holds_order_id ON holds (order_id);
CREATE INDEX holds_account_id ON holds (account_id);

-- Orders live on: pending_payment -> paid -> fulfilled, or cancelled / refunded. Orders placed
-- before payments existed were bought outright: paid.
ALTER TABLE orders ADD COLUMN state TEXT NOT NULL DEFAULT 'paid';
ALTER TABLE orders ADD COLUMN email TEXT;
ALTER TABLE orders ADD COLUMN ship_name TEXT;
ALTER TABLE orders ADD COLUMN ship_line1 TEXT;
ALTER TABLE orders ADD COLUMN ship_line2 TEXT;
ALTER TABLE orders ADD COLUMN ship_city TEXT;
ALTER TABLE orders ADD COLUMN ship_postal_code TEXT;
ALTER TABLE orders ADD COLUMN ship_country TEXT;
ALTER TABLE orders ADD COLUMN tracking TEXT;
-- The provider's reference of the payment that paid it (or of the latest attempt).
ALTER TABLE orders ADD COLUMN payment_ref TEXT;
CREATE INDEX orders_state ON orders (state);

-- Every change of an order's state: when, and who (NULL: the store itself).
CREATE TABLE order_events (
  id SERIAL PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  state TEXT NOT NULL,
  actor TEXT,
  note TEXT,
  at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX order_events_order_id ON order_events (order_id);

-- Payment attempts at the provider, one row per attempt (a declined card is retried as a new
-- attempt). `status`: created | succeeded | requires_capture | declined | canceled.
CREATE TABLE payments (
  id SERIAL PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  ref TEXT NOT NULL UNIQUE,
  idempotency_key TEXT NOT NULL UNIQUE,
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  status TEXT NOT NULL,
  decline_code TEXT,
  refund_ref TEXT,
  inserted_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX payments_order_id ON payments (order_id);
CREATE INDEX payments_status ON payments (status);

-- The built-in test gateway's own ledger: what it charged, kept apart from the orders as a
-- provider's books are (so a node killed between charge and commit leaves a charge to find).
CREATE TABLE test_gateway_charges (
  id SERIAL PRIMARY KEY,
  ref TEXT NOT NULL UNIQUE,
  idempotency_key TEXT NOT NULL UNIQUE,
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  currency TEXT NOT NULL,
  manual_capture BOOLEAN NOT NULL,
  status TEXT NOT NULL,
  decline_code TEXT,
  card_last4 TEXT,
  refunded_cents INTEGER NOT NULL DEFAULT 0,
  inserted_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- The shipping address an account used last, offered at its next checkout.
ALTER TABLE accounts ADD COLUMN ship_name TEXT;
ALTER TABLE accounts ADD COLUMN ship_line1 TEXT;
ALTER TABLE accounts ADD COLUMN ship_line2 TEXT;
ALTER TABLE accounts ADD COLUMN ship_city TEXT;
ALTER TABLE accounts ADD COLUMN ship_postal_code TEXT;
ALTER TABLE accounts ADD COLUMN ship_country TEXT;
