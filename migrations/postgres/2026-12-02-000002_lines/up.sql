-- Waiting lines. `holder` is the shopper's cart id (an account's is shared by all its browsers).
-- Entries that joined before the drop (`early`) are ordered by `shuffle_key`, an HMAC of the
-- holder under a server secret, kept so the draw can be audited; later ones by arrival (`id`).
ALTER TABLE products ADD COLUMN queue_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE products ADD COLUMN admit_per_minute INTEGER NOT NULL DEFAULT 60 CHECK (admit_per_minute > 0);

ALTER TABLE products ADD COLUMN released_at TIMESTAMP;

CREATE TABLE line_entries (
  id SERIAL PRIMARY KEY,
  product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  holder TEXT NOT NULL,
  early BOOLEAN NOT NULL,
  shuffle_key TEXT,
  joined_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  admitted_at TIMESTAMP,
  -- When the shopper was last seen waiting (an open page, a refresh of the line page).
  last_seen_at TIMESTAMP,
  UNIQUE (product_id, holder)
);
