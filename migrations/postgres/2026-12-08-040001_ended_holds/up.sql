-- A hold that ended unpaid while its pair was in the cart (the sweep found it expired): the
-- cart keeps the line as a warning ("your hold ended", or "sold out" once the pair is gone)
-- until the shopper removes it or holds the pair again. Written by the sweep in the
-- transaction that returns the pair; rows older than a day are dropped by later sweeps.
CREATE TABLE ended_holds (
  holder TEXT NOT NULL,
  item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
  ended_at_ms BIGINT NOT NULL,
  PRIMARY KEY (holder, item_id)
);
CREATE INDEX ended_holds_ended_at_ms ON ended_holds (ended_at_ms);
