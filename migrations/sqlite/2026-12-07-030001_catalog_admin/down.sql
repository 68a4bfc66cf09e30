DROP TABLE image_variants;
DROP TABLE product_images;
ALTER TABLE items DROP COLUMN position;
DROP TABLE product_details;
ALTER TABLE products DROP COLUMN visibility;
