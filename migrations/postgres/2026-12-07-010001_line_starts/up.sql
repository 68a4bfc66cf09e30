-- When each product's line was last turned on: admission is paced from the later of this and
-- the release, so a line turned on after the drop lets in from that moment at its rate, not its
-- whole backlog at once (and a product released without a release time still admits). Its own
-- table: products is at diesel's 16 columns.
CREATE TABLE line_starts (
  product_id INTEGER PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
  started_at TIMESTAMP NOT NULL
);
INSERT INTO line_starts (product_id, started_at)
  SELECT id, COALESCE(released_at, now() AT TIME ZONE 'utc') FROM products WHERE queue_enabled;
