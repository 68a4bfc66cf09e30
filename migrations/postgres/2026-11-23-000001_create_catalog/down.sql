DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE item_availabilities;
DROP TABLE items;
DROP TABLE products;
