CREATE TABLE products (
  id SERIAL PRIMARY KEY,
  sku TEXT NOT NULL UNIQUE,
  brand TEXT NOT NULL,
  name TEXT NOT NULL,
  color TEXT NOT NULL,
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
  main_image_url TEXT NOT NULL,
  released BOOLEAN NOT NULL DEFAULT FALSE,
  release_at TIMESTAMP,
  inserted_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE items (
  id SERIAL PRIMARY KEY,
  product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  size TEXT NOT NULL,
  sku TEXT NOT NULL UNIQUE,
  inserted_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  UNIQUE (product_id, size)
);

-- `version` grows with every write so that caches apply counts in order.
CREATE TABLE item_availabilities (
  id SERIAL PRIMARY KEY,
  item_id INTEGER NOT NULL UNIQUE REFERENCES items (id) ON DELETE CASCADE,
  available_count INTEGER NOT NULL CHECK (available_count >= 0),
  version BIGINT NOT NULL DEFAULT 0,
  inserted_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE orders (
  id SERIAL PRIMARY KEY,
  cart_id TEXT NOT NULL,
  total_cents INTEGER NOT NULL,
  inserted_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE order_items (
  id SERIAL PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  item_id INTEGER NOT NULL REFERENCES items (id),
  price_cents INTEGER NOT NULL,
  inserted_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE INDEX items_product_id ON items (product_id);
CREATE INDEX order_items_order_id ON order_items (order_id);
CREATE INDEX orders_cart_id ON orders (cart_id);
