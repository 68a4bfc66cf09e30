-- Products prepared and edited by admins. `visibility`: a `draft` is hidden from shoppers, a
-- `listed` product is shown (coming soon, scheduled or on sale, as `released` and `release_at`
-- say), an `archived` one is off the store for good but kept for its orders.
ALTER TABLE products ADD COLUMN visibility TEXT NOT NULL DEFAULT 'listed'
  CHECK (visibility IN ('draft', 'listed', 'archived'));

-- What admins write about a product beyond what shoppers buy by (a table of its own: the
-- products row is at diesel's 16 columns). `revision` grows with every admin edit, so an edit
-- made on a stale copy is refused instead of overwriting. A product without a row has an
-- empty description at revision 0.
CREATE TABLE product_details (
  product_id INTEGER PRIMARY KEY NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  description TEXT NOT NULL DEFAULT '',
  revision INTEGER NOT NULL DEFAULT 0
);
INSERT INTO product_details (product_id) SELECT id FROM products;

-- The order an admin put the sizes in (ties: by size, as before).
ALTER TABLE items ADD COLUMN position INTEGER NOT NULL DEFAULT 0;

-- Pictures live in the database: the only storage every node shares and that survives an
-- ephemeral disk. An upload is one `product_images` row (its place among the product's
-- pictures: the first is the main one) with one `image_variants` row per size the pages show,
-- each re-encoded by the store and named by the hash of its bytes.
CREATE TABLE product_images (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  position INTEGER NOT NULL DEFAULT 0,
  width INTEGER NOT NULL CHECK (width > 0),
  height INTEGER NOT NULL CHECK (height > 0),
  inserted_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX product_images_product_id ON product_images (product_id);

CREATE TABLE image_variants (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  image_id INTEGER NOT NULL REFERENCES product_images (id) ON DELETE CASCADE,
  width INTEGER NOT NULL CHECK (width > 0),
  height INTEGER NOT NULL CHECK (height > 0),
  content_type TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  bytes BLOB NOT NULL,
  UNIQUE (image_id, width)
);
