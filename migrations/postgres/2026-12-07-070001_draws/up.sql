-- A product sold by draw: its entry window, and once closed the secret that ranks the entries
-- (published with the entry hashes). `state`: scheduled (window not closed or draw not started)
-- | drawing (a node holds the claim until `claimed_until_ms`; another takes over after it) |
-- drawn. The claim makes the draw run once cluster-wide and lets a dead node's draw resume.
CREATE TABLE draws (
  product_id INTEGER PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
  opens_at_ms BIGINT NOT NULL,
  closes_at_ms BIGINT NOT NULL CHECK (closes_at_ms > opens_at_ms),
  state TEXT NOT NULL DEFAULT 'scheduled',
  secret TEXT,
  claimed_by TEXT,
  claimed_until_ms BIGINT,
  drawn_at_ms BIGINT
);

-- One row per entry. `state`: authorising (the card is being authorised) | entered |
-- withdrawn | void (`void_reason`) | won | passed_over (its capture failed) | lost.
-- `hash` is the entry's public name, fixed when it is made (the payment's idempotency key is
-- made from it); `place` its place in the draw; `released_ms` when the authorisation of an
-- entry that was not charged was let go at the provider.
CREATE TABLE draw_entries (
  id SERIAL PRIMARY KEY,
  product_id INTEGER NOT NULL REFERENCES draws (product_id) ON DELETE CASCADE,
  item_id INTEGER NOT NULL REFERENCES items (id),
  account_id INTEGER NOT NULL REFERENCES accounts (id),
  holder TEXT NOT NULL,
  address_key TEXT NOT NULL,
  card_fingerprint TEXT NOT NULL,
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  payment_ref TEXT,
  hash TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  void_reason TEXT,
  place INTEGER,
  order_id INTEGER REFERENCES orders (id),
  created_ms BIGINT NOT NULL,
  released_ms BIGINT
);
-- One live entry per account and draw: a withdrawn one leaves room for a new entry.
CREATE UNIQUE INDEX draw_entries_one_per_account ON draw_entries (product_id, account_id)
  WHERE state <> 'withdrawn';
CREATE INDEX draw_entries_product_state ON draw_entries (product_id, state);
CREATE INDEX draw_entries_account ON draw_entries (account_id);

-- Where a winner's pair goes and what paid: read for the winner's order and the admins' CSV.
CREATE TABLE draw_entry_details (
  entry_id INTEGER PRIMARY KEY REFERENCES draw_entries (id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  ship_name TEXT NOT NULL,
  ship_line1 TEXT NOT NULL,
  ship_line2 TEXT NOT NULL,
  ship_city TEXT NOT NULL,
  ship_postal_code TEXT NOT NULL,
  ship_country TEXT NOT NULL,
  card_last4 TEXT,
  provider TEXT NOT NULL
);
